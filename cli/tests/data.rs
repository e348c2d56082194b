//! `dinfogan data`: building the paper's datasets from files in their published formats,
//! inspecting them, and training on them.

use std::path::Path;

mod common;
use common::{fails, ok};

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// 40 fake MNIST digits, 4 of each class, digit c drawn as a bar of value 25 c.
fn write_mnist(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let labels: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    let images: Vec<u8> = labels
        .iter()
        .flat_map(|&c| (0..784).map(move |p| if (p / 28) % 7 == 0 { 25 * c } else { 0 }))
        .collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx(&[40, 28, 28], &images),
    )
    .unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[40], &labels)).unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        idx(&[40, 28, 28], &images),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[40], &labels)).unwrap();
}

/// One training step of a width-2 model on the CPU (what a test needs of a run folder).
fn train_tiny(data: &str, out: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data",
        data,
        "--out",
        out,
        "--steps",
        "1",
        "--width",
        "2",
        "--batch-size",
        "4",
        "--backend",
        "cpu",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

fn write_cifar(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let batch = |n: usize, shift: u8| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let mut record = vec![(i % 10) as u8];
                record.extend((0..3072).map(|p| ((p / 1024) as u8 * 60).wrapping_add(shift)));
                record
            })
            .collect()
    };
    for b in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{b}.bin")), batch(4, b)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), batch(6, 0)).unwrap();
}

#[test]
fn cifar_mnist_from_published_formats_then_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_mnist(&d.join("mnist"));
    write_cifar(&d.join("cifar"));
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let text = ok(&[
        "data",
        "build",
        "cifar-mnist",
        "--cifar",
        &p("cifar"),
        "--mnist",
        &p("mnist"),
        "--size",
        "32",
        "--out",
        &p("cm.dat"),
    ]);
    assert!(text.contains("10 background + 10 target"), "{text}");
    let info = ok(&["data", "info", &p("cm.dat")]);
    assert!(info.contains("background: 10, target: 10"), "{info}");
    assert!(
        info.contains("label digit [salient, scored on target images]: bg:-1=10"),
        "{info}"
    );
    ok(&["data", "preview", &p("cm.dat"), "--out", &p("preview.png")]);
    assert!(image::open(p("preview.png")).is_ok());
    // The test split: CIFAR's test batch in order, 3 + 3.
    let text = ok(&[
        "data",
        "build",
        "cifar-mnist",
        "--test",
        "--cifar",
        &p("cifar"),
        "--mnist",
        &p("mnist"),
        "--out",
        &p("cm_test.dat"),
    ]);
    assert!(
        text.contains("3 background + 3 target images, 3x64x64"),
        "{text}"
    );

    // Training takes the image size and channels from the file.
    let text = ok(&[
        "train",
        "--data",
        &p("cm.dat"),
        "--out",
        &p("run"),
        "--steps",
        "2",
        "--width",
        "4",
        "--batch-size",
        "4",
        "--backend",
        "cpu",
        "--quiet",
    ]);
    assert!(text.contains("Cifar-10-MNIST"), "{text}");
    let run = std::fs::read_to_string(d.join("run/run.toml")).unwrap();
    assert!(run.contains("image_size = 32"), "{run}");
    ok(&[
        "encode",
        "--checkpoint",
        &p("run"),
        "--data",
        &p("cm.dat"),
        "--out",
        &p("codes.csv"),
        "--count",
        "3",
    ]);
}

#[test]
fn dsprites_mnist_and_broken_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_mnist(&d.join("mnist"));
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let text = ok(&[
        "data",
        "build",
        "dsprites-mnist",
        "--mnist",
        &p("mnist"),
        "--probability",
        "0.0002",
        "--out",
        &p("ds.dat"),
    ]);
    assert!(text.contains("1x64x64"), "{text}");
    let info = ok(&["data", "info", &p("ds.dat")]);
    assert!(
        info.contains("factors: shape, scale, orientation, x, y"),
        "{info}"
    );

    // A tiny model trained on it, then the FactorVAE score on a grouped set.
    let train = |model: &str, out: &str| train_tiny(&p("ds.dat"), &p(out), &["--model", model]);
    train("double-infogan", "run");
    ok(&[
        "data",
        "build",
        "dsprites-mnist-groups",
        "--mnist",
        &p("mnist"),
        "--groups",
        "20",
        "--per-group",
        "6",
        "--out",
        &p("groups.dat"),
    ]);
    let text = ok(&[
        "eval",
        "factorvae",
        "--checkpoint",
        &p("run"),
        "--data",
        &p("groups.dat"),
        "--out",
        &p("fvae.md"),
    ]);
    assert!(
        text.contains(
            "FactorVAE score of the salient space (20 groups; scales from 120 random target images of"
        ),
        "{text}"
    );
    assert!(std::fs::read_to_string(d.join("fvae.md"))
        .unwrap()
        .contains("held-out groups"));
    // `eval compare --factorvae` gives each model the same score, beside a baseline's.
    let held_out: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("| held-out groups | "))
        .and_then(|l| l.trim_end_matches(" |").parse().ok())
        .expect("a held-out score");
    train("mm-cvae", "vae");
    let table = ok(&[
        "eval",
        "compare",
        &p("run"),
        &p("vae"),
        "--data",
        &p("ds.dat"),
        "--labels",
        "target",
        "--factorvae",
        &p("groups.dat"),
    ]);
    let header = table.lines().find(|l| l.starts_with("| model")).unwrap();
    assert!(
        header.ends_with("FactorVAE (held-out groups) ↑ |"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("| Double InfoGAN"))
        .unwrap();
    let score = format!("{held_out:.3}");
    assert!(
        row.ends_with(&format!(" {score} / {score} / {score} |")),
        "{row} vs {held_out}"
    );
    assert!(table.lines().any(|l| l.starts_with("| MM-cVAE")), "{table}");
    fails(
        &[
            "eval",
            "factorvae",
            "--checkpoint",
            &p("run"),
            "--data",
            &p("ds.dat"),
        ],
        "no fixed_factor and group labels",
    );

    // Broken inputs name the file and the problem, and write nothing.
    std::fs::create_dir_all(d.join("bad")).unwrap();
    std::fs::write(d.join("bad/train-images-idx3-ubyte"), b"\x89PNG not idx").unwrap();
    std::fs::write(d.join("bad/train-labels-idx1-ubyte"), idx(&[1], &[1])).unwrap();
    fails(
        &[
            "data",
            "build",
            "dsprites-mnist",
            "--mnist",
            &p("bad"),
            "--out",
            &p("x.dat"),
        ],
        "wrong magic number",
    );
    assert!(!d.join("x.dat").exists());
    fails(
        &[
            "data",
            "build",
            "cifar-mnist",
            "--mnist",
            &p("mnist"),
            "--cifar",
            &p("nowhere"),
            "--out",
            &p("x.dat"),
        ],
        "could not read",
    );
    let bytes = std::fs::read(d.join("ds.dat")).unwrap();
    std::fs::write(d.join("cut.dat"), &bytes[..bytes.len() - 10]).unwrap();
    fails(&["data", "info", &p("cut.dat")], "truncated");
    fails(
        &[
            "train",
            "--data",
            &p("cut.dat"),
            "--out",
            &p("r"),
            "--backend",
            "cpu",
        ],
        "truncated",
    );
}

fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], data: &[T]) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut buf = Vec::new();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    writer.extend(data.iter().copied()).unwrap();
    writer.finish().unwrap();
    buf
}

#[test]
fn dsprites_mnist_from_the_official_npz_layout() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_mnist(&d.join("mnist"));
    // Three sprites, one per shape, each a filled 8x8 square.
    let mut imgs = vec![0u8; 3 * 4096];
    for i in 0..3 {
        for r in 0..8 {
            for c in 0..8 {
                imgs[i * 4096 + (10 + r) * 64 + 10 + c] = 1;
            }
        }
    }
    let classes: Vec<i64> = (0..3).flat_map(|i| [0, i, 5, 0, 0, 0]).collect();
    let values: Vec<f64> = (0..3)
        .flat_map(|i| [1.0, (i + 1) as f64, 1.0, 0.0, 0.5, 0.5])
        .collect();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(d.join("ds.npz")).unwrap());
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [
        ("imgs.npy", npy(&[3, 64, 64], &imgs)),
        ("latents_classes.npy", npy(&[3, 6], &classes)),
        ("latents_values.npy", npy(&[3, 6], &values)),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let text = ok(&[
        "data",
        "build",
        "dsprites-mnist",
        "--mnist",
        &p("mnist"),
        "--dsprites",
        &p("ds.npz"),
        "--probability",
        "1",
        "--out",
        &p("ds.dat"),
    ]);
    assert!(text.contains("3 background + 3 target images"), "{text}");
    let info = ok(&["data", "info", &p("ds.dat")]);
    assert!(info.contains("t:0=1 t:1=1 t:2=1"), "{info}");
    std::fs::write(d.join("bad.npz"), b"PK\x03\x04 broken").unwrap();
    fails(
        &[
            "data",
            "build",
            "dsprites-mnist",
            "--mnist",
            &p("mnist"),
            "--dsprites",
            &p("bad.npz"),
            "--out",
            &p("x.dat"),
        ],
        "not an npz",
    );
}

#[test]
fn celeba_with_accessories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("celeba");
    std::fs::create_dir_all(root.join("img_align_celeba")).unwrap();
    // Rows: none, glasses, hat, both (dropped), none, glasses, hat.
    let rows = [
        (-1, -1),
        (1, -1),
        (-1, 1),
        (1, 1),
        (-1, -1),
        (1, -1),
        (-1, 1),
    ];
    let mut attributes = format!("{}\nEyeglasses Smiling Wearing_Hat\n", rows.len());
    for (i, (g, h)) in rows.iter().enumerate() {
        let name = format!("{:06}.jpg", i + 1);
        image::RgbImage::from_pixel(178, 218, image::Rgb([30 * i as u8, 100, 200]))
            .save(root.join("img_align_celeba").join(&name))
            .unwrap();
        attributes += &format!("{name} {g:>2}  1 {h:>2}\n");
    }
    std::fs::write(root.join("list_attr_celeba.txt"), attributes).unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let text = ok(&[
        "data",
        "build",
        "celeba",
        "--celeba",
        &p("celeba"),
        "--limit",
        "1",
        "--size",
        "32",
        "--out",
        &p("train.dat"),
    ]);
    assert!(
        text.contains("1 background + 2 target images, 3x32x32"),
        "{text}"
    );
    let info = ok(&["data", "info", &p("train.dat")]);
    assert!(
        info.contains("label accessory [salient, scored on target images]: bg:0=1 t:1=1 t:2=1"),
        "{info}"
    );
    // The test split starts after the paper's whole training split (10,000 / 5,000 / 5,000),
    // whatever --limit says: this small file has no test image, and says so.
    fails(
        &[
            "data",
            "build",
            "celeba",
            "--test",
            "--celeba",
            &p("celeba"),
            "--limit",
            "1",
            "--size",
            "32",
            "--out",
            &p("test.dat"),
        ],
        "none left for the test split (it starts after the first 10000)",
    );
    assert!(!dir.path().join("test.dat").exists());
    std::fs::write(
        root.join("list_attr_celeba.txt"),
        "1\nSmiling\n000001.jpg 1\n",
    )
    .unwrap();
    fails(
        &[
            "data",
            "build",
            "celeba",
            "--celeba",
            &p("celeba"),
            "--out",
            &p("x.dat"),
        ],
        "Eyeglasses is missing",
    );
}

/// The real MNIST files, fetched by `scripts/fetch-mnist.sh` (the test script sets DINFOGAN_MNIST).
#[test]
fn real_mnist_files() {
    let Ok(dir) = std::env::var("DINFOGAN_MNIST") else {
        eprintln!(
            "skipped: set DINFOGAN_MNIST to a folder of the MNIST IDX files (scripts/test.sh does)"
        );
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("ds.dat");
    let text = ok(&[
        "data",
        "build",
        "dsprites-mnist",
        "--mnist",
        &dir,
        "--probability",
        "0.001",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(text.contains("1x64x64"), "{text}");
    // 737,280 sprites at p = 0.001: about 737 targets.
    let info = ok(&["data", "info", file.to_str().unwrap()]);
    let target: usize = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("background: ")
                .and_then(|r| r.split("target: ").nth(1))
        })
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((600..=880).contains(&target), "{info}");

    // The FactorVAE groups, from MNIST's test digits.
    let groups = out.path().join("groups.dat");
    let text = ok(&[
        "data",
        "build",
        "dsprites-mnist-groups",
        "--mnist",
        &dir,
        "--groups",
        "10",
        "--per-group",
        "5",
        "--out",
        groups.to_str().unwrap(),
    ]);
    assert!(text.contains("0 background + 50 target images"), "{text}");
    let info = ok(&["data", "info", groups.to_str().unwrap()]);
    assert!(
        info.contains("label fixed_factor [not scored]: t:0=10 t:1=10 t:2=10 t:3=10 t:4=10"),
        "{info}"
    );
}

/// `kill -9` at moments spread over `data build` (the last ones while the file is written):
/// each time the dataset file is either whole (the same bytes as an uninterrupted build) or
/// absent, and nothing else is left in the folder.
#[test]
fn a_killed_build_leaves_the_whole_file_or_none() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(&dir.path().join("mnist"));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mnist = dir.path().join("mnist");
    let build = |file: &Path| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dinfogan"));
        command.args([
            "data",
            "build",
            "dsprites-mnist",
            "--mnist",
            mnist.to_str().unwrap(),
            "--probability",
            "0.01",
            "--out",
            file.to_str().unwrap(),
        ]);
        command
    };
    let whole = dir.path().join("whole.dat");
    let start = std::time::Instant::now();
    assert!(build(&whole).output().unwrap().status.success());
    let took = start.elapsed();
    let whole = std::fs::read(&whole).unwrap();
    let file = out.join("ds.dat");
    let mut absent = 0;
    for percent in [20u32, 50, 80, 90, 95, 98, 100, 105] {
        let _ = std::fs::remove_file(&file);
        let mut child = build(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * percent / 100);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        match std::fs::read(&file) {
            Ok(bytes) => assert!(bytes == whole, "a killed build left a partial file"),
            Err(_) => absent += 1,
        }
        assert!(
            names.iter().all(|n| n == "ds.dat"),
            "killed at {percent}%: {names:?} left"
        );
    }
    assert!(absent > 0, "the kills landed while building");
}

/// A full disk (a 256 KiB tmpfs, mounted in a user and mount namespace of its own): one
/// sentence naming the file, exit code 1, and nothing half-written left on the disk. Skipped
/// where namespaces are not allowed (some containers).
#[test]
fn a_full_disk_ends_in_a_sentence_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(&dir.path().join("mnist"));
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size=256k tmpfs {}",
            disk.display()
        ))
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: this machine does not let a test mount a tmpfs in a namespace");
        return;
    }
    let script = format!(
        "mount -t tmpfs -o size=256k tmpfs {disk} && {bin} data build dsprites-mnist --mnist {mnist} \
         --probability 0.001 --out {disk}/ds.dat; rc=$?; echo left: $(ls -A {disk}); exit $rc",
        disk = disk.display(),
        bin = env!("CARGO_BIN_EXE_dinfogan"),
        mnist = dir.path().join("mnist").display(),
    );
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("error: could not write") && stderr.contains("ds.dat"),
        "{stderr}"
    );
    assert_eq!(stdout.trim(), "left:", "{stdout}");
}

/// `data folders`: a dataset file as image folders, sorted by a label, which then train and
/// evaluate through the folder route.
#[test]
fn a_dataset_file_as_image_folders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_mnist(&d.join("mnist"));
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    ok(&[
        "data",
        "build",
        "dsprites-mnist",
        "--mnist",
        &p("mnist"),
        "--size",
        "32",
        "--probability",
        "0.0002",
        "--out",
        &p("ds.dat"),
    ]);
    let text = ok(&[
        "data",
        "folders",
        &p("ds.dat"),
        "--out",
        &p("folders"),
        "--count",
        "20",
        "--by",
        "x (4 bins)",
    ]);
    assert!(
        text.contains("wrote 20 background + 20 target images (32x32)"),
        "{text}"
    );
    let pngs = |dir: &Path| -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .count()
    };
    assert_eq!(pngs(&d.join("folders/background")), 20);
    let classes: Vec<_> = std::fs::read_dir(d.join("folders/target"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        classes.iter().all(|c| c.starts_with("x-4-bins-")),
        "{classes:?}"
    );
    assert!(classes.len() >= 2, "{classes:?}");
    let targets: usize = classes
        .iter()
        .map(|c| pngs(&d.join("folders/target").join(c)))
        .sum();
    assert_eq!(targets, 20);
    let image = image::open(
        d.join("folders/background")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!((image.width(), image.height()), (32, 32));

    // The folders train, and their sub-folders are scored as a salient sub-class.
    train_tiny(&p("folders"), &p("run"), &["--channels", "1"]);
    let table = ok(&[
        "eval",
        "separation",
        "--checkpoint",
        &p("run"),
        "--data",
        &p("folders"),
    ]);
    assert!(table.contains("target_subclass"), "{table}");

    // Never into a folder that holds files.
    fails(
        &["data", "folders", &p("ds.dat"), "--out", &p("folders")],
        "is not empty",
    );
    fails(
        &[
            "data",
            "folders",
            &p("ds.dat"),
            "--out",
            &p("new"),
            "--by",
            "colour",
        ],
        "has no label \"colour\"; its labels are",
    );
}

#[test]
fn preview_of_the_built_in_data_and_of_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // A strip at the images' own size: 3 backgrounds then 3 targets, each the renderer's image.
    ok(&[
        "data",
        "preview",
        "builtin",
        "--size",
        "16",
        "--count",
        "3",
        "--strip",
        "--out",
        &p("builtin.png"),
    ]);
    let strip = image::open(p("builtin.png")).unwrap().to_rgb8();
    assert_eq!(strip.dimensions(), (6 * 16, 16));
    let data = dinfogan::builtin::BuiltinDataset::new(0, 3);
    for (tile, domain, index) in [
        (0, dinfogan::builtin::Domain::Background, 0),
        (4, dinfogan::builtin::Domain::Target, 1),
    ] {
        let expected = data.image(domain, index, 16, 3);
        for (x, y) in [(0, 0), (7, 9), (15, 15)] {
            let pixel = strip.get_pixel(tile * 16 + x, y);
            for c in 0..3 {
                let want = dinfogan::pixels::byte(expected[c * 256 + y as usize * 16 + x as usize]);
                assert_eq!(pixel[c], want, "tile {tile} ({x}, {y}) channel {c}");
            }
        }
    }
    // A folder is read like `train --data FOLDER` reads it, at --size.
    for (domain, grey) in [("background", 40u8), ("target", 220)] {
        std::fs::create_dir_all(dir.path().join("folder").join(domain)).unwrap();
        image::GrayImage::from_pixel(20, 20, image::Luma([grey]))
            .save(dir.path().join("folder").join(domain).join("a.png"))
            .unwrap();
    }
    ok(&[
        "data",
        "preview",
        &p("folder"),
        "--size",
        "8",
        "--channels",
        "1",
        "--strip",
        "--count",
        "1",
        "--out",
        &p("folder.png"),
    ]);
    let strip = image::open(p("folder.png")).unwrap().to_rgb8();
    assert_eq!(strip.dimensions(), (16, 8));
    assert_eq!(strip.get_pixel(3, 3)[0], 40);
    assert_eq!(strip.get_pixel(11, 3)[0], 220);
    fails(
        &[
            "data",
            "preview",
            "builtin",
            "--size",
            "4",
            "--out",
            &p("x.png"),
        ],
        "--size must be 8 to 512",
    );
    fails(
        &["data", "preview", &p("missing"), "--out", &p("x.png")],
        "does not exist: give builtin, a dataset file, or a folder",
    );
}
