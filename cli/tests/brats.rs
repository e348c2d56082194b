//! Brain MRI end to end, on NIfTI volumes the test writes itself (a synthetic head with a
//! tumour ball) and read through the real reader: `data build brats` (split by subject),
//! training the Table 5 network with `--preset brats`, resume, export, and `eval lesion`.

use std::path::Path;

mod common;
use common::{fails, ok};

#[path = "../src/data/synthetic_nifti.rs"]
mod synthetic_nifti;
use synthetic_nifti::{synthetic_head, write_nifti, IDENTITY};

/// x, y, z of the synthetic volumes: not square (the slices are padded), 24 axial slices.
const DIMS: [usize; 3] = [40, 48, 24];

/// A BraTS-layout subject folder; with a tumour ball centred on axial slice `tumour_z`, at an
/// x that differs from subject to subject (so that their target slices differ).
fn write_subject(root: &Path, name: &str, tumour_z: Option<(f32, f32)>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let tumour = tumour_z.map(|(x, z)| ([x, 26.0, z], 5.0));
    let (image, seg) = synthetic_head(DIMS, tumour);
    write_nifti(
        &dir.join(format!("{name}_t1.nii.gz")),
        DIMS,
        &image,
        IDENTITY,
        true,
    )
    .unwrap();
    if tumour_z.is_some() {
        write_nifti(
            &dir.join(format!("{name}_seg.nii.gz")),
            DIMS,
            &seg,
            IDENTITY,
            true,
        )
        .unwrap();
    }
}

/// (background, target) from `data info`'s "background: N, target: M" line.
fn counts(info: &str) -> (usize, usize) {
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("background: "))
        .unwrap_or_else(|| panic!("no counts in:\n{info}"));
    let (bg, t) = line.split_once(", target: ").unwrap();
    (bg.parse().unwrap(), t.parse().unwrap())
}

#[test]
fn brats_volumes_to_tumour_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_string_lossy().to_string();
    let brats = tmp.path().join("brats");
    // Six patients, the tumour on slices 10 +- 5 at six x positions; one control subject.
    for k in 0..6 {
        write_subject(
            &brats,
            &format!("BraTS2021_{k:05}"),
            Some((14.0 + 2.0 * k as f32, 10.0)),
        );
    }
    write_subject(&tmp.path().join("controls"), "control_0", None);

    // Slices 4, 6, ..., 16: targets where the ball (z 5 to 15) is cut with more than 30
    // voxels, background the others.
    let (from, controls) = (p("brats"), p("controls"));
    let build = |out: &str, test: bool| {
        let out = p(out);
        let mut args = vec![
            "data",
            "build",
            "brats",
            "--from",
            &from,
            "--healthy",
            &controls,
            "--slices",
            "4:16:2",
            "--min-tumour-voxels",
            "30",
            "--test-fraction",
            "0.3",
            "--out",
            &out,
        ];
        if test {
            args.push("--test");
        }
        ok(&args)
    };
    build("train.dat", false);
    build("test.dat", true);
    let train_info = ok(&["data", "info", &p("train.dat")]);
    let test_info = ok(&["data", "info", &p("test.dat")]);
    assert!(train_info.contains("128x128"), "{train_info}");
    // 7 subjects, 30% of them (2) in the test split, 7 slices each.
    assert!(train_info.contains("of 5 subjects"), "{train_info}");
    assert!(test_info.contains("of 2 subjects"), "{test_info}");
    let (train_bg, train_t) = counts(&train_info);
    let (test_bg, test_t) = counts(&test_info);
    assert_eq!(train_bg + train_t + test_bg + test_t, 7 * 7);
    assert!(train_t > 0 && train_bg > 0, "{train_info}");

    // Training the Table 5 network on it (narrow, for the test), resuming, exporting.
    let run = p("run");
    let train = ok(&[
        "train",
        "--preset",
        "brats",
        "--data",
        &p("train.dat"),
        "--width",
        "2",
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--checkpoint-every",
        "1",
        "--sample-every",
        "2",
        "--quiet",
        "--out",
        &run,
    ]);
    assert!(train.contains("done: 2 steps"), "{train}");
    ok(&["train", "--resume", &run, "--steps", "3", "--quiet"]);
    ok(&["export", "--checkpoint", &run, "--out", &p("mri.bpk")]);
    ok(&[
        "generate",
        "--checkpoint",
        &p("mri.bpk"),
        "--rows",
        "2",
        "--cols",
        "3",
        "--out",
        &p("grid.png"),
    ]);
    let grid = image::open(p("grid.png")).unwrap();
    assert!(grid.width() >= 3 * 128, "{}", grid.width());

    // The lesion evaluation, its threshold chosen on the run's own training data.
    let out = ok(&[
        "eval",
        "lesion",
        "--checkpoint",
        &run,
        "--data",
        &p("test.dat"),
        "--out",
        &p("lesion"),
        "--overlays",
        "2",
    ]);
    assert!(out.contains("ROC AUC"), "{out}");
    assert!(out.contains("best Dice on"), "{out}");
    let csv = std::fs::read_to_string(tmp.path().join("lesion/lesion.csv")).unwrap();
    // One row per image and reference (the model's counterpart, the median baseline).
    assert_eq!(csv.lines().count(), 1 + 2 * test_t, "{csv}");
    assert!(
        out.contains("baseline: the slice's median brain intensity"),
        "{out}"
    );
    let overlays: Vec<_> = std::fs::read_dir(tmp.path().join("lesion"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "png")
        .collect();
    assert_eq!(overlays.len(), 2.min(test_t));

    // Mistakes and bad files end in sentences.
    fails(
        &["data", "build", "brats", "--out", &p("x.dat")],
        "brats needs --from",
    );
    fails(
        &[
            "eval",
            "lesion",
            "--checkpoint",
            &p("mri.bpk"),
            "--data",
            &p("test.dat"),
        ],
        "pass --calibrate",
    );
    let broken = tmp.path().join("broken/BraTS2021_00009");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("BraTS2021_00009_t1.nii.gz"), b"not a volume").unwrap();
    fails(
        &[
            "data",
            "build",
            "brats",
            "--from",
            tmp.path().join("broken").to_str().unwrap(),
            "--out",
            &p("x.dat"),
        ],
        "BraTS2021_00009_t1.nii.gz",
    );
}
