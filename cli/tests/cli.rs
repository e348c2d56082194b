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
        "corrupt",
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
