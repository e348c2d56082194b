//! Fuzzing every parser of a file a user or a stranger can hand the CLI: random bytes, and
//! valid files with bytes overwritten, inserted or cut off. Each parser must answer with a
//! value or an error, never a panic, and never allocate what the input merely claims.
//! `cargo test --release --workspace` runs a few hundred cases per parser; for a longer hunt:
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test --release --workspace --bin dinfogan fuzz::
//! ```
//!
//! A failing case is shrunk by proptest, saved under `proptest-regressions/` (committed: it is
//! replayed before new cases on every run) and then fixed in the parser.

use std::io::Write;

use dinfogan::builtin::Domain;
use proptest::prelude::*;

use crate::data::file::{DatasetFile, LabelSpec};
use crate::data::{celeba, cifar, dsprites, idx, nifti};

/// A valid input with some bytes overwritten, some inserted, and maybe cut short.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len().max(1);
    (
        proptest::collection::vec((0..len, any::<u8>()), 0..6),
        proptest::collection::vec((0..len, any::<u8>()), 0..3),
        proptest::option::of(0..len),
    )
        .prop_map(move |(overwrite, insert, cut)| {
            let mut bytes = seed.clone();
            for (at, value) in overwrite {
                if let Some(b) = bytes.get_mut(at) {
                    *b = value;
                }
            }
            for (at, value) in insert {
                bytes.insert(at.min(bytes.len()), value);
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            bytes
        })
}

/// Random bytes, or a mutation of `seed`.
fn inputs(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        mutated(seed)
    ]
}

fn dataset_file() -> Vec<u8> {
    let mut file = DatasetFile::new(
        "test",
        "two images",
        4,
        1,
        vec![LabelSpec::salient("digit")],
        &["x"],
    );
    file.push(Domain::Background, &[3], &[0.5], &[7; 16]);
    file.push(Domain::Target, &[4], &[0.25], &[9; 16]);
    file.to_bytes()
}

/// Writes `bytes` to a temporary file for the parsers that read paths.
fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    file
}

fn npz() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    dsprites::tests::write_small_npz(&path);
    std::fs::read(path).unwrap()
}

fn png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// A small NIfTI-1 volume (plain, not gzipped, so that mutations reach the header fields).
fn nifti() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.nii");
    let dims = [4, 3, 2];
    let voxels: Vec<f32> = (0..24).map(|v| v as f32).collect();
    nifti::synthetic_nifti::write_nifti(
        &path,
        dims,
        &voxels,
        nifti::synthetic_nifti::IDENTITY,
        false,
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

/// `default` cases per parser, or `PROPTEST_CASES` for a longer hunt: a config that names its
/// cases ignores the variable, so it is read here.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn fuzz_dataset_file(bytes in inputs(dataset_file())) {
        if let Ok(file) = DatasetFile::from_bytes(&bytes) {
            // What parsed is whole: every image, label and factor the header declares.
            let h = &file.header;
            prop_assert_eq!(file.domains.len(), h.count);
            prop_assert_eq!(file.pixels.len(), h.count * file.image_len());
            prop_assert_eq!(file.labels.len(), h.count * h.labels.len());
        }
        let file = temp_file(&bytes);
        let _ = DatasetFile::peek(file.path());
    }

    #[test]
    fn fuzz_idx(bytes in inputs(idx::encode(&[2, 3, 3], &[5; 18]))) {
        if let Ok(parsed) = idx::parse(&bytes) {
            // The data holds exactly what the dimensions declare.
            prop_assert_eq!(parsed.data.len(), parsed.dims.iter().product::<usize>());
        }
    }

    #[test]
    fn fuzz_cifar(bytes in inputs([vec![3u8], vec![200u8; 3072]].concat())) {
        if let Ok(set) = cifar::Cifar::parse(&bytes) {
            for i in 0..set.len() {
                prop_assert_eq!(set.image(i).len(), 3072);
            }
        }
    }

    #[test]
    fn fuzz_celeba_attributes(bytes in inputs(
        b"2\nEyeglasses Wearing_Hat\n000001.jpg  1 -1\n000002.jpg -1  1\n".to_vec()
    )) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(table) = celeba::Attributes::parse(&text) {
            for split in [celeba::Split::Train, celeba::Split::Test] {
                let _ = celeba::select(&table, split, Some(3));
            }
        }
    }

    #[test]
    fn fuzz_dsprites_npz(bytes in inputs(npz())) {
        let file = temp_file(&bytes);
        if let Ok(latents) = dsprites::latents(file.path()) {
            let count = latents.factors.len();
            let _ = dsprites::stream_images(file.path(), count, &mut |_| true, &mut |_, _| {});
        }
    }

    #[test]
    fn fuzz_nifti(bytes in inputs(nifti())) {
        let file = temp_file(&bytes);
        if let Ok(volume) = nifti::read_nifti(file.path()) {
            // The voxels are exactly what the dimensions declare.
            prop_assert_eq!(volume.data.len(), volume.dims.iter().product::<usize>());
        }
    }

    #[test]
    fn fuzz_images(bytes in inputs(png())) {
        let file = temp_file(&bytes);
        let _ = crate::images::load_resized(file.path(), 8, 3);
        let _ = crate::images::load(file.path(), 5, 1);
    }

    #[test]
    fn fuzz_toml_configuration(bytes in inputs(
        b"batch_size = 8\n[model]\nwidth = 16\n[loss]\ncontrastive = 0.5\n".to_vec()
    )) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(config) = toml::from_str::<dinfogan::TrainConfig>(&text) {
            let _ = config.validate();
        }
    }
}

/// The mutations of a dataset file reach both outcomes: some still parse (those that only
/// overwrite labels, factors or pixels: the format is strict about everything else), most are
/// refused.
#[test]
fn dataset_mutations_reach_both_outcomes() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = mutated(dataset_file());
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..400 {
        let bytes = strategy.new_tree(&mut runner).unwrap().current();
        match DatasetFile::from_bytes(&bytes) {
            Ok(_) => parsed += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        parsed >= 5 && refused >= 200,
        "{parsed} parsed, {refused} refused"
    );
}
