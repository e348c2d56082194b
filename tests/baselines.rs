//! The paper's baselines learn on the built-in data, through the same batches as Double
//! InfoGAN, resume exactly, and export like it.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use common::*;
use dinfogan::builtin::Domain;
use dinfogan::methods::cvae::CvaeTrainer;
use dinfogan::methods::mm_cvae::MmCvaeTrainer;
use dinfogan::{InferenceModel, LossTerm, Method, ModelConfig, TrainConfig, Training};

/// The device RNG is global: the resume test replays a random stream, so no other test of this
/// file may draw from it meanwhile.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn small(method: Method) -> TrainConfig {
    TrainConfig {
        method,
        model: ModelConfig {
            image_size: 32,
            channels: 3,
            width: 8,
            common_dim: 8,
            salient_dim: 4,
            noise_std: 0.0,
            ..Default::default()
        },
        ..tiny_config()
    }
}

#[test]
fn mm_cvae_reconstruction_falls_and_every_term_is_finite() {
    let _guard = rng_lock();
    let train = small(Method::MmCvae);
    let mut trainer = MmCvaeTrainer::new(train.clone(), &cpu(), 3).unwrap();
    let batch = 16;
    let mut reconstruction = Vec::new();
    for step in 0..60 {
        let start = (step % 4) * batch;
        let bg = builtin_batch(&train, Domain::Background, start, batch, trainer.device());
        let t = builtin_batch(&train, Domain::Target, start, batch, trainer.device());
        let losses = trainer.step(bg, t).values();
        for (term, v) in losses.iter() {
            assert!(v.is_finite() && v >= 0.0, "step {step}: {term} {v}");
        }
        reconstruction.push(losses[LossTerm::VaeReconstruction]);
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
    let _guard = rng_lock();
    let train = small(Method::Cvae);
    let mut trainer = CvaeTrainer::new(train.clone(), &cpu(), 4).unwrap();
    let batch = 16;
    let (mut reconstruction, mut discriminator) = (Vec::new(), Vec::new());
    for step in 0..60 {
        let start = (step % 4) * batch;
        let bg = builtin_batch(&train, Domain::Background, start, batch, trainer.device());
        let t = builtin_batch(&train, Domain::Target, start, batch, trainer.device());
        let losses = trainer.step(bg, t).values();
        assert!(losses[LossTerm::VaeKl].is_finite());
        assert!(losses[LossTerm::VaeTotalCorrelation].is_finite());
        reconstruction.push(losses[LossTerm::VaeReconstruction]);
        discriminator.push(losses[LossTerm::TotalCorrelationDiscriminator]);
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
    let _guard = rng_lock();
    let train = small(Method::Cvae);
    let trainer = CvaeTrainer::new(train.clone(), &cpu(), 5).unwrap();
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

/// Codes and images of a model on fixed inputs, as host numbers.
fn outputs(model: &InferenceModel, images: &Tensor<4>) -> Vec<Vec<f32>> {
    let images = Tensor::<4>::from_data(images.to_data(), model.device());
    let (z, s) = model.encode(images).unwrap();
    let drawn = model.generate(z.clone(), s.clone()).unwrap();
    vec![values(z), values(s), values(drawn)]
}

/// Through the shared interface: a VAE restored from its state continues exactly as the
/// original (its Adam moments and, for cVAE, T's travel too), and its exported file gives
/// back the same codes and images, saying which method it is.
#[test]
fn vaes_resume_exactly_and_export_through_the_shared_interface() {
    let _guard = rng_lock();
    for method in [Method::MmCvae, Method::Cvae] {
        let config = small(method);
        let mut original = dinfogan::trainer(config.clone(), &cpu(), 11).unwrap();
        let bg = builtin_batch(&config, Domain::Background, 0, 8, original.device());
        let t = builtin_batch(&config, Domain::Target, 0, 8, original.device());
        for step in 0..3 {
            original.device().seed(step);
            original.iteration(bg.clone(), t.clone());
        }
        let state = original.state().unwrap();
        let parts: Vec<_> = state.iter().map(|(part, _)| part).collect();
        assert_eq!(parts, dinfogan::TrainerState::parts_of(&config), "{method}");
        let mut resumed = dinfogan::trainer(config.clone(), &cpu(), 99).unwrap();
        resumed.load_state(state).unwrap();
        let mut reported = Vec::new();
        for trainer in [&mut original, &mut resumed] {
            trainer.device().seed(42);
            let values = trainer.iteration(bg.clone(), t.clone()).values();
            reported.push(values.iter().map(|(_, v)| v).collect::<Vec<_>>());
        }
        assert_eq!(
            reported[0], reported[1],
            "{method}: the resumed step differs"
        );
        let (a, b) = (original.inference_model(), resumed.inference_model());
        assert_eq!(outputs(&a, &t), outputs(&b, &t), "{method}");

        let bytes = a.to_bytes().unwrap();
        let loaded = InferenceModel::from_bytes(&bytes, &cpu()).unwrap();
        assert_eq!(loaded.method(), method);
        assert_eq!(loaded.config(), a.config());
        assert_eq!(outputs(&loaded, &t), outputs(&a, &t), "{method}");
        // A Double InfoGAN model of the same shape is another file.
        let gan = InferenceModel::new(config.model.clone(), Default::default(), &cpu()).unwrap();
        assert_ne!(outputs(&gan, &t), outputs(&a, &t));
    }
}

/// Batches drawn from both domains together split unevenly (the paper's presets): every
/// method's step takes background and target batches of different sizes, down to one target.
#[test]
fn vae_steps_take_domains_of_different_sizes() {
    let _guard = rng_lock();
    for method in [Method::MmCvae, Method::Cvae] {
        let config = small(method);
        let mut trainer = dinfogan::trainer(config.clone(), &cpu(), 12).unwrap();
        for (nx, ny) in [(5, 3), (2, 6), (7, 1)] {
            let bg = builtin_batch(&config, Domain::Background, 0, nx, trainer.device());
            let t = builtin_batch(&config, Domain::Target, 0, ny, trainer.device());
            let values = trainer.iteration(bg, t).values();
            assert_eq!(values.first_non_finite(), None, "{method} {nx}+{ny}");
        }
    }
}

/// A cPCA model encodes, travels in the model file with its method, and answers a sentence
/// where an image would be drawn.
#[test]
fn a_cpca_model_file_encodes_and_says_it_cannot_draw() {
    let _guard = rng_lock();
    let config = small(Method::Cpca);
    let m = &config.model;
    let d = m.channels * m.image_size * m.image_size;
    let images = |domain, n| builtin_batch(&config, domain, 0, n, &cpu());
    let host = |t: Tensor<4>| values(t);
    let (bg, t) = (images(Domain::Background, 30), images(Domain::Target, 30));
    let fit = dinfogan::methods::cpca::fit(
        &host(bg),
        &host(t.clone()),
        d,
        m.common_dim,
        m.salient_dim,
        &Default::default(),
    )
    .unwrap();
    let model = InferenceModel::from_cpca(
        m.clone(),
        dinfogan::methods::cpca::CpcaModel::from_host(m, fit.mean, fit.common, fit.salient, &cpu()),
        cpu(),
    );
    let loaded = InferenceModel::from_bytes(&model.to_bytes().unwrap(), &cpu()).unwrap();
    assert_eq!(loaded.method(), Method::Cpca);
    assert!(!loaded.generates());
    let (za, sa) = model.encode(t.clone()).unwrap();
    let (zb, sb) = loaded.encode(t.clone()).unwrap();
    assert_eq!((values(za), values(sa)), (values(zb), values(sb)));
    let err = loaded.reconstruct(t, true).unwrap_err().to_string();
    assert!(err.starts_with("a cPCA model has no generator"), "{err}");
    // A header claiming projections larger than the file is refused before allocating them.
    let bytes = model.to_bytes().unwrap();
    let text = String::from_utf8_lossy(&bytes[16..]).into_owned();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header = &text[..header_len];
    let claimed = header.replace("\"common_dim\":8", "\"common_dim\":4000");
    assert_ne!(claimed, header, "the header names common_dim");
    let mut forged = bytes[..8].to_vec();
    forged.extend_from_slice(&bytes[8..12]);
    forged.extend_from_slice(&(claimed.len() as u32).to_le_bytes());
    forged.extend_from_slice(claimed.as_bytes());
    forged.extend_from_slice(&bytes[16 + header_len..]);
    let err = InferenceModel::from_bytes(&forged, &cpu())
        .unwrap_err()
        .to_string();
    assert!(err.contains("its cPCA projections take"), "{err}");
}
