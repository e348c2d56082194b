//! `dinfogan export --format safetensors`, read by PyTorch: `bench/paper_layout.py` loads the
//! file (strictly: every tensor named and shaped as the paper's public code has it) into G and D
//! modules laid out as that code lays them out, then draws G(z, s) for codes the CLI encoded and
//! encodes the same images with D. Both must agree with the CLI (`generate --codes`, `encode`).
//!
//! It needs a Python with torch, safetensors, numpy and Pillow: $DINFOGAN_TORCH_PYTHON, else
//! python3. Where none has them (the CI machine, which does not install torch), it says so and
//! passes; the rest of the export (names, metadata, refusals) is tested without Python.

use std::path::Path;
use std::process::Command;

mod common;
use common::{fails, ok};

/// Six 32x32 colour images per domain, different from each other, written as PNG files.
fn write_folder(root: &Path) {
    for (domain, shift) in [("background", 0u32), ("target", 97)] {
        let dir = root.join(domain);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..6u32 {
            let image = image::RgbImage::from_fn(32, 32, |x, y| {
                let v = |a: u32| ((a * 37 + x * 11 + y * 7 * (k + 1) + shift) % 256) as u8;
                image::Rgb([v(k), v(k + 3), v(2 * k + 5)])
            });
            image.save(dir.join(format!("{k}.png"))).unwrap();
        }
    }
}

fn trained_run(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let folder = dir.join("images");
    write_folder(&folder);
    let run = dir.join("run");
    ok(&[
        "train",
        "--data",
        folder.to_str().unwrap(),
        "--size",
        "32",
        "--width",
        "4",
        "--batch-size",
        "4",
        "--backend",
        "cpu",
        "--steps",
        "4",
        "--sample-every",
        "0",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    (folder, run)
}

/// A Python that can run bench/paper_layout.py, if there is one here.
fn torch_python() -> Option<String> {
    let python = std::env::var("DINFOGAN_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import torch, safetensors, numpy, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some(python)
}

/// The CSV's z_* and s_* columns, row by row.
fn codes(path: &Path) -> Vec<Vec<f32>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("z_") || h.starts_with("s_"))
        .map(|(i, _)| i)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            columns.iter().map(|&c| r[c].parse().unwrap()).collect()
        })
        .collect()
}

#[test]
fn pytorch_loads_the_export_and_draws_and_encodes_as_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, run) = trained_run(dir.path());
    let file = dir.path().join("model.safetensors");
    ok(&[
        "export",
        "--checkpoint",
        run.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        file.to_str().unwrap(),
    ]);
    let encoded = dir.path().join("codes.csv");
    ok(&[
        "encode",
        "--checkpoint",
        run.to_str().unwrap(),
        "--data",
        folder.to_str().unwrap(),
        "--out",
        encoded.to_str().unwrap(),
    ]);
    let cols = 4;
    let sheet = dir.path().join("g.png");
    ok(&[
        "generate",
        "--checkpoint",
        run.to_str().unwrap(),
        "--codes",
        encoded.to_str().unwrap(),
        "--cols",
        &cols.to_string(),
        "--scale",
        "1",
        "--out",
        sheet.to_str().unwrap(),
    ]);
    let Some(python) = torch_python() else {
        eprintln!("skipped: no Python with torch, safetensors, numpy and Pillow (set DINFOGAN_TORCH_PYTHON)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/paper_layout.py");
    let (drawn, torch_codes) = (dir.path().join("g.npy"), dir.path().join("torch.csv"));
    let out = Command::new(&python)
        .arg(&script)
        .arg(&file)
        .args([
            "--codes",
            encoded.to_str().unwrap(),
            "--images-out",
            drawn.to_str().unwrap(),
        ])
        .args(["--encode-out", torch_codes.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // D: the codes of the same 12 images. Both sum the same products in another order (f32):
    // the codes agree to about 1e-6 of their size; 1e-4 leaves room and would catch any
    // misplaced tensor, which changes them by their own size.
    let (ours, theirs) = (codes(&encoded), codes(&torch_codes));
    assert_eq!(ours.len(), 12);
    assert_eq!(ours.len(), theirs.len());
    let worst = ours
        .iter()
        .zip(&theirs)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "codes differ by up to {worst}");

    // G: the same images, as bytes. A value within 1e-5 of a rounding boundary may round the
    // other way: at most one step, and rarely.
    let bytes = std::fs::read(&drawn).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[12, 3, 32, 32]);
    let torch: Vec<u8> = npy.into_vec().unwrap();
    let png = image::open(&sheet).unwrap().to_rgb8();
    let (mut max, mut off) = (0u8, 0usize);
    for n in 0..12 {
        let (x0, y0) = (2 + (n % cols) * 34, 2 + (n / cols) * 34);
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let ours = png.get_pixel((x0 + x) as u32, (y0 + y) as u32)[c];
                    let theirs = torch[((n * 3 + c) * 32 + y) * 32 + x];
                    let d = ours.abs_diff(theirs);
                    max = max.max(d);
                    off += usize::from(d > 0);
                }
            }
        }
    }
    assert!(max <= 1, "G's pixels differ by up to {max}");
    assert!(off * 1000 < 12 * 3 * 32 * 32, "{off} pixels differ");
}

#[test]
fn the_export_refuses_what_the_paper_code_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = trained_run(dir.path());
    let model = dir.path().join("model.bpk");
    ok(&[
        "export",
        "--checkpoint",
        run.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    let out = dir.path().join("x.safetensors");
    let out = out.to_str().unwrap();
    fails(
        &[
            "export",
            "--checkpoint",
            model.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            out,
        ],
        "already a model file; --checkpoint takes a run folder",
    );
    // A baseline has no discriminator to write.
    let vae = dir.path().join("vae");
    ok(&[
        "train",
        "--model",
        "cvae",
        "--width",
        "4",
        "--batch-size",
        "4",
        "--steps",
        "1",
        "--sample-every",
        "0",
        "--quiet",
        "--backend",
        "cpu",
        "--out",
        vae.to_str().unwrap(),
    ]);
    fails(
        &[
            "export",
            "--checkpoint",
            vae.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            out,
        ],
        "writes the paper's Double InfoGAN networks, and this run trained cVAE",
    );
    // The Table 5 network (128x128) has no counterpart in the public code.
    let mri = dir.path().join("mri");
    ok(&[
        "train",
        "--size",
        "128",
        "--channels",
        "1",
        "--width",
        "2",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--sample-every",
        "0",
        "--quiet",
        "--backend",
        "cpu",
        "--out",
        mri.to_str().unwrap(),
    ]);
    fails(
        &[
            "export",
            "--checkpoint",
            mri.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            out,
        ],
        "has no 128x128 network",
    );
    // Codes for generate: a file lacking a column says which.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "z_0,z_1\n0.5,1.0\n").unwrap();
    fails(
        &[
            "generate",
            "--checkpoint",
            run.to_str().unwrap(),
            "--codes",
            bad.to_str().unwrap(),
            "--out",
            out,
        ],
        "has no column z_2",
    );
}
