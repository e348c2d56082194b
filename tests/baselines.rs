//! The paper's baselines learn on the built-in data, through the same batches as Double InfoGAN.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use common::*;
use dinfogan::builtin::Domain;
use dinfogan::cvae::{CvaeConfig, CvaeTrainer};
use dinfogan::mm_cvae::{MmCvaeConfig, MmCvaeTrainer};
use dinfogan::ModelConfig;

fn value(t: burn::prelude::Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

fn small() -> ModelConfig {
    ModelConfig {
        image_size: 32,
        channels: 3,
        width: 8,
        common_dim: 8,
        salient_dim: 4,
        noise_std: 0.0,
    }
}

#[test]
fn mm_cvae_reconstruction_falls_and_every_term_is_finite() {
    let config = MmCvaeConfig::new(small());
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

#[test]
fn cvae_reconstruction_falls_and_its_discriminator_starts_at_chance() {
    let config = CvaeConfig::new(small());
    let mut trainer = CvaeTrainer::new(config.clone(), &cpu(), 4).unwrap();
    let mut train = tiny_config();
    train.model = config.model.clone();
    let batch = 16;
    let (mut reconstruction, mut discriminator) = (Vec::new(), Vec::new());
    for step in 0..60 {
        let start = (step % 4) * batch;
        let bg = builtin_batch(&train, Domain::Background, start, batch, trainer.device());
        let t = builtin_batch(&train, Domain::Target, start, batch, trainer.device());
        let losses = trainer.step(bg, t);
        assert!(value(losses.kl.clone()).is_finite());
        assert!(value(losses.total_correlation.clone()).is_finite());
        reconstruction.push(value(losses.reconstruction));
        discriminator.push(value(losses.discriminator));
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let (first, last) = (mean(&reconstruction[..5]), mean(&reconstruction[55..]));
    assert!(last < 0.7 * first, "reconstruction {first} -> {last}");
    // T starts at chance, 2 ln 2 for its two terms.
    assert!(
        (discriminator[0] - 2.0 * 2f32.ln()).abs() < 0.3,
        "{}",
        discriminator[0]
    );
}

/// The sum of |gradient| over a module's parameters.
fn gradient_mass<M: Module>(module: &M, grads: &burn::tensor::Gradients) -> f32 {
    struct Mass<'a>(&'a burn::tensor::Gradients, f32);
    impl ModuleVisitor for Mass<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = param.val().grad(self.0) {
                self.1 += g.abs().sum().into_scalar::<f32>();
            }
        }
    }
    let mut mass = Mass(grads, 0.0);
    module.visit(&mut mass);
    mass.1
}

/// The total-correlation term as published has a gradient (the port in MM-cVAE's code clamps
/// the scores to a constant, and has none): it reaches both encoders through the codes.
#[test]
fn cvae_total_correlation_term_has_a_gradient() {
    let config = CvaeConfig::new(small());
    let trainer = CvaeTrainer::new(config.clone(), &cpu(), 5).unwrap();
    let mut train = tiny_config();
    train.model = config.model.clone();
    let t = builtin_batch(&train, Domain::Target, 0, 8, trainer.device());
    let s = trainer.model.salient.forward(t.clone()).sample();
    let z = trainer.model.common.forward(t).sample();
    let frozen = trainer.tc.clone().no_grad();
    let grads = CvaeTrainer::total_correlation(&frozen, s, z).backward();
    assert!(gradient_mass(&trainer.model.salient, &grads) > 0.0);
    assert!(gradient_mass(&trainer.model.common, &grads) > 0.0);
    assert_eq!(
        gradient_mass(&trainer.tc, &grads),
        0.0,
        "T is frozen in the VAE's step"
    );
}
