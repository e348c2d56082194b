//! The `dinfogan` binary end to end: train, resume, every tool, and the user mistakes that
//! must end in one sentence and a non-zero exit, never a panic.

use std::path::Path;
use std::process::Command;

mod common;
use common::{fails, ok};

const TINY: [&str; 10] = [
    "--size",
    "32",
    "--width",
    "4",
    "--batch-size",
    "4",
    "--backend",
    "cpu",
    "--quiet",
    "--seed",
];

fn train(out: &Path, steps: &str) {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "train",
        "--out",
        out,
        "--steps",
        steps,
        "--sample-every",
        "2",
        "--checkpoint-every",
        "2",
    ];
    args.extend(TINY);
    args.push("4");
    ok(&args);
}

fn metric_rows(run: &Path) -> Vec<u64> {
    let mut reader = csv::Reader::from_path(run.join("metrics.csv")).unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect()
}

#[test]
fn train_resume_and_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run, "3");
    assert!(run.join("checkpoint/state.json").is_file());
    assert!(run.join("checkpoint/generator.bpk").is_file());
    assert!(run.join("samples/step_000002.png").is_file());
    assert!(run.join("samples/step_000003.png").is_file());
    assert!(run.join("run.toml").is_file());
    assert_eq!(metric_rows(&run), vec![1, 2, 3]);
    let sheet = image::open(run.join("samples/step_000003.png")).unwrap();
    // 6 rows (real, real, reconstructions, swaps) + 4 generated rows of 8 tiles, 32 px, x2.
    assert_eq!(sheet.height(), 2 * (10 * 34 + 2));
    assert_eq!(sheet.width(), 2 * (8 * 34 + 2));

    // Resume: the same run continues to step 5, the step count carries on. Without a terminal
    // (the test's pipe), a progress line every --log-every steps and at the end.
    let r = run.to_str().unwrap();
    let printed = ok(&[
        "train",
        "--resume",
        r,
        "--steps",
        "5",
        "--backend",
        "cpu",
        "--log-every",
        "2",
    ]);
    assert_eq!(metric_rows(&run), vec![1, 2, 3, 4, 5]);
    let lines: Vec<&str> = printed.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert!(lines[0].starts_with("step 4/5 (80.0%): "), "{printed}");
    assert!(lines[1].starts_with("step 5/5 (100.0%): "), "{printed}");
    assert!(
        lines[1].contains(" img/s | ") && lines[1].ends_with(" left"),
        "{printed}"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state["step"], 5);
    // Exact resume: 3 steps then 2 more give the weights and losses of 5 steps in one go.
    let straight = dir.path().join("straight");
    train(&straight, "5");
    // (The records also hold parameter ids, which differ between processes: the weights are
    // compared through what they generate.)
    let grid = |run: &Path, name: &str| {
        let out = dir.path().join(name);
        ok(&[
            "generate",
            "--checkpoint",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        std::fs::read(out).unwrap()
    };
    assert!(
        grid(&run, "resumed.png") == grid(&straight, "straight.png"),
        "the resumed and the uninterrupted run generate different images"
    );
    let losses = |run: &Path| std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let without_speed = |text: String| -> Vec<String> {
        text.lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f.remove(1); // images per second
                f.join(",")
            })
            .collect()
    };
    assert_eq!(
        without_speed(losses(&run)),
        without_speed(losses(&straight))
    );
    fails(
        &["train", "--resume", r, "--steps", "5", "--backend", "cpu"],
        "already done 5 steps",
    );
    fails(
        &["train", "--out", r, "--steps", "5", "--backend", "cpu"],
        "already holds a run",
    );

    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let leak = ok(&[
        "eval",
        "leak",
        "--checkpoint",
        r,
        "--rows",
        "3",
        "--cols",
        "4",
    ]);
    assert!(leak.contains("| ẑ = Qz(G(z, s)) | "), "{leak}");
    fails(
        &["eval", "leak", "--checkpoint", r, "--rows", "1"],
        "--rows and --cols must be at least 2",
    );
    ok(&[
        "generate",
        "--checkpoint",
        r,
        "--out",
        &file("gen.png"),
        "--rows",
        "3",
        "--cols",
        "4",
    ]);
    let img = image::open(file("gen.png")).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (2 * (4 * 34 + 2), 2 * (3 * 34 + 2))
    );
    // Seeded grids (the browser viewer draws the same): the same seeds give the same pixels,
    // the salient seed changes only the target columns.
    let seeded = |name: &str, salient: &str| {
        ok(&[
            "generate",
            "--checkpoint",
            r,
            "--out",
            &file(name),
            "--rows",
            "2",
            "--cols",
            "3",
            "--seed",
            "3",
            "--salient-seed",
            salient,
            "--scale",
            "1",
        ]);
        image::open(file(name)).unwrap().to_rgb8()
    };
    let (a, again, other) = (
        seeded("a.png", "4"),
        seeded("b.png", "4"),
        seeded("c.png", "5"),
    );
    assert_eq!(a.dimensions(), (3 * 34 + 2, 2 * 34 + 2));
    assert_eq!(a, again);
    let column = |img: &image::RgbImage, c: u32| -> Vec<u8> {
        let x = 2 + c * 34;
        image::imageops::crop_imm(img, x, 0, 32, img.height())
            .to_image()
            .into_raw()
    };
    assert_eq!(
        column(&a, 0),
        column(&other, 0),
        "column 0 has s = 0 whatever the seed"
    );
    assert_ne!(column(&a, 1), column(&other, 1));
    ok(&[
        "reconstruct",
        "--checkpoint",
        r,
        "--out",
        &file("rec.png"),
        "--count",
        "3",
    ]);
    ok(&[
        "swap",
        "--checkpoint",
        r,
        "--out",
        &file("swap.png"),
        "--count",
        "2",
    ]);
    ok(&[
        "traverse",
        "--checkpoint",
        r,
        "--out",
        &file("trav.png"),
        "--dim",
        "0",
        "--rows",
        "2",
    ]);
    ok(&[
        "encode",
        "--checkpoint",
        r,
        "--out",
        &file("codes.csv"),
        "--count",
        "5",
    ]);
    let mut codes = csv::Reader::from_path(file("codes.csv")).unwrap();
    let header = codes.headers().unwrap().clone();
    assert!(header.iter().any(|h| h == "z_15") && header.iter().any(|h| h == "s_5"));
    assert!(header.iter().any(|h| h == "true_rotation"));
    let names: Vec<String> = codes.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(names.len(), 10);
    // A seeded random sample in the data's order, not the first images.
    let indices: Vec<usize> = names[..5]
        .iter()
        .map(|n| n.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    assert_ne!(indices, [0, 1, 2, 3, 4], "{names:?}");
    // Training mode (the public scripts' encoding) gives other codes than inference mode.
    ok(&[
        "encode",
        "--checkpoint",
        r,
        "--out",
        &file("codes-train.csv"),
        "--count",
        "5",
        "--encoder",
        "train",
    ]);
    let first_codes = |name: &str| {
        let mut reader = csv::Reader::from_path(file(name)).unwrap();
        let record = reader.records().next().unwrap().unwrap();
        (record[0].to_string(), record[3].to_string())
    };
    let (inference, train) = (first_codes("codes.csv"), first_codes("codes-train.csv"));
    assert_eq!(inference.0, train.0, "the same sample");
    assert_ne!(inference.1, train.1, "other codes in training mode");

    // Where s_y draws the sprite: both rows, every rate a number in its range.
    let text = ok(&[
        "eval",
        "swap",
        "--checkpoint",
        r,
        "--count",
        "8",
        "--out",
        &file("swap"),
    ]);
    for on in ["| self | 8 |", "| swap | 8 |"] {
        assert!(text.contains(on), "{text}");
    }
    let mut table = csv::Reader::from_path(file("swap.csv")).unwrap();
    for row in table.records() {
        let row = row.unwrap();
        let (drawn, iou): (f64, f64) = (row[2].parse().unwrap(), row[3].parse().unwrap());
        assert!(
            (0.0..=1.0).contains(&drawn) && (0.0..=1.0).contains(&iou),
            "{row:?}"
        );
    }

    // The separation table, every label of the built-in data, z and s.
    let text = ok(&[
        "eval",
        "separation",
        "--checkpoint",
        r,
        "--count",
        "40",
        "--folds",
        "2",
        "--out",
        &file("separation"),
    ]);
    for label in [
        "target",
        "hue (6 bins)",
        "orientation (6 bins)",
        "frequency (4 bins)",
        "shape",
        "scale (6 levels)",
        "x (4 bins)",
        "y (4 bins)",
    ] {
        for space in ["s", "z"] {
            assert!(
                text.contains(&format!("| {space} | {label} |")),
                "{space} {label} missing:\n{text}"
            );
        }
    }
    let table = std::fs::read_to_string(file("separation.csv")).unwrap();
    assert_eq!(table.lines().count(), 1 + 16);
    // The run keeps the evaluation of its checkpoint (step 5), for `plot`.
    let recorded = run.join("eval/separation-step-000005.csv");
    assert_eq!(std::fs::read_to_string(&recorded).unwrap(), table);

    // Training curves and the recorded separation, one PNG.
    ok(&["plot", r, "--smooth", "2"]);
    let curves = image::open(run.join("curves.png")).unwrap().to_rgb8();
    assert_eq!(curves.dimensions(), (1600, 1000));
    let colours: std::collections::HashSet<[u8; 3]> = curves.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 20, "lines, text and legends are drawn");
    fails(
        &["plot", dir.path().to_str().unwrap()],
        "has no metrics.csv",
    );
    // `plot curves RUN` is `plot RUN`.
    let again = file("curves-again.png");
    ok(&["plot", "curves", r, "--smooth", "2", "--out", &again]);
    assert_eq!(
        std::fs::read(run.join("curves.png")).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // One term of several runs in one panel (the same run twice here: one line over the other).
    let compared = file("compare-g-info.png");
    ok(&[
        "plot", "compare", r, r, "--term", "g_info", "--smooth", "2", "--out", &compared,
    ]);
    let panel = image::open(&compared).unwrap().to_rgb8();
    assert_eq!(panel.dimensions(), (1200, 800));
    assert!(panel.pixels().any(|p| p.0 != [255, 255, 255]), "drawn");
    fails(
        &["plot", "compare", r, "--term", "g_nope", "--out", &compared],
        "has no column `g_nope`; its columns are `images_per_second`, `g_total`",
    );

    // Maps of the codes coloured by a label, PCA and t-SNE rows, s beside z, with the accuracy
    // the separation table above gave for that label (the same images, folds and seed).
    let text = ok(&[
        "plot",
        "codes",
        "--checkpoint",
        r,
        "--count",
        "40",
        "--folds",
        "2",
        "--label",
        "hue",
        "--points",
        "50",
    ]);
    let mut table = csv::Reader::from_path(file("separation.csv")).unwrap();
    let headers = table.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    for row in table.records().map(Result::unwrap) {
        if &row[column("label")] == "hue (6 bins)" {
            let mean: f64 = row[column("accuracy_mean")].parse().unwrap();
            let line = format!(
                "`hue (6 bins)` read from {} at {mean:.3}",
                &row[column("space")]
            );
            assert!(text.contains(&line), "{line} not in:\n{text}");
        }
    }
    let codes = image::open(run.join("codes-hue-6-bins.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(codes.dimensions(), (1600, 2 * 760 + 50));
    // The legends' markers carry the six classes' tab10 colours, unblended.
    let colours: std::collections::HashSet<[u8; 3]> = codes.pixels().map(|p| p.0).collect();
    for tab10 in [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
    ] {
        assert!(colours.contains(&tab10), "{tab10:?} missing");
    }
    fails(
        &[
            "plot",
            "codes",
            "--checkpoint",
            r,
            "--count",
            "40",
            "--label",
            "colour",
        ],
        "has no label `colour`; its labels are `target`, `hue (6 bins)`",
    );
    fails(
        &[
            "plot",
            "codes",
            "--checkpoint",
            r,
            "--count",
            "4",
            "--label",
            "target",
            "--maps",
            "tsne",
        ],
        "a t-SNE map needs at least 10 points, not 8",
    );
    // Best / average / worst over runs (the same run twice: all three agree).
    let text = ok(&[
        "eval",
        "table",
        r,
        r,
        "--count",
        "30",
        "--folds",
        "2",
        "--labels",
        "hue",
        "shape",
        "--out",
        &file("table"),
    ]);
    assert!(text.contains("Separation over 2 runs"), "{text}");
    let rows: Vec<String> = std::fs::read_to_string(file("table.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[2], f[3]);
        assert_eq!(f[3], f[4]);
        assert_eq!(f[5], "2");
    }

    // Export, then use the single file like a run folder.
    ok(&["export", "--checkpoint", r, "--out", &file("model.bpk")]);
    ok(&[
        "generate",
        "--checkpoint",
        &file("model.bpk"),
        "--out",
        &file("gen2.png"),
    ]);

    // Swap real image files, and refuse images of the wrong size.
    let tile = image::RgbImage::from_pixel(32, 32, image::Rgb([200, 10, 10]));
    tile.save(file("x.png")).unwrap();
    tile.save(file("y.png")).unwrap();
    ok(&[
        "swap",
        "--checkpoint",
        r,
        "--out",
        &file("s.png"),
        "--background",
        &file("x.png"),
        "--target",
        &file("y.png"),
    ]);
    image::RgbImage::new(40, 30).save(file("big.png")).unwrap();
    fails(
        &[
            "swap",
            "--checkpoint",
            r,
            "--out",
            &file("s.png"),
            "--background",
            &file("big.png"),
            "--target",
            &file("y.png"),
        ],
        "40x30 pixels but the model works on 32x32",
    );
    image::GrayImage::new(32, 32)
        .save(file("grey.png"))
        .unwrap();
    fails(
        &[
            "reconstruct",
            "--checkpoint",
            r,
            "--out",
            &file("s.png"),
            "--target",
            &file("grey.png"),
        ],
        "grey (1 channel) but the model works on colour",
    );
    fails(
        &[
            "traverse",
            "--checkpoint",
            r,
            "--out",
            &file("t.png"),
            "--dim",
            "6",
        ],
        "does not exist",
    );

    // A corrupt checkpoint is named as such.
    std::fs::write(run.join("checkpoint/generator.bpk"), b"not burnpack").unwrap();
    fails(
        &["generate", "--checkpoint", r, "--out", &file("g.png")],
        "generator.bpk (12 bytes) is truncated or damaged",
    );
    std::fs::write(file("fake.bpk"), b"hello").unwrap();
    fails(
        &[
            "generate",
            "--checkpoint",
            &file("fake.bpk"),
            "--out",
            &file("g.png"),
        ],
        "not a Double InfoGAN model file",
    );
}

#[test]
fn user_mistakes_end_in_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    fails(
        &[
            "generate",
            "--checkpoint",
            &p("nowhere"),
            "--out",
            &p("g.png"),
        ],
        "does not exist",
    );
    // Values checked as the command line is read, before a model is loaded.
    fails(
        &[
            "generate",
            "--checkpoint",
            &p("nowhere"),
            "--out",
            &p("no_folder/g.png"),
        ],
        "no_folder does not exist: create it first",
    );
    fails(
        &["generate", "--checkpoint", &p("nowhere"), "--out", &p("")],
        "is a folder",
    );
    fails(
        &[
            "encode",
            "--checkpoint",
            &p("nowhere"),
            "--out",
            &p("c.csv"),
            "--count",
            "0",
        ],
        "must be at least 1",
    );
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--preset",
            "imagenet",
            "--steps",
            "x",
        ],
        "invalid value",
    );
    fails(
        &["train", "--out", &p("zero"), "--steps", "0"],
        "--steps and --epochs must be at least 1",
    );
    assert!(
        !d.join("zero").exists(),
        "nothing is created for a run that cannot start"
    );
    std::fs::create_dir(d.join("empty_run")).unwrap();
    fails(
        &[
            "generate",
            "--checkpoint",
            &p("empty_run"),
            "--out",
            &p("g.png"),
        ],
        "holds no checkpoint",
    );
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--preset",
            "imagenet",
            "--backend",
            "cpu",
        ],
        "invalid value 'imagenet' for '--preset <PRESET>'\n  [possible values: builtin, celeba, cifar-mnist, dsprites-mnist, brats, cpu-hour]",
    );
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--size",
            "48",
            "--backend",
            "cpu",
        ],
        "32 or 64",
    );
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--data",
            &p("no_such_folder"),
            "--backend",
            "cpu",
        ],
        "does not exist",
    );

    std::fs::create_dir_all(d.join("data/background")).unwrap();
    std::fs::create_dir_all(d.join("data/target")).unwrap();
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--data",
            &p("data"),
            "--size",
            "32",
            "--backend",
            "cpu",
        ],
        "the dataset is empty",
    );

    std::fs::write(d.join("typo.toml"), "batch_sise = 4\n").unwrap();
    fails(
        &[
            "train",
            "--out",
            &p("r"),
            "--config",
            &p("typo.toml"),
            "--backend",
            "cpu",
        ],
        "unknown field",
    );

    // A loss that overflows stops training, names the step, and keeps no broken checkpoint.
    std::fs::write(d.join("nan.toml"), "[model]\nnoise_std = 3e38\n").unwrap();
    let (nan, toml) = (p("nan"), p("nan.toml"));
    let mut args = vec!["train", "--out", &nan, "--config", &toml, "--steps", "3"];
    args.extend(TINY);
    args.push("0");
    fails(&args, "at step 1: training stopped");
    assert!(!d.join("nan/checkpoint").exists());
}

#[test]
fn trains_from_a_folder_of_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for domain in ["background", "target"] {
        std::fs::create_dir_all(d.join("data").join(domain)).unwrap();
        for i in 0..5u8 {
            // Colour images of another size and shape: centre-cropped, resized and made grey.
            let img = image::RgbImage::from_fn(48, 40, |x, y| {
                let v =
                    ((x + y) as u8).wrapping_mul(4 + i) + if domain == "target" { 90 } else { 0 };
                image::Rgb([v, v / 2, 255 - v])
            });
            img.save(d.join("data").join(domain).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let data = d.join("data");
    let out = d.join("run");
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--channels",
        "1",
        "--epochs",
        "2",
    ];
    args.extend(TINY);
    args.push("1");
    ok(&args);
    // 5 images per domain, batch 4: 2 steps per epoch.
    assert_eq!(metric_rows(&out), vec![1, 2, 3, 4]);

    // The public code's batches: 4 images drawn from the 10 of both domains, 3 steps per
    // epoch, each step with real images of both domains in varying proportions.
    let mixed_toml = d.join("mixed.toml");
    std::fs::write(&mixed_toml, "batching = \"mixed\"\n").unwrap();
    let mixed = d.join("mixed");
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        mixed.to_str().unwrap(),
        "--config",
        mixed_toml.to_str().unwrap(),
        "--channels",
        "1",
        "--epochs",
        "2",
    ];
    args.extend(TINY);
    args.push("1");
    ok(&args);
    assert_eq!(metric_rows(&mixed), vec![1, 2, 3, 4, 5, 6]);
    let toml = std::fs::read_to_string(mixed.join("run.toml")).unwrap();
    assert!(toml.contains("batching = \"mixed\""), "{toml}");

    // Sub-folders of background/ and target/ are sub-classes (images may also stay at the
    // top), reported by encode and scored by eval separation.
    for (domain, kinds) in [
        ("background", ["young", "old"]),
        ("target", ["hat", "glasses"]),
    ] {
        for (k, kind) in kinds.iter().enumerate() {
            std::fs::create_dir_all(data.join(domain).join(kind)).unwrap();
            for i in [2 * k, 2 * k + 1] {
                std::fs::rename(
                    data.join(domain).join(format!("{i}.png")),
                    data.join(domain).join(kind).join(format!("{i}.png")),
                )
                .unwrap();
            }
        }
    }
    let codes = d.join("codes.csv");
    ok(&[
        "encode",
        "--checkpoint",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        codes.to_str().unwrap(),
    ]);
    let mut reader = csv::Reader::from_path(&codes).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "label_subclass")
        .unwrap();
    let subclasses: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[column].to_string())
        .collect();
    assert_eq!(subclasses.len(), 10);
    for kind in ["young", "old", "hat", "glasses"] {
        assert_eq!(
            subclasses.iter().filter(|s| *s == kind).count(),
            2,
            "{kind}"
        );
    }
    let table = ok(&[
        "eval",
        "separation",
        "--checkpoint",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--folds",
        "2",
    ]);
    // 4 sub-classed images per domain; the target sub-class is salient (s ↑, z at chance),
    // the background one common.
    assert!(table.contains("| s | target_subclass | 2 | 4 |"), "{table}");
    assert!(table.contains("| z | target_subclass | 2 | 4 |"), "{table}");
    assert!(
        table.contains("| s | background_subclass | 2 | 4 |"),
        "{table}"
    );
    assert!(table.contains("| s | target | 2 | 10 |"), "{table}");
    fails(
        &[
            "eval",
            "separation",
            "--checkpoint",
            out.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--folds",
            "1",
        ],
        "--folds must be at least 2",
    );
    // A run trained on a folder resumes on that folder only: an explicit --data builtin is
    // refused, not silently ignored.
    fails(
        &[
            "train",
            "--resume",
            out.to_str().unwrap(),
            "--data",
            "builtin",
            "--steps",
            "6",
        ],
        "resume without --data",
    );
}

/// `kill -9` at moments spread over a run that writes a checkpoint at every step: each time
/// the folder still holds a complete checkpoint (the last one written, or the one before it
/// while a swap was under way), a tool opens it, and the run resumes from it. Each kill comes
/// a few milliseconds after the run has written a new checkpoint (so that it lands while the
/// next is being written, however fast the machine is).
#[test]
fn a_killed_run_resumes_from_its_last_complete_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run, "1");
    let r = run.to_str().unwrap();
    let step_of = |run: &Path| -> u64 {
        let dir = ["checkpoint", "checkpoint.old"]
            .iter()
            .map(|d| run.join(d))
            .find(|d| d.join("state.json").is_file())
            .expect("a complete checkpoint survives every kill");
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
        meta["step"].as_u64().unwrap()
    };
    // While the run writes, a checkpoint folder may vanish between looking and reading.
    let step_now = |run: &Path| -> Option<u64> {
        ["checkpoint", "checkpoint.old"].iter().find_map(|d| {
            let bytes = std::fs::read(run.join(d).join("state.json")).ok()?;
            serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["step"].as_u64()
        })
    };
    let mut last = step_of(&run);
    for delay_ms in [0u64, 3, 7, 12, 20, 35] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dinfogan"))
            .args([
                "train",
                "--resume",
                r,
                "--steps",
                "1000000",
                "--checkpoint-every",
                "1",
                "--sample-every",
                "0",
                "--quiet",
            ])
            .env("BURN_DEVICE", "flex")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let waited = std::time::Instant::now();
        while step_now(&run).is_none_or(|s| s <= last) {
            assert!(
                waited.elapsed().as_secs() < 120,
                "the resumed run wrote no checkpoint"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if delay_ms == 0 {
            // While it trains, the folder is its own: a second run into it is refused, by
            // resume or by --out (the lock is released by the kill below, as by any crash: the
            // next resume takes it).
            fails(
                &["train", "--resume", r, "--steps", "2"],
                "is in use: another `dinfogan train` (process",
            );
            let mut again = vec!["train", "--out", r, "--steps", "2"];
            again.extend(TINY);
            again.push("4");
            fails(&again, "is in use");
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let step = step_of(&run);
        assert!(
            step >= last,
            "the checkpoint went back from {last} to {step}"
        );
        last = step;
        ok(&[
            "generate",
            "--checkpoint",
            r,
            "--out",
            dir.path().join("g.png").to_str().unwrap(),
        ]);
    }
    assert!(last > 3, "the kills landed while training ({last} steps)");
    let next = (last + 1).to_string();
    ok(&["train", "--resume", r, "--steps", &next, "--quiet"]);
    assert_eq!(step_of(&run), last + 1);
    assert_eq!(*metric_rows(&run).last().unwrap(), last + 1);

    // A checkpoint file cut short (a full disk, a copy interrupted) is named, with the step its
    // checkpoint was of, by a resume and by a tool, and nothing is overwritten.
    let file = run.join("checkpoint/optim_generator.bpk");
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() - 100]).unwrap();
    let expected = format!(
        "the checkpoint of step {} in {r} cannot be read: {} ({} bytes) is truncated or damaged",
        last + 1,
        file.display(),
        whole.len() - 100
    );
    fails(
        &["train", "--resume", r, "--steps", "1000", "--quiet"],
        &expected,
    );
    let generator = run.join("checkpoint/generator.bpk");
    let weights = std::fs::read(&generator).unwrap();
    std::fs::write(&generator, &weights[..40]).unwrap();
    fails(
        &[
            "generate",
            "--checkpoint",
            r,
            "--out",
            dir.path().join("g.png").to_str().unwrap(),
        ],
        "generator.bpk (40 bytes) is truncated or damaged",
    );
    assert_eq!(step_of(&run), last + 1);
}

#[test]
fn bench_times_every_method() {
    for model in ["double-infogan", "mm-cvae", "cvae"] {
        let out = ok(&[
            "bench", "--model", model, "--size", "32", "--batch", "4", "--width", "4", "--iters",
            "1",
        ]);
        assert!(out.contains(&format!("model: {model} (")), "{out}");
        assert!(out.contains("mean over 1 iterations:"), "{out}");
    }
    fails(
        &["bench", "--model", "pca"],
        "possible values: double-infogan, mm-cvae, cvae",
    );
}

/// The baselines through the same commands: train, resume, metrics with their own terms,
/// evaluation, export, a diverged run recorded and counted, and `eval compare` over all.
#[test]
fn baselines_train_resume_evaluate_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| dir.path().join(name);
    let path = |name: &str| run(name).to_str().unwrap().to_string();
    let tiny = |model: &str, out: &str, steps: &str| {
        let mut args = vec![
            "train".to_string(),
            "--model".into(),
            model.into(),
            "--out".into(),
            path(out),
            "--steps".into(),
            steps.into(),
            "--sample-every".into(),
            "0".into(),
        ];
        args.extend(TINY.iter().map(|s| s.to_string()));
        args.push("1".into());
        args
    };
    let call = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());

    call(tiny("mm-cvae", "mm", "3"));
    call(vec![
        "train".into(),
        "--resume".into(),
        path("mm"),
        "--steps".into(),
        "5".into(),
        "--quiet".into(),
    ]);
    let metrics = std::fs::read_to_string(run("mm").join("metrics.csv")).unwrap();
    assert!(metrics.starts_with(
        "step,images_per_second,vae_total,vae_reconstruction,vae_kl,vae_mmd_common,vae_mmd_salient\n"
    ));
    assert_eq!(metric_rows(&run("mm")), vec![1, 2, 3, 4, 5]);
    assert!(run("mm").join("samples/step_000005.png").is_file());
    call(tiny("cvae", "cv", "3"));
    call(tiny("double-infogan", "gan", "2"));
    // Another seed of the same configuration: one model with "mm" (seeds are not settings).
    let mut args = tiny("mm-cvae", "mm-seed2", "2");
    *args.last_mut().unwrap() = "2".into();
    call(args);

    // Encoded by the posterior means; training-mode encoding is Double InfoGAN's alone.
    let out = ok(&[
        "eval",
        "separation",
        "--checkpoint",
        &path("cv"),
        "--count",
        "40",
    ]);
    assert!(out.contains("| s | target |"), "{out}");
    fails(
        &[
            "eval",
            "separation",
            "--checkpoint",
            &path("cv"),
            "--count",
            "40",
            "--encoder",
            "train",
        ],
        "a cVAE model encodes with its inference-mode encoder only",
    );
    let file = path("cv.dinfogan");
    ok(&["export", "--checkpoint", &path("cv"), "--out", &file]);
    ok(&["generate", "--checkpoint", &file, "--out", &path("cv.png")]);

    // A learning rate that blows the weights up: the run stops, says so, and is marked.
    std::fs::write(run("div.toml"), "[vae]\nlr = 1e30\n").unwrap();
    let mut args = tiny("mm-cvae", "div", "8");
    args.extend(["--config".into(), path("div.toml")]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(
        &refs,
        "marked as diverged; train a new run with lower learning rates",
    );
    assert!(run("div").join("diverged.json").is_file());

    // cPCA: fitted in one pass (on 60 images of each domain here), it encodes and evaluates,
    // and says so where an image would be drawn or a step resumed.
    std::fs::write(run("pca.toml"), "[cpca]\nmax_images = 60\n").unwrap();
    let mut args = tiny("cpca", "pca", "1");
    args.extend(["--config".into(), path("pca.toml")]);
    call(args);
    assert!(run("pca").join("cpca.json").is_file());
    fails(
        &[
            "generate",
            "--checkpoint",
            &path("pca"),
            "--out",
            &path("pca.png"),
        ],
        "a cPCA model has no generator",
    );
    fails(
        &["train", "--resume", &path("pca"), "--steps", "5"],
        "is fitted in one pass: there is nothing to resume",
    );
    fails(
        &["plot", &path("pca")],
        "holds a cPCA fit: it has no training curves",
    );

    let prefix = path("compare");
    let out = ok(&[
        "eval",
        "compare",
        &path("mm"),
        &path("mm-seed2"),
        &path("cv"),
        &path("gan"),
        &path("div"),
        &path("pca"),
        "--count",
        "40",
        "--labels",
        "target",
        "--out",
        &prefix,
        "--sheet",
        &path("sheet.png"),
    ]);
    // A row per model (a configuration), Double InfoGAN first; the diverged run, trained with
    // another learning rate, is a model of its own, named by what sets it apart.
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 6, "{out}");
    assert!(
        rows[1].starts_with("| Double InfoGAN (L = 16, M = 6) | 1 | 0 |"),
        "{out}"
    );
    assert!(
        rows[2].starts_with("| MM-cVAE (L = 16, M = 6; vae.lr = 0.001) | 2 | 0 |"),
        "{out}"
    );
    assert!(
        rows[3].starts_with("| MM-cVAE (L = 16, M = 6; vae.lr = 1e+30) | 1 | 1 |"),
        "{out}"
    );
    assert!(
        rows[4].starts_with("| cVAE (L = 16, M = 6) | 1 | 0 |"),
        "{out}"
    );
    assert!(
        rows[5].starts_with("| cPCA (L = 16, M = 6) | 1 | 0 |"),
        "{out}"
    );
    let csv = std::fs::read_to_string(run("compare.csv")).unwrap();
    assert!(csv.starts_with("model,method,space,label,best,average,worst,runs,diverged,desired\n"));
    let sheet = image::open(run("sheet.png")).unwrap();
    // Two rows of real images, four per generative model and one saying cPCA cannot draw,
    // 32x32 tiles drawn twice as large.
    assert_eq!(sheet.height(), 15 * (32 + 2) * 2 + 2 * 2);

    fails(
        &["bench", "--model", "cpca"],
        "cPCA has no training step to time",
    );
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    let bash = ok(&["completions", "bash"]);
    assert!(bash.contains("_dinfogan()") && bash.contains("train") && bash.contains("--log-every"));
    let fish = ok(&["completions", "fish"]);
    assert!(fish.contains("complete -c dinfogan") && fish.contains("separation"));
    let zsh = ok(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef dinfogan"));
    fails(&["completions", "tcsh"], "invalid value 'tcsh'");
}

// `--json` on the commands whose output people parse: one JSON document on stdout, nothing
// else there, with the values the text and the files under --out are made from.

/// Runs `dinfogan args` (which must succeed) and parses its stdout as exactly one JSON
/// document, newline-terminated.
fn json_stdout(args: &[&str]) -> serde_json::Value {
    let out = common::dinfogan(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out.status;
    assert!(
        status.success(),
        "dinfogan {args:?} failed ({status}):\n{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    assert!(stdout.ends_with('\n'), "{stdout}");
    // from_str refuses anything after the document but whitespace.
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("dinfogan {args:?}: not one JSON document ({e}):\n{stdout}"))
}

fn json_f64(value: &serde_json::Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The same number, up to the last bits serde_json's default (not round-trip) parser loses.
fn json_same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// A CSV file's rows as maps from its header's names to the fields.
fn json_csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A tiny model trained for one step on the built-in data.
fn json_tiny_run(out: &Path, channels: &str) {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "train",
        "--out",
        out,
        "--steps",
        "1",
        "--sample-every",
        "0",
        "--channels",
        channels,
    ];
    args.extend(TINY);
    args.push("1");
    ok(&args);
}

#[test]
fn json_devices_and_bench() {
    let devices = json_stdout(&["devices", "--json"]);
    let list = devices["devices"].as_array().unwrap();
    let cpu: Vec<_> = list.iter().filter(|d| d["kind"] == "cpu").collect();
    assert_eq!(cpu.len(), 1, "{devices}");
    assert_eq!(cpu[0]["name"], "burn-flex");
    assert!(cpu[0]["threads"].as_u64().unwrap() >= 1, "{devices}");
    for adapter in list.iter().filter(|d| d["kind"] != "cpu") {
        assert_eq!(adapter["kind"], "wgpu", "{devices}");
        assert!(adapter["name"].is_string() && adapter["device_type"].is_string());
    }
    // The text lists the same: one line per entry.
    let text = String::from_utf8(common::dinfogan(&["devices"]).stdout).unwrap();
    assert!(
        text.contains(&format!("cpu: burn-flex, {} threads", cpu[0]["threads"])),
        "{text}"
    );

    for (model, steps) in [("double-infogan", true), ("mm-cvae", false)] {
        let bench = json_stdout(&[
            "bench", "--model", model, "--size", "32", "--batch", "4", "--width", "4", "--iters",
            "2", "--json",
        ]);
        assert_eq!(bench["model"], model, "{bench}");
        assert_eq!(bench["image_size"], 32);
        assert_eq!(bench["width"], 4);
        assert_eq!(bench["batch_size"], 4);
        assert!(bench["device"].as_str().unwrap().starts_with("CPU"));
        let iterations = bench["iterations"].as_array().unwrap();
        assert_eq!(iterations.len(), 2, "{bench}");
        assert_eq!(bench["timed_iterations"], 2);
        assert_eq!(bench["warm_up"]["iteration"], 0);
        let per_iteration = json_f64(&bench["seconds_per_iteration"]);
        assert!(per_iteration > 0.0, "{bench}");
        let totals: Vec<f64> = iterations
            .iter()
            .map(|i| json_f64(&i["total_seconds"]))
            .collect();
        assert!(totals.iter().all(|&t| t > 0.0), "{bench}");
        let images = json_f64(&bench["images_per_second"]);
        assert!((images * per_iteration - 8.0).abs() < 1e-6, "{bench}");
        // Double InfoGAN's iteration is its G and D steps; a baseline's one step.
        assert_eq!(iterations[0]["generator_seconds"].is_number(), steps);
        assert_eq!(bench["generator_seconds_per_iteration"].is_number(), steps);
        if steps {
            let (g, d) = (
                json_f64(&bench["generator_seconds_per_iteration"]),
                json_f64(&bench["discriminator_seconds_per_iteration"]),
            );
            assert!((g + d - per_iteration).abs() < 1e-9, "{bench}");
        } else {
            let mean = totals.iter().sum::<f64>() / 2.0;
            assert!((mean - per_iteration).abs() < 1e-9, "{bench}");
        }
        if cfg!(target_os = "linux") {
            assert!(json_f64(&bench["peak_resident_mib"]) > 1.0, "{bench}");
        }
    }
}

#[test]
fn json_separation_table_compare_leak_and_swap() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    json_tiny_run(&run, "3");
    let r = run.to_str().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // One row per (label, space), the values of the CSV written for the same run.
    let separation = json_stdout(&[
        "eval",
        "separation",
        "--checkpoint",
        r,
        "--count",
        "20",
        "--folds",
        "2",
        "--fold-seed",
        "3",
        "--json",
        "--out",
        &file("separation"),
    ]);
    assert_eq!(separation["checkpoint"], r);
    assert_eq!(separation["step"], 1);
    assert_eq!(separation["data"], "builtin");
    assert_eq!(separation["builtin_count"], 20);
    assert_eq!(separation["folds"], 2);
    assert_eq!(separation["fold_seed"], 3);
    assert_eq!(separation["encoder"], "inference");
    let recorded = run.join("eval/separation-step-000001.csv");
    assert_eq!(separation["recorded"], recorded.to_str().unwrap());
    let rows = separation["rows"].as_array().unwrap();
    let csv = json_csv_rows(Path::new(&file("separation.csv")));
    assert_eq!(rows.len(), 16, "8 labels of the built-in data, s and z");
    assert_eq!(rows.len(), csv.len());
    let mut pairs = std::collections::HashSet::new();
    for (row, line) in rows.iter().zip(&csv) {
        let (space, label) = (
            row["space"].as_str().unwrap(),
            row["label"].as_str().unwrap(),
        );
        assert!(pairs.insert((space, label)), "({space}, {label}) twice");
        assert_eq!(line["space"], space);
        assert_eq!(line["label"], label);
        assert_eq!(line["desired"], row["desired"].as_str().unwrap());
        assert_eq!(line["images"], row["images"].to_string());
        for field in ["accuracy_mean", "accuracy_std", "majority_class"] {
            let value = json_f64(&row[field]);
            let written: f64 = line[field].parse().unwrap();
            assert!(json_same(value, written), "{field}: {value} vs {written}");
            assert!((0.0..=1.0).contains(&value), "{row}");
        }
    }
    assert!(pairs.contains(&("s", "target")) && pairs.contains(&("z", "target")));
    // The files are written as without --json.
    let markdown = std::fs::read_to_string(file("separation.md")).unwrap();
    let text = ok(&[
        "eval",
        "separation",
        "--checkpoint",
        r,
        "--count",
        "20",
        "--folds",
        "2",
        "--fold-seed",
        "3",
    ]);
    assert!(text.starts_with(&markdown), "{text}");

    // Best / average / worst over runs: the same run twice, all three the run's accuracy.
    let table = json_stdout(&[
        "eval",
        "table",
        r,
        r,
        "--count",
        "20",
        "--folds",
        "2",
        "--fold-seed",
        "3",
        "--labels",
        "target",
        "--json",
    ]);
    assert_eq!(table["runs"].as_array().unwrap().len(), 2);
    assert_eq!(table["labels"], serde_json::json!(["target"]));
    let table_rows = table["rows"].as_array().unwrap();
    assert_eq!(table_rows.len(), 2, "{table}");
    for row in table_rows {
        let one = rows
            .iter()
            .find(|s| s["space"] == row["space"] && s["label"] == row["label"])
            .unwrap();
        for field in ["best", "average", "worst"] {
            assert_eq!(row[field], one["accuracy_mean"], "{row}");
        }
        assert_eq!(row["runs"], 2);
    }

    // Models side by side: one model of two runs.
    let compare = json_stdout(&[
        "eval",
        "compare",
        r,
        r,
        "--count",
        "20",
        "--folds",
        "2",
        "--fold-seed",
        "3",
        "--labels",
        "target",
        "--json",
        "--out",
        &file("compare"),
    ]);
    let models = compare["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{compare}");
    assert_eq!(models[0]["method"], "double-infogan");
    assert_eq!(models[0]["runs"], 2);
    assert_eq!(models[0]["diverged"], 0);
    assert_eq!(compare["columns"].as_array().unwrap().len(), 2);
    assert!(compare["factorvae"].is_null());
    let compare_rows = compare["rows"].as_array().unwrap();
    let compare_csv = json_csv_rows(Path::new(&file("compare.csv")));
    assert_eq!(compare_rows.len(), compare_csv.len());
    for (row, line) in compare_rows.iter().zip(&compare_csv) {
        assert_eq!(row["model"], models[0]["model"]);
        assert_eq!(line["model"], row["model"].as_str().unwrap());
        assert!(json_same(
            json_f64(&row["best"]),
            line["best"].parse().unwrap()
        ));
        let one = table_rows
            .iter()
            .find(|t| t["space"] == row["space"] && t["label"] == row["label"])
            .unwrap();
        assert_eq!(row["average"], one["average"]);
    }

    // Shares of variance: numbers in [0, 1] that add up to at most 1.
    let leak = json_stdout(&[
        "eval",
        "leak",
        "--checkpoint",
        r,
        "--rows",
        "3",
        "--cols",
        "4",
        "--json",
    ]);
    assert_eq!(
        (leak["z_codes"].clone(), leak["s_codes"].clone()),
        (3.into(), 4.into())
    );
    for codes in ["common_codes", "salient_codes"] {
        let (by_z, by_s) = (
            json_f64(&leak[codes]["by_z"]),
            json_f64(&leak[codes]["by_s"]),
        );
        assert!(
            by_z >= 0.0 && by_s >= 0.0 && by_z + by_s <= 1.0 + 1e-9,
            "{leak}"
        );
    }
    let text = ok(&[
        "eval",
        "leak",
        "--checkpoint",
        r,
        "--rows",
        "3",
        "--cols",
        "4",
    ]);
    let by_z = format!("{:.2}", json_f64(&leak["common_codes"]["by_z"]));
    assert!(
        text.contains(&format!("| ẑ = Qz(G(z, s)) | {by_z} |")),
        "{text}"
    );

    // Where s_y draws the sprite: the rows of the CSV.
    let swap = json_stdout(&[
        "eval",
        "swap",
        "--checkpoint",
        r,
        "--count",
        "8",
        "--json",
        "--out",
        &file("swap"),
    ]);
    assert_eq!(swap["threshold"], 0.5);
    let swap_rows = swap["rows"].as_array().unwrap();
    let swap_csv = json_csv_rows(Path::new(&file("swap.csv")));
    assert_eq!(swap_rows.len(), 2);
    for ((row, line), on) in swap_rows.iter().zip(&swap_csv).zip(["self", "swap"]) {
        assert_eq!(row["on"], on);
        assert_eq!(row["targets"], 8);
        for field in ["drawn", "iou"] {
            let value = json_f64(&row[field]);
            assert!((0.0..=1.0).contains(&value), "{row}");
            assert!(json_same(value, line[field].parse().unwrap()), "{row}");
        }
    }
}

/// 40 fake MNIST digits (train and test), 4 of each class, digit c drawn as bars of value
/// 25 c: enough for the dSprites-MNIST recipes.
fn json_fake_mnist(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let idx = |dims: &[u32], data: &[u8]| {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    };
    let labels: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    let images: Vec<u8> = labels
        .iter()
        .flat_map(|&c| (0..784).map(move |p| if (p / 28) % 7 == 0 { 25 * c } else { 0 }))
        .collect();
    for split in ["train", "t10k"] {
        std::fs::write(
            dir.join(format!("{split}-images-idx3-ubyte")),
            idx(&[40, 28, 28], &images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{split}-labels-idx1-ubyte")),
            idx(&[40], &labels),
        )
        .unwrap();
    }
}

#[test]
fn json_data_info_and_factorvae() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    json_fake_mnist(&dir.path().join("mnist"));
    ok(&[
        "data",
        "build",
        "dsprites-mnist-groups",
        "--mnist",
        &p("mnist"),
        "--groups",
        "10",
        "--per-group",
        "4",
        "--size",
        "32",
        "--out",
        &p("groups.dat"),
    ]);
    let info = json_stdout(&["data", "info", &p("groups.dat"), "--json"]);
    assert_eq!(info["file"], p("groups.dat"));
    assert_eq!(info["recipe"], "dsprites-mnist-groups");
    assert_eq!(
        (info["count"].clone(), info["target"].clone()),
        (40.into(), 40.into())
    );
    assert_eq!(info["background"], 0);
    assert_eq!(
        (info["side"].clone(), info["channels"].clone()),
        (32.into(), 1.into())
    );
    assert_eq!(info["masks"], false);
    assert!(info["images_with_lesion"].is_null());
    let factors: Vec<&str> = info["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(factors, ["shape", "scale", "orientation", "x", "y"]);
    // Every label counts every image once; the groups are 10 classes of 4.
    let labels = info["labels"].as_array().unwrap();
    for label in labels {
        let counted: u64 = label["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["images"].as_u64().unwrap())
            .sum();
        assert_eq!(counted, 40, "{label}");
    }
    let group = labels.iter().find(|l| l["name"] == "group").unwrap();
    assert_eq!(group["role"], "bookkeeping");
    let classes = group["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 10);
    assert!(classes
        .iter()
        .all(|c| c["domain"] == "target" && c["images"] == 4));
    // The text says the same.
    let text = ok(&["data", "info", &p("groups.dat")]);
    assert!(text.contains("background: 0, target: 40"), "{text}");
    assert!(
        text.contains("label group [not scored]: t:0=4 t:1=4 "),
        "{text}"
    );

    // The FactorVAE score of a one-channel 32x32 model: the score the Markdown file shows.
    let run = dir.path().join("run");
    json_tiny_run(&run, "1");
    let fvae = json_stdout(&[
        "eval",
        "factorvae",
        "--checkpoint",
        run.to_str().unwrap(),
        "--data",
        &p("groups.dat"),
        "--reference-count",
        "30",
        "--json",
        "--out",
        &p("fvae.md"),
    ]);
    assert_eq!(fvae["groups"], 10);
    assert_eq!(fvae["reference"], p("groups.dat"));
    assert_eq!(fvae["reference_images"], 30);
    assert_eq!(fvae["factors"], info["factors"]);
    let held_out = json_f64(&fvae["held_out_score"]);
    let all = json_f64(&fvae["all_groups_score"]);
    assert!((0.0..=1.0).contains(&held_out) && (0.0..=1.0).contains(&all));
    let votes = fvae["votes"].as_array().unwrap();
    assert_eq!(votes.len() as u64, fvae["salient_dim"].as_u64().unwrap());
    assert!(votes.iter().all(|v| v.as_array().unwrap().len() == 5));
    assert!(fvae["collapsed_dimensions"].is_array());
    let markdown = std::fs::read_to_string(p("fvae.md")).unwrap();
    assert!(
        markdown.contains(&format!("| held-out groups | {held_out:.4} |")),
        "{markdown}"
    );
}

#[path = "../src/data/synthetic_nifti.rs"]
mod json_nifti;

#[test]
fn json_lesion_scores_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // Three subjects, a tumour ball around axial slice 10 of 24.
    let dims = [40, 48, 24];
    for k in 0..3 {
        let subject = dir.path().join(format!("brats/BraTS2021_{k:05}"));
        std::fs::create_dir_all(&subject).unwrap();
        let (image, seg) =
            json_nifti::synthetic_head(dims, Some(([14.0 + 4.0 * k as f32, 26.0, 10.0], 5.0)));
        for (kind, voxels) in [("t1", &image), ("seg", &seg)] {
            let name = subject.join(format!("BraTS2021_{k:05}_{kind}.nii.gz"));
            json_nifti::write_nifti(&name, dims, voxels, json_nifti::IDENTITY, true).unwrap();
        }
    }
    ok(&[
        "data",
        "build",
        "brats",
        "--from",
        &p("brats"),
        "--slices",
        "4:16:4",
        "--min-tumour-voxels",
        "30",
        "--test-fraction",
        "0",
        "--size",
        "32",
        "--out",
        &p("mri.dat"),
    ]);
    let info = json_stdout(&["data", "info", &p("mri.dat"), "--json"]);
    assert_eq!(info["masks"], true);
    let (background, target) = (
        info["background"].as_u64().unwrap(),
        info["target"].as_u64().unwrap(),
    );
    assert_eq!(background + target, 3 * 4, "{info}");
    assert!(target > 0 && background > 0, "{info}");
    assert_eq!(info["images_with_lesion"], target);

    // A one-channel 32x32 model, scored on the file's targets, thresholds chosen on them.
    let run = dir.path().join("run");
    json_tiny_run(&run, "1");
    let lesion = json_stdout(&[
        "eval",
        "lesion",
        "--checkpoint",
        run.to_str().unwrap(),
        "--data",
        &p("mri.dat"),
        "--calibrate",
        &p("mri.dat"),
        "--json",
        "--out",
        &p("lesion"),
        "--overlays",
        "1",
    ]);
    assert_eq!(lesion["target_images"], target);
    // The calibration set is the file's targets with a lesion.
    assert_eq!(lesion["calibration"]["data"], p("mri.dat"));
    assert_eq!(lesion["calibration"]["images"], target);
    assert_eq!(lesion["sigma_pixels"], 2.0);
    let references = lesion["references"].as_array().unwrap();
    let names: Vec<&str> = references
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["counterpart", "median"]);
    for r in references {
        assert_eq!(r["images"], target);
        for field in ["auc_mean", "dice_mean"] {
            assert!((0.0..=1.0).contains(&json_f64(&r[field])), "{r}");
        }
    }
    // Each image and reference: the rows of lesion.csv.
    let per_image = lesion["per_image"].as_array().unwrap();
    let csv = json_csv_rows(&dir.path().join("lesion/lesion.csv"));
    assert_eq!(per_image.len() as u64, 2 * target);
    assert_eq!(per_image.len(), csv.len());
    for (row, line) in per_image.iter().zip(&csv) {
        assert_eq!(line["reference"], row["reference"].as_str().unwrap());
        assert_eq!(line["index"], row["index"].to_string());
        assert!(json_same(
            json_f64(&row["dice"]),
            line["dice"].parse().unwrap()
        ));
    }
    let dices: Vec<f64> = per_image[..target as usize]
        .iter()
        .map(|r| json_f64(&r["dice"]))
        .collect();
    let mean = dices.iter().sum::<f64>() / dices.len() as f64;
    assert!(json_same(mean, json_f64(&references[0]["dice_mean"])));
    let markdown = std::fs::read_to_string(dir.path().join("lesion/lesion.md")).unwrap();
    assert!(
        markdown.contains(&format!("of the best Dice on {target} lesion slices of")),
        "{markdown}"
    );
    assert!(markdown.contains("encoder in inference mode"), "{markdown}");
    // Beside each lesion slice's AUC its precision-recall area; the slices without a lesion
    // (the file's background slices outside the ball) give the false-positive area; each of
    // the three subjects is scored over its four slices.
    let healthy = lesion["healthy"].as_array().unwrap();
    let healthy_csv = json_csv_rows(&dir.path().join("lesion/healthy.csv"));
    assert_eq!(healthy.len(), healthy_csv.len());
    assert!(!healthy.is_empty() && healthy.len() as u64 <= 2 * background);
    for r in references {
        assert!((0.0..=1.0).contains(&json_f64(&r["auprc_mean"])), "{r}");
        assert_eq!(
            r["healthy_images"].as_u64().unwrap() * 2,
            healthy.len() as u64
        );
        let area = json_f64(&r["false_positive_area"]["mean"]);
        assert!((0.0..=1.0).contains(&area), "{r}");
        assert_eq!(r["subjects"]["subjects"], 3, "{r}");
    }
    let subjects = lesion["per_subject"].as_array().unwrap();
    assert_eq!(subjects.len(), 2 * 3);
    assert_eq!(
        json_csv_rows(&dir.path().join("lesion/subjects.csv")).len(),
        6
    );
    assert!(subjects.iter().all(|r| r["slices"] == 4), "{subjects:?}");
    assert!(markdown.contains("Per subject"), "{markdown}");

    // The encoder in training mode (batch statistics, noise) makes other counterparts: the
    // second panel of the same slice's overlay, at the same threshold, differs.
    let at = |encoder: &str, out: &str| {
        json_stdout(&[
            "eval",
            "lesion",
            "--checkpoint",
            run.to_str().unwrap(),
            "--data",
            &p("mri.dat"),
            "--threshold",
            "0.3",
            "--encoder",
            encoder,
            "--json",
            "--out",
            &p(out),
            "--overlays",
            "1",
        ])
    };
    let (train, inference) = (
        at("train", "lesion-train"),
        at("inference", "lesion-inference"),
    );
    assert_eq!(train["encoder"], "train");
    assert_eq!(inference["encoder"], "inference");
    assert!(train["calibration"].is_null());
    assert_eq!(train["references"][0]["threshold"], 0.3);
    let index = per_image[0]["index"].as_u64().unwrap();
    let panel = |out: &str| {
        let sheet = image::open(dir.path().join(format!("{out}/image-{index:05}.png")))
            .unwrap()
            .to_rgb8();
        // Four 32-pixel panels side by side, whatever the grid's padding: the second quarter.
        let w = sheet.width() / 4;
        image::imageops::crop_imm(&sheet, w, 0, w, sheet.height())
            .to_image()
            .into_raw()
    };
    assert_ne!(panel("lesion-train"), panel("lesion-inference"));
    let lesion = inference;
    // The median baseline does not use the encoder.
    let median = |report: &serde_json::Value| json_f64(&report["references"][1]["auc_mean"]);
    assert!(json_same(median(&train), median(&lesion)));
}
