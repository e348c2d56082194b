//! The paper's baselines learn on the built-in data, through the same batches as Double InfoGAN.

mod common;

use common::*;
use dinfogan::builtin::Domain;
use dinfogan::mm_cvae::{MmCvaeConfig, MmCvaeTrainer};
use dinfogan::ModelConfig;

fn value(t: burn::prelude::Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

#[test]
fn mm_cvae_reconstruction_falls_and_every_term_is_finite() {
    let model = ModelConfig {
        image_size: 32,
        channels: 3,
        width: 8,
        common_dim: 8,
        salient_dim: 4,
        noise_std: 0.0,
    };
    let config = MmCvaeConfig::new(model);
    let mut trainer = MmCvaeTrainer::new(config.clone(), &cpu(), 3).unwrap();
    let mut train = tiny_config();
    train.model = config.model.clone();
    let batch = 16;
    let mut reconstruction = Vec::new();
    for step in 0..60 {
        let start = (step % 4) * batch;
        let bg = builtin_batch(&train, Domain::Background, start, batch, trainer.device());
        let t = builtin_batch(&train, Domain::Target, start, batch, trainer.device());
        let losses = trainer.step(bg, t);
        for term in [
            &losses.kl,
            &losses.mmd_common,
            &losses.mmd_salient,
            &losses.total,
        ] {
            let v = value(term.clone());
            assert!(v.is_finite() && v >= 0.0, "step {step}: {v}");
        }
        reconstruction.push(value(losses.reconstruction));
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (first, last) = (mean(&reconstruction[..5]), mean(&reconstruction[55..]));
    assert!(
        last < 0.7 * first,
        "the reconstruction error should fall: {first} over the first steps, {last} over the last"
    );
}
