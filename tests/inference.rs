//! encode / generate / swap / traverse / grid: shapes and the semantics of each operation.

mod common;

use burn::prelude::*;
use common::*;
use dinfogan::{InferenceModel, SalientPrior};

fn model() -> InferenceModel {
    InferenceModel::new(tiny_config().model, SalientPrior::Normal, &cpu()).unwrap()
}

#[test]
fn traverse_moves_only_the_chosen_dimension() {
    let _rng = device_rng_lock();
    let model = model();
    let (z, s) = model.sample_latents(1);
    let values = [-1.5, 0.0, 1.5];
    let images = model.traverse(z.clone(), s.clone(), 1, &values).unwrap();
    assert_eq!(images.dims(), [3, 3, 32, 32]);
    // The middle image is G(z, s with s_1 = 0).
    let mut s_mid = common::values(s.clone());
    s_mid[1] = 0.0;
    let s_mid = Tensor::<2>::from_data(TensorData::new(s_mid, [1, 3]), model.device());
    let direct = common::values(model.generate(z.clone(), s_mid).unwrap());
    let middle = common::values(images.narrow(0, 1, 1));
    assert!(max_abs_diff(&direct, &middle) < 1e-5);
    let err = model.traverse(z, s, 3, &values).unwrap_err().to_string();
    assert!(err.contains("0 to 2"), "{err}");
}

#[test]
fn grid_rows_share_z_and_the_first_column_is_background() {
    let _rng = device_rng_lock();
    let model = model();
    let (rows, cols) = (2, 4);
    assert_eq!(
        model.sample_grid(rows, cols, 1, 2).unwrap().dims(),
        [8, 3, 32, 32]
    );
    let (z, s) = model.grid_latents(rows, cols, 1, 2);
    let (z, s) = (common::values(z), common::values(s));
    let (l, m) = (4, 3);
    let at =
        |v: &[f32], width: usize, r: usize, c: usize| v[(r * cols + c) * width..][..width].to_vec();
    for r in 0..rows {
        for c in 0..cols {
            assert_eq!(at(&z, l, r, c), at(&z, l, r, 0), "a row shares its z");
            assert_eq!(at(&s, m, r, c), at(&s, m, 0, c), "a column shares its s");
            if c == 0 {
                assert!(
                    at(&s, m, r, c).iter().all(|&v| v == 0.0),
                    "column 0 is background"
                );
            } else {
                assert!(
                    at(&s, m, r, c).iter().all(|&v| v != 0.0),
                    "targets have s != 0"
                );
            }
        }
    }
    assert_ne!(at(&z, l, 0, 0), at(&z, l, 1, 0), "rows differ in z");
    assert_ne!(at(&s, m, 0, 1), at(&s, m, 0, 2), "columns differ in s");

    // Seeded on the host: the same seeds give the same latents, each seed moves only its part.
    let again = model.grid_latents(rows, cols, 1, 2);
    assert_eq!(common::values(again.0), z);
    assert_eq!(common::values(again.1), s);
    let (z2, s2) = model.grid_latents(rows, cols, 9, 2);
    assert_ne!(common::values(z2), z);
    assert_eq!(common::values(s2), s);
}

#[test]
fn seeded_normal_numbers_have_the_moments_of_a_standard_normal() {
    let _rng = device_rng_lock();
    let x = dinfogan::latent::seeded_normal(20_001, 5);
    assert_eq!(x.len(), 20_001);
    let mean = x.iter().sum::<f32>() / x.len() as f32;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / x.len() as f32;
    assert!(mean.abs() < 0.03, "mean {mean}");
    assert!((var - 1.0).abs() < 0.05, "variance {var}");
    assert_eq!(dinfogan::latent::seeded_normal(7, 5), x[..7].to_vec());
}

#[test]
fn swap_and_reconstruct_follow_the_paper() {
    let _rng = device_rng_lock();
    let model = model();
    let device = model.device().clone();
    let x = Tensor::<4>::random(
        [2, 3, 32, 32],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let y = Tensor::<4>::random(
        [2, 3, 32, 32],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let (gained, removed) = model.swap(x.clone(), y.clone()).unwrap();
    let (zx, _) = model.encode(x.clone()).unwrap();
    let (zy, sy) = model.encode(y.clone()).unwrap();
    let expected_gained = common::values(model.generate(zx, sy.clone()).unwrap());
    let expected_removed = common::values(model.generate(zy.clone(), sy.zeros_like()).unwrap());
    assert!(max_abs_diff(&common::values(gained), &expected_gained) < 1e-5);
    assert!(max_abs_diff(&common::values(removed.clone()), &expected_removed) < 1e-5);
    // Removing the salient features of y is reconstructing y as a background image.
    let as_background = common::values(model.reconstruct(y.clone(), false).unwrap());
    assert!(max_abs_diff(&common::values(removed.clone()), &as_background) < 1e-5);

    // The viewer's panel: both reconstructions, then the swap, in one pass.
    let all = model.swap_and_reconstruct(x.clone(), y.clone()).unwrap();
    assert_eq!(all.dims(), [8, 3, 32, 32]);
    let part = |k: usize| common::values(all.clone().narrow(0, 2 * k, 2));
    let rec_x = common::values(model.reconstruct(x.clone(), false).unwrap());
    let rec_y = common::values(model.reconstruct(y.clone(), true).unwrap());
    assert!(max_abs_diff(&part(0), &rec_x) < 1e-5);
    assert!(max_abs_diff(&part(1), &rec_y) < 1e-5);
    assert!(max_abs_diff(&part(2), &expected_gained) < 1e-5);
    assert!(max_abs_diff(&part(3), &expected_removed) < 1e-5);
    let one = y.narrow(0, 0, 1);
    let err = model.swap_and_reconstruct(x, one).unwrap_err().to_string();
    assert!(err.contains("2 background and 1 target"), "{err}");
}

#[test]
fn images_of_the_wrong_shape_are_refused() {
    let _rng = device_rng_lock();
    let model = model();
    let wrong = Tensor::<4>::zeros([1, 1, 32, 32], model.device());
    let err = model.encode(wrong).unwrap_err().to_string();
    assert!(err.contains("3x32x32") && err.contains("1x32x32"), "{err}");
}

#[test]
fn training_mode_encoding_is_noisy_batch_dependent_and_seeded() {
    let _rng = device_rng_lock();
    let model = model();
    let config = tiny_config();
    let images = builtin_batch(
        &config,
        dinfogan::builtin::Domain::Target,
        0,
        4,
        model.device(),
    );
    let (z, s) = model.encode(images.clone()).unwrap();
    let inference = (common::values(z), common::values(s));
    let train = |seed| {
        let (z, s) = model.encode_training_mode(images.clone(), seed).unwrap();
        assert!(!z.is_autodiff(), "codes come back on the plain device");
        (common::values(z), common::values(s))
    };
    let (a, b, other) = (train(1), train(1), train(2));
    assert_eq!(a, b, "the same seed gives the same codes");
    assert!(
        max_abs_diff(&a.0, &other.0) > 1e-4,
        "noise changes with the seed"
    );
    assert!(
        max_abs_diff(&a.0, &inference.0) > 1e-4,
        "not the inference codes"
    );
    // Batch statistics: without noise, an image's codes still depend on the images beside it.
    let mut quiet = tiny_config().model;
    quiet.noise_std = 0.0;
    let quiet = InferenceModel::new(quiet, SalientPrior::Normal, &cpu()).unwrap();
    let codes = |n: usize| {
        let (_, s) = quiet
            .encode_training_mode(images.clone().narrow(0, 0, n), 0)
            .unwrap();
        common::values(s)
    };
    let (pair, four) = (codes(2), codes(4));
    assert!(max_abs_diff(&pair, &four[..6]) > 1e-4);
    // The inference model is untouched: evaluation mode gives what it gave.
    let (z, _) = model.encode(images).unwrap();
    assert_eq!(common::values(z), inference.0);
}

#[test]
fn a_model_file_claiming_a_huge_network_is_refused_before_allocating() {
    let _rng = device_rng_lock();
    let mut model = tiny_config().model;
    model.width = 1 << 40;
    let header = format!(
        r#"{{"model":{},"salient_prior":"normal"}}"#,
        serde_json::to_string(&model).unwrap()
    );
    let bytes = dinfogan::infer::FORMAT.frame(header.as_bytes(), 0);
    let err = InferenceModel::from_bytes(&bytes, &cpu())
        .unwrap_err()
        .to_string();
    assert!(err.contains("width must be at most 1024"), "{err}");
}
