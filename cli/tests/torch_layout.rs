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

/// The fixture's tensor `name` as f32s (little-endian in the file) with its shape.
fn expected(name: &str) -> (Vec<f32>, Vec<usize>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paper-32-expected.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor(name).unwrap();
    let values = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (values, view.shape().to_vec())
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Files written by PyTorch itself (bench/paper_layout.py --fixture: networks in the public
/// code's layout, initialised by PyTorch, saved as a Lightning checkpoint and as a plain state
/// dict in the legacy pickle format), imported, draw and encode what PyTorch computed with them.
/// This needs no torch: the fixture carries PyTorch's results.
#[test]
fn import_reads_pytorch_files_and_computes_what_pytorch_computed() {
    use burn::prelude::Device;
    use burn::tensor::{Tensor, TensorData};

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let mut models = Vec::new();
    for (file, container) in [
        ("paper-32.ckpt", "a PyTorch Lightning checkpoint"),
        ("paper-32-state-dict.pt", "a PyTorch state dict"),
    ] {
        let out = dir.path().join(format!("{file}.bpk"));
        let said = ok(&[
            "import",
            fixtures.join(file).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(said.contains(container), "{said}");
        assert!(
            said.contains("32x32, 1 channel, width 4, L = 2, M = 3"),
            "{said}"
        );
        models.push(std::fs::read(&out).unwrap());
    }
    let device = Device::flex();
    let model = dinfogan::InferenceModel::from_bytes(&models[0], &device).unwrap();
    let (codes, shape) = expected("codes");
    assert_eq!(shape, [6, 5]);
    let (z, s): (Vec<f32>, Vec<f32>) = (
        codes.chunks(5).flat_map(|c| c[..2].to_vec()).collect(),
        codes.chunks(5).flat_map(|c| c[2..].to_vec()).collect(),
    );
    // G: tanh outputs in [-1, 1]; both sum the same products in another order (f32).
    let (images, shape) = expected("images");
    assert_eq!(shape, [6, 1, 32, 32]);
    let drawn: Vec<f32> = model
        .generate_from(&z, &s)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let worst = largest_difference(&drawn, &images);
    assert!(worst < 1e-5, "G differs from PyTorch's by up to {worst}");
    // The Lightning checkpoint's optimiser states and counters are not weights: the state
    // dict gives the same networks (the files differ only in burn's parameter ids).
    let other: Vec<f32> = dinfogan::InferenceModel::from_bytes(&models[1], &device)
        .unwrap()
        .generate_from(&z, &s)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(drawn, other, "both files hold the same networks");
    // A misplaced tensor moves the images by their own size, far above the tolerance: the
    // check can fail.
    let size = largest_difference(&drawn, &vec![0.0; drawn.len()]);
    assert!(
        size > 100.0 * 1e-5,
        "the images are too faint to tell: {size}"
    );

    // D's encoder: the codes PyTorch gave G's images, from the same images.
    let (encoded, _) = expected("encoded");
    let input = Tensor::from_data(TensorData::new(images, [6, 1, 32, 32]), &device);
    let (zc, sc) = model.encode(input).unwrap();
    let (zc, sc): (Vec<f32>, Vec<f32>) = (
        zc.into_data().try_to_vec::<f32>().unwrap(),
        sc.into_data().try_to_vec::<f32>().unwrap(),
    );
    let ours: Vec<f32> = (0..6)
        .flat_map(|i| {
            zc[2 * i..2 * i + 2]
                .iter()
                .chain(&sc[3 * i..3 * i + 3])
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let worst = largest_difference(&ours, &encoded);
    assert!(
        worst < 1e-4,
        "the codes differ from PyTorch's by up to {worst}"
    );
}

/// Files that are not the paper's networks get a sentence naming what is wrong.
#[test]
fn import_names_what_is_wrong_with_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.bpk");
    let out = out.to_str().unwrap();
    let write = |name: &str, tensors: Vec<(&str, Vec<usize>)>| {
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(n, shape)| {
                let len: usize = shape.iter().product();
                (n.to_string(), shape, vec![0u8; 4 * len])
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = data
            .iter()
            .map(|(n, shape, bytes)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        shape.clone(),
                        bytes,
                    )
                    .unwrap(),
                )
            })
            .collect();
        let path = dir.path().join(name);
        std::fs::write(&path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let trunk = || {
        vec![
            ("discriminator.conv1.weight", vec![4, 1, 4, 4]),
            ("discriminator.conv2.weight", vec![8, 4, 4, 4]),
            ("discriminator.bn2.weight", vec![8]),
            ("discriminator.conv3.weight", vec![16, 8, 4, 4]),
            ("discriminator.bn3.weight", vec![16]),
            ("discriminator.z_conv.weight", vec![2, 16, 4, 4]),
            ("discriminator.s_conv.weight", vec![3, 16, 4, 4]),
        ]
    };
    let junk = dir.path().join("junk.pt");
    std::fs::write(&junk, b"this is not a model at all").unwrap();
    fails(
        &["import", junk.to_str().unwrap(), "--out", out],
        "is neither a PyTorch file (torch.save) nor a safetensors file",
    );
    let other = write("other.safetensors", vec![("encoder.fc.weight", vec![3, 3])]);
    fails(
        &["import", &other, "--out", out],
        "has no `discriminator.conv1.weight`: it is not a model of the paper's public code",
    );
    let incomplete = write("trunk.safetensors", trunk());
    fails(
        &["import", &incomplete, "--out", out],
        "lacks `generator.main.0.weight` (generator of a 32x32 model with width 4, L = 2, M = 3)",
    );
    let mut wrong = trunk();
    wrong.push(("generator.main.0.weight", vec![5, 16, 4, 5]));
    let wrong = write("wrong.safetensors", wrong);
    fails(
        &["import", &wrong, "--out", out],
        "`generator.main.0.weight` has shape [5, 16, 4, 5] (F32), and the paper's network with this \
         file's width 4, channels 1, L = 2 and M = 3 needs [5, 16, 4, 4]",
    );
    let five = write(
        "five.safetensors",
        vec![
            ("discriminator.conv1.weight", vec![4, 1, 4, 4]),
            ("discriminator.bn2.weight", vec![8]),
            ("discriminator.bn3.weight", vec![16]),
            ("discriminator.bn4.weight", vec![32]),
            ("discriminator.bn5.weight", vec![64]),
            ("discriminator.z_conv.weight", vec![2, 64, 4, 4]),
            ("discriminator.s_conv.weight", vec![3, 64, 4, 4]),
        ],
    );
    fails(
        &["import", &five, "--out", out],
        "has 5 convolutions in D's trunk: the paper's Table 4 networks have 4 (64x64) or 3 (32x32)",
    );
}

/// `export --format safetensors` then `import` gives back the model `export` writes: the same
/// images for the same seed (the configuration from the file's metadata).
#[test]
fn an_export_imports_back_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = trained_run(dir.path());
    let (file, model) = (dir.path().join("m.safetensors"), dir.path().join("m.bpk"));
    ok(&[
        "export",
        "--checkpoint",
        run.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        file.to_str().unwrap(),
    ]);
    let said = ok(&[
        "import",
        file.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        said.contains("a safetensors file; 32x32, 3 channels, width 4"),
        "{said}"
    );
    let grids: Vec<Vec<u8>> = [&run, &model]
        .iter()
        .map(|checkpoint| {
            let png = dir.path().join("g.png");
            ok(&[
                "generate",
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--seed",
                "3",
                "--out",
                png.to_str().unwrap(),
            ]);
            std::fs::read(&png).unwrap()
        })
        .collect();
    assert!(
        grids[0] == grids[1],
        "the imported model draws another grid"
    );
}
