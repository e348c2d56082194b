//! Checkpoints and exported models give back exactly what was saved, and a resumed run
//! continues exactly as the uninterrupted one (optimiser state included).

mod common;

use std::sync::Mutex;

use burn::prelude::*;
use common::*;
use dinfogan::builtin::Domain;
use dinfogan::{Error, InferenceModel, StatePart, Trainer};

/// The device RNG is global: tests that replay random streams must not interleave.
static RNG: Mutex<()> = Mutex::new(());

fn trained(seed: u64, iterations: usize) -> (Trainer, Tensor<4>, Tensor<4>) {
    trained_with(tiny_config(), seed, iterations)
}

fn trained_with(
    config: dinfogan::TrainConfig,
    seed: u64,
    iterations: usize,
) -> (Trainer, Tensor<4>, Tensor<4>) {
    let mut trainer = Trainer::new(config.clone(), &cpu(), seed).unwrap();
    let bg = builtin_batch(&config, Domain::Background, 0, 4, trainer.device());
    let t = builtin_batch(&config, Domain::Target, 0, 4, trainer.device());
    for _ in 0..iterations {
        trainer.iteration(bg.clone(), t.clone());
    }
    (trainer, bg, t)
}

fn all_parameters(t: &Trainer) -> Vec<Vec<f32>> {
    let mut p = parameters(&t.generator);
    p.extend(parameters(&t.discriminator));
    p.extend(parameters(t.regulariser.as_ref().unwrap()));
    p
}

#[test]
fn checkpoint_round_trip_restores_every_weight() {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (trainer, _, _) = trained(1, 2);
    let state = trainer.state().unwrap();
    let mut other = Trainer::new(tiny_config(), &cpu(), 99).unwrap();
    assert_ne!(all_parameters(&trainer), all_parameters(&other));
    other.load_state(state.clone()).unwrap();
    assert_eq!(all_parameters(&trainer), all_parameters(&other));
}

#[test]
fn resume_continues_exactly_with_the_optimiser_state() {
    resume_continues_exactly(tiny_config());
}

/// The Table 5 network carries state beyond weights and batch-norm statistics: the spectral
/// norms' u vectors and sigmas. They travel in the checkpoint, or the resumed run would differ.
#[test]
fn table_5_resumes_exactly_and_exports() {
    resume_continues_exactly(tiny_mri_config());
    exported_round_trip(tiny_mri_config());
}

fn resume_continues_exactly(config: dinfogan::TrainConfig) {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (mut original, bg, t) = trained_with(config.clone(), 3, 2);
    let state = original.state().unwrap();

    let mut resumed = Trainer::new(config.clone(), &cpu(), 50).unwrap();
    resumed.load_state(state.clone()).unwrap();

    // The same weights with fresh (empty) Adam moments: a different next step.
    let fresh = Trainer::new(config.clone(), &cpu(), 51)
        .unwrap()
        .state()
        .unwrap();
    let mut restarted = Trainer::new(config, &cpu(), 52).unwrap();
    let mut mixed = state.clone();
    for part in [
        StatePart::OptimGenerator,
        StatePart::OptimDiscriminator,
        StatePart::OptimRegulariser,
    ] {
        if let Some(bytes) = fresh.get(part) {
            mixed.insert(part, bytes.to_vec());
        }
    }
    restarted.load_state(mixed).unwrap();

    for trainer in [&mut original, &mut resumed, &mut restarted] {
        trainer.device().seed(7);
        trainer.iteration(bg.clone(), t.clone());
    }
    let (a, b) = (all_parameters(&original), all_parameters(&resumed));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, f32::max);
    assert_eq!(
        worst, 0.0,
        "the resumed run differs from the original by up to {worst}"
    );
    assert_ne!(all_parameters(&original), all_parameters(&restarted));
}

#[test]
fn exported_model_round_trip_gives_the_same_images_and_codes() {
    exported_round_trip(tiny_config());
}

fn exported_round_trip(config: dinfogan::TrainConfig) {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (trainer, bg, t) = trained_with(config, 5, 3);
    let model = trainer.inference_model();
    let bytes = model.to_bytes().unwrap();
    let loaded = InferenceModel::from_bytes(&bytes, &cpu()).unwrap();
    assert_eq!(loaded.config(), model.config());

    let device = model.device().clone();
    let (z, s) = model.sample_latents(3);
    let a = values(model.generate(z.clone(), s.clone()).unwrap());
    let b = values(loaded.generate(z, s).unwrap());
    assert_eq!(a, b);
    let images = Tensor::<4>::from_data(bg.into_data(), &device);
    let (za, sa) = model.encode(images.clone()).unwrap();
    let (zb, sb) = loaded.encode(images).unwrap();
    assert_eq!(values(za), values(zb));
    assert_eq!(values(sa), values(sb));

    // Evaluation mode uses the running batch-norm statistics, which training moved: they
    // travel with the weights (a fresh model gives other images).
    let fresh = InferenceModel::new(model.config().clone(), model.salient_prior(), &cpu()).unwrap();
    let fresh_bytes = fresh.to_bytes().unwrap();
    assert_ne!(fresh_bytes, bytes);
    let target = Tensor::<4>::from_data(t.into_data(), &device);
    assert_eq!(
        values(model.reconstruct(target.clone(), true).unwrap()),
        values(loaded.reconstruct(target, true).unwrap())
    );
}

#[test]
fn corrupt_model_files_are_refused_with_a_sentence() {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let model = InferenceModel::new(tiny_config().model, Default::default(), &cpu()).unwrap();
    let bytes = model.to_bytes().unwrap();
    let err = InferenceModel::from_bytes(b"PK\x03\x04 a zip file", &cpu()).unwrap_err();
    assert!(matches!(err, Error::NotAModelFile(_)), "{err}");
    assert!(err.to_string().contains("not a Double InfoGAN model file"));
    let err = InferenceModel::from_bytes(&bytes[..bytes.len() / 2], &cpu()).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    let mut tampered = bytes.clone();
    tampered[8] = 9;
    let err = InferenceModel::from_bytes(&tampered, &cpu()).unwrap_err();
    assert!(err.to_string().contains("version 9"), "{err}");
}

#[test]
fn a_checkpoint_of_another_configuration_is_refused() {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (trainer, _, _) = trained(8, 0);
    let state = trainer.state().unwrap();
    let mut config = tiny_config();
    config.model.width = 8;
    let mut other = Trainer::new(config, &cpu(), 0).unwrap();
    let err = other.load_state(state).unwrap_err().to_string();
    assert!(err.contains("different model configuration"), "{err}");
}
