//! One Double InfoGAN iteration (paper eq. 3-8 and Supplementary D): a [`Trainer`] holds G,
//! the discriminator with its heads, H and their three Adam optimisers, and runs per batch
//! `loop_generator` G steps, `loop_discriminator` D steps and `loop_regulariser` H steps, each
//! with fresh latents (the order of the paper's code).
//!
//! Isolation: a step differentiates only through the network it updates. The other networks
//! take part through a `no_grad()` copy, so their weights get no gradient (and cost no weight
//! gradient computation), while gradients still flow *through* them to the updated network
//! (e.g. the reconstruction loss reaches Qz in a D step through the frozen G). Batch norm and
//! noise stay in training mode everywhere, as in the paper's code.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::training::{Losses, Training};
use crate::checkpoint::{load_module, load_optimizer, module_bytes, optimiser_bytes};
use crate::checkpoint::{StatePart, TrainerState};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::infer::InferenceModel;
use crate::latent::{background_salient, sample_common, sample_contrastive_pairs, sample_salient};
use crate::loss::{
    binary_cross_entropy, cross_entropy, discriminator_adversarial, generator_adversarial, l1,
    l1_to_zero, mmd, MMD_GAMMAS,
};
use crate::nets::init::initialized;
use crate::nets::{Discriminator, DiscriminatorOutput, Generator, Regulariser};
use crate::terms::LossTerm;

/// G, the discriminator, H and their optimisers, on one autodiff device.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    pub generator: Generator,
    pub discriminator: Discriminator,
    /// H; `None` when the contrastive regulariser is off.
    pub regulariser: Option<Regulariser>,
    optim_generator: ModuleOptimizer,
    optim_discriminator: ModuleOptimizer,
    optim_regulariser: ModuleOptimizer,
}

/// Samples of one domain: latents and the discriminator's view of G(z, s).
struct FakeBatch {
    common: Tensor<2>,
    salient: Option<Tensor<2>>,
    out: DiscriminatorOutput,
}

impl Trainer {
    /// New networks (DCGAN init) on `device`, which is switched to autodiff, seeded with `seed`.
    pub fn new(config: TrainConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate().map_err(Error::InvalidConfig)?;
        let device = device.clone().autodiff();
        device.seed(seed);
        let adam = AdamConfig::new()
            .with_beta_1(config.optim.beta1 as f32)
            .with_beta_2(config.optim.beta2 as f32)
            .with_epsilon(config.optim.epsilon as f32);
        Ok(Self {
            generator: initialized(Generator::new(&config.model, &device)),
            discriminator: initialized(Discriminator::new(&config.model, &device)),
            regulariser: config
                .uses_regulariser()
                .then(|| initialized(Regulariser::new(&config.model, &device))),
            optim_generator: adam.init(),
            optim_discriminator: adam.init(),
            optim_regulariser: adam.init(),
            config,
            device,
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The autodiff device the networks live on; put real batches there.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A fresh set of loss values (all 0) to pass to the individual steps.
    pub fn iteration_losses(&self) -> Losses {
        Losses::zeros(crate::config::Method::DoubleInfogan, &self.device)
    }

    /// One iteration on a batch of real background `[b, c, h, w]` and target images (in [-1, 1]).
    pub fn iteration(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        let mut losses = Losses::zeros(crate::config::Method::DoubleInfogan, &self.device);
        for _ in 0..self.config.loop_generator {
            self.generator_step(background.clone(), target.clone(), &mut losses);
        }
        for _ in 0..self.config.loop_discriminator {
            self.discriminator_step(background.clone(), target.clone(), &mut losses);
        }
        if self.regulariser.is_some() {
            for _ in 0..self.config.loop_regulariser {
                self.regulariser_step(&mut losses);
            }
        }
        losses
    }

    /// z, s for both domains, and the discriminator's heads on G(z, 0) and G(z, s).
    /// `detach`: in a D step the generator is frozen, and detaching its output makes that
    /// explicit while keeping the fakes on the autodiff device (so noise and batch norm stay in
    /// training mode; `.inner()` would silently switch them to evaluation).
    fn fakes(
        &self,
        generator: &Generator,
        discriminator: &Discriminator,
        detach: bool,
    ) -> (FakeBatch, FakeBatch) {
        let (b, m) = (self.config.batch_size, &self.config.model);
        let device = &self.device;
        let common_bg = sample_common(b, m.common_dim, device);
        let common_t = sample_common(b, m.common_dim, device);
        let salient_t = sample_salient(b, m.salient_dim, self.config.salient_prior, device);
        let fake_bg = generator.forward(
            common_bg.clone(),
            background_salient(b, m.salient_dim, device),
        );
        let fake_t = generator.forward(common_t.clone(), salient_t.clone());
        let (fake_bg, fake_t) = if detach {
            (fake_bg.detach(), fake_t.detach())
        } else {
            (fake_bg, fake_t)
        };
        (
            FakeBatch {
                common: common_bg,
                salient: None,
                out: discriminator.forward(fake_bg),
            },
            FakeBatch {
                common: common_t,
                salient: Some(salient_t),
                out: discriminator.forward(fake_t),
            },
        )
    }

    /// The info loss on fakes (eq. 6, first two lines), weighted; `None` when switched off.
    /// `info_common`: w_Info^z of the step (the D step may hold Qz to its own weight).
    fn info_on_fakes(&self, bg: &FakeBatch, t: &FakeBatch, info_common: f64) -> Option<Tensor<1>> {
        let w = &self.config.loss;
        if info_common == 0.0 && w.info_salient == 0.0 {
            return None;
        }
        let domain = |fake: &FakeBatch| {
            let common = l1(fake.out.common.clone(), fake.common.clone()).mul_scalar(info_common);
            let salient = match &fake.salient {
                Some(s) => l1(fake.out.salient.clone(), s.clone()),
                None => l1_to_zero(fake.out.salient.clone()),
            };
            common + salient.mul_scalar(w.info_salient)
        };
        Some(domain(bg).mul_scalar(w.background) + domain(t).mul_scalar(w.target))
    }

    /// w_bg·|G(Qz(x), 0) - x| + w_t·|G(Qz(y), Qs(y)) - y| (eq. 8) from encodings of the real images.
    fn image_loss(
        &self,
        generator: &Generator,
        background: Tensor<4>,
        bg_common: Tensor<2>,
        target: Tensor<4>,
        t_common: Tensor<2>,
        t_salient: Tensor<2>,
    ) -> Tensor<1> {
        let w = &self.config.loss;
        let [b, ..] = background.dims();
        let zeros = background_salient(b, self.config.model.salient_dim, &self.device);
        let bg = l1(generator.forward(bg_common, zeros), background);
        let t = l1(generator.forward(t_common, t_salient), target);
        bg.mul_scalar(w.background) + t.mul_scalar(w.target)
    }

    /// CE(H(G(z, s¹), G(z, s²)), k) (eq. 18) with fresh pairs.
    fn contrastive_loss(
        &self,
        generator: &Generator,
        regulariser: &Regulariser,
        detach: bool,
    ) -> Tensor<1> {
        let (b, m) = (self.config.batch_size, &self.config.model);
        let pairs =
            sample_contrastive_pairs(b, m.salient_dim, self.config.salient_prior, &self.device);
        let common = sample_common(b, m.common_dim, &self.device);
        let mut first = generator.forward(common.clone(), pairs.first);
        let mut second = generator.forward(common, pairs.second);
        if detach {
            first = first.detach();
            second = second.detach();
        }
        cross_entropy(regulariser.forward(first, second), pairs.shared)
    }

    /// One update of G alone (the G side of eq. 14).
    pub fn generator_step(
        &mut self,
        background: Tensor<4>,
        target: Tensor<4>,
        losses: &mut Losses,
    ) {
        let w = self.config.loss.clone();
        let discriminator = self.discriminator.clone().no_grad();
        let (bg, t) = self.fakes(&self.generator, &discriminator, false);
        let mut total = Tensor::<1>::zeros([1], &self.device);

        if w.adversarial > 0.0 {
            let adv = generator_adversarial(bg.out.adversarial.clone()).mul_scalar(w.background)
                + generator_adversarial(t.out.adversarial.clone()).mul_scalar(w.target);
            total = total + adv.clone().mul_scalar(w.adversarial);
            losses.set(LossTerm::GeneratorAdversarial, adv);
        }
        if w.class > 0.0 {
            // The paper's eq. (5) is unweighted per domain; its code, and Table 6's w_bg / w_t
            // "for background / target losses", weight it like every other term.
            let class = binary_cross_entropy(bg.out.class.clone(), 0.0).mul_scalar(w.background)
                + binary_cross_entropy(t.out.class.clone(), 1.0).mul_scalar(w.target);
            total = total + class.clone().mul_scalar(w.class);
            losses.set(LossTerm::GeneratorClass, class);
        }
        if let Some(info) = self.info_on_fakes(&bg, &t, w.info_common) {
            total = total + info.clone();
            losses.set(LossTerm::GeneratorInfo, info);
        }
        if w.image > 0.0 {
            // Encodings of real images by the frozen encoder: constants for this step.
            let (bg_common, _) = discriminator.encode(background.clone());
            let (t_common, t_salient) = discriminator.encode(target.clone());
            let image = self.image_loss(
                &self.generator,
                background,
                bg_common.detach(),
                target,
                t_common.detach(),
                t_salient.detach(),
            );
            total = total + image.clone().mul_scalar(w.image);
            losses.set(LossTerm::GeneratorImage, image);
        }
        if let Some(regulariser) = &self.regulariser {
            let regulariser = regulariser.clone().no_grad();
            let cr = self.contrastive_loss(&self.generator, &regulariser, false);
            total = total + cr.clone().mul_scalar(w.contrastive);
            losses.set(LossTerm::GeneratorContrastive, cr);
        }
        losses.set(LossTerm::GeneratorTotal, total.clone());

        let grads = GradientsParams::from_grads(total.backward(), &self.generator);
        self.generator = self.optim_generator.step(
            self.config.optim.lr_generator,
            self.generator.clone(),
            grads,
        );
    }

    /// One update of the discriminator trunk and its four heads (the D side of eq. 14).
    pub fn discriminator_step(
        &mut self,
        background: Tensor<4>,
        target: Tensor<4>,
        losses: &mut Losses,
    ) {
        let w = self.config.loss.clone();
        let generator = self.generator.clone().no_grad();
        let (bg, t) = self.fakes(&generator, &self.discriminator, true);
        // One pass of each real batch through the trunk feeds D, C, Qz and Qs.
        let real_bg = self.discriminator.forward(background.clone());
        let real_t = self.discriminator.forward(target.clone());
        let mut total = Tensor::<1>::zeros([1], &self.device);

        if w.adversarial > 0.0 {
            let adv =
                discriminator_adversarial(real_bg.adversarial.clone(), bg.out.adversarial.clone())
                    .mul_scalar(w.background)
                    + discriminator_adversarial(
                        real_t.adversarial.clone(),
                        t.out.adversarial.clone(),
                    )
                    .mul_scalar(w.target);
            total = total + adv.clone().mul_scalar(w.adversarial);
            losses.set(LossTerm::DiscriminatorAdversarial, adv);
        }
        if w.class > 0.0 {
            // C learns from real images only (eq. 5).
            let class = binary_cross_entropy(real_bg.class.clone(), 0.0).mul_scalar(w.background)
                + binary_cross_entropy(real_t.class.clone(), 1.0).mul_scalar(w.target);
            total = total + class.clone().mul_scalar(w.class);
            losses.set(LossTerm::DiscriminatorClass, class);
        }
        let info_common = w.info_common_encoder.unwrap_or(w.info_common);
        if let Some(info) = self.info_on_fakes(&bg, &t, info_common) {
            total = total + info.clone();
            losses.set(LossTerm::DiscriminatorInfo, info);
        }
        if w.common_mmd > 0.0 {
            // Beyond the paper: Qz of real images should not tell the domains apart. Reported
            // inside the D total only (metrics.csv keeps the paper's columns).
            let matched = mmd(real_bg.common.clone(), real_t.common.clone(), &MMD_GAMMAS);
            total = total + matched.mul_scalar(w.common_mmd);
        }
        if w.info_real > 0.0 {
            let info_real = l1_to_zero(real_bg.salient.clone());
            total = total + info_real.clone().mul_scalar(w.info_real);
            losses.set(LossTerm::DiscriminatorInfoReal, info_real);
        }
        if w.image > 0.0 {
            // Through the frozen G into Qz and Qs.
            let image = self.image_loss(
                &generator,
                background,
                real_bg.common,
                target,
                real_t.common,
                real_t.salient,
            );
            total = total + image.clone().mul_scalar(w.image);
            losses.set(LossTerm::DiscriminatorImage, image);
        }
        losses.set(LossTerm::DiscriminatorTotal, total.clone());

        let grads = GradientsParams::from_grads(total.backward(), &self.discriminator);
        self.discriminator = self.optim_discriminator.step(
            self.config.optim.lr_discriminator,
            self.discriminator.clone(),
            grads,
        );
    }

    /// One update of H alone on fresh pairs of fakes (cross-entropy only, as in the paper's code).
    pub fn regulariser_step(&mut self, losses: &mut Losses) {
        let Some(regulariser) = self.regulariser.clone() else {
            return;
        };
        let generator = self.generator.clone().no_grad();
        let cr = self.contrastive_loss(&generator, &regulariser, true);
        losses.set(LossTerm::RegulariserContrastive, cr.clone());
        let grads = GradientsParams::from_grads(cr.backward(), &regulariser);
        self.regulariser = Some(self.optim_regulariser.step(
            self.config.optim.lr_regulariser,
            regulariser,
            grads,
        ));
    }

    /// Makes the batch-norm running statistics of the last step visible to records and
    /// evaluation mode (burn folds them in lazily).
    fn sync_running_stats(&self) {
        self.generator.sync_running_stats();
        self.discriminator.sync_running_stats();
        if let Some(h) = &self.regulariser {
            h.sync_running_stats();
        }
    }

    /// What inference needs (G and the encoder), in evaluation mode on the plain device.
    pub fn inference_model(&self) -> InferenceModel {
        self.sync_running_stats();
        InferenceModel::from_networks(
            self.config.model.clone(),
            self.config.salient_prior,
            self.generator.valid(),
            self.discriminator.clone().into_encoder().valid(),
            self.device.clone().without_autodiff(),
        )
    }

    /// Every network and optimiser state as bytes (a checkpoint, without the file system).
    pub fn state(&self) -> Result<TrainerState> {
        self.sync_running_stats();
        let mut state = TrainerState::default();
        state.insert(
            StatePart::Generator,
            module_bytes(&self.generator, StatePart::Generator)?,
        );
        state.insert(
            StatePart::Discriminator,
            module_bytes(&self.discriminator, StatePart::Discriminator)?,
        );
        let optimisers = [
            (StatePart::OptimGenerator, &self.optim_generator),
            (StatePart::OptimDiscriminator, &self.optim_discriminator),
        ];
        for (part, optim) in optimisers {
            state.insert(part, optimiser_bytes(optim, part)?);
        }
        if let Some(h) = &self.regulariser {
            state.insert(
                StatePart::Regulariser,
                module_bytes(h, StatePart::Regulariser)?,
            );
            state.insert(
                StatePart::OptimRegulariser,
                optimiser_bytes(&self.optim_regulariser, StatePart::OptimRegulariser)?,
            );
        }
        Ok(state)
    }

    /// Restores a [`TrainerState`] written by [`Trainer::state`] for the same configuration.
    /// Parameter ids are restored with the weights, so the Adam moments reattach to them.
    pub fn load_state(&mut self, mut state: TrainerState) -> Result<()> {
        let with_cr = self.regulariser.is_some();
        if with_cr != state.get(StatePart::Regulariser).is_some() {
            return Err(Error::Weights {
                what: "contrastive regulariser".into(),
                reason: "the checkpoint and the configuration disagree on whether CR is used"
                    .into(),
            });
        }
        self.generator = load_module(
            self.generator.clone(),
            state.take(StatePart::Generator)?,
            StatePart::Generator.describe(),
        )?;
        self.discriminator = load_module(
            self.discriminator.clone(),
            state.take(StatePart::Discriminator)?,
            StatePart::Discriminator.describe(),
        )?;
        self.optim_generator = load_optimizer(
            &self.optim_generator,
            state.take(StatePart::OptimGenerator)?,
            StatePart::OptimGenerator,
        )?;
        self.optim_discriminator = load_optimizer(
            &self.optim_discriminator,
            state.take(StatePart::OptimDiscriminator)?,
            StatePart::OptimDiscriminator,
        )?;
        if let Some(h) = self.regulariser.clone() {
            self.regulariser = Some(load_module(
                h,
                state.take(StatePart::Regulariser)?,
                StatePart::Regulariser.describe(),
            )?);
            self.optim_regulariser = load_optimizer(
                &self.optim_regulariser,
                state.take(StatePart::OptimRegulariser)?,
                StatePart::OptimRegulariser,
            )?;
        }
        Ok(())
    }
}

impl Training for Trainer {
    fn config(&self) -> &TrainConfig {
        Trainer::config(self)
    }

    fn device(&self) -> &Device {
        Trainer::device(self)
    }

    fn iteration(&mut self, background: Tensor<4>, target: Tensor<4>) -> Losses {
        Trainer::iteration(self, background, target)
    }

    fn inference_model(&self) -> InferenceModel {
        Trainer::inference_model(self)
    }

    fn state(&self) -> Result<TrainerState> {
        Trainer::state(self)
    }

    fn load_state(&mut self, state: TrainerState) -> Result<()> {
        Trainer::load_state(self, state)
    }
}
