//! The networks. G, the discriminator, its encoder and H of either architecture
//! ([`Architecture`]): the Table 4 networks of [`dcgan`] or the Table 5 ones of [`mri`] (with
//! [`spectral`] normalisation and self-[`attention`]), chosen by the configuration's image
//! side; the VAE baselines' encoders and decoder in [`vae`]. All are built of the [`layers`]
//! (which take the CPU kernels of [`crate::cpu`] natively), start from [`init`], and put the
//! discriminator's Gaussian [`noise`] before its layers. Training, inference and export hold
//! these and never branch on the architecture beyond the constructors here.
//!
//! Each is an enum whose `Module` implementation is written out (by [`transparent_module`])
//! rather than derived: burn's derive for enums puts the variant's name into every record key
//! (`Dcgan.blocks.0.weight`), which would change the keys of every checkpoint and model file
//! written before Table 5 existed. The file's header already says which architecture it
//! holds, so the keys are the inner network's own.

pub mod attention;
pub mod dcgan;
pub mod init;
pub mod layers;
pub mod mri;
pub mod noise;
mod normals;
pub mod spectral;
pub mod vae;

use burn::module::{Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault};
use burn::module::{ModuleMapper, ModuleVisitor};
use burn::prelude::*;

use crate::config::{Architecture, ModelConfig};
use dcgan::{DcganDiscriminator, DcganEncoder, DcganGenerator, DcganRegulariser};
pub use layers::DiscriminatorOutput;
use mri::{MriDiscriminator, MriEncoder, MriGenerator, MriRegulariser};

/// An enum of modules that records, moves and displays as the variant it holds.
macro_rules! transparent_module {
    ($(#[$doc:meta])* $name:ident { $($variant:ident($inner:ty)),+ $(,)? }) => {
        $(#[$doc])*
        // One of each network exists per model: boxing the larger variant would only add an
        // indirection to every call.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone)]
        pub enum $name {
            $($variant($inner)),+
        }

        impl Module for $name {
            fn collect_devices(&self, devices: Devices) -> Devices {
                match self {
                    $(Self::$variant(m) => m.collect_devices(devices)),+
                }
            }

            fn fork(self, device: &Device) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.fork(device))),+
                }
            }

            fn to_device(self, device: &Device) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.to_device(device))),+
                }
            }

            fn train(self) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.train())),+
                }
            }

            fn valid(&self) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.valid())),+
                }
            }

            fn materialize(self) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.materialize())),+
                }
            }

            fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
                match self {
                    $(Self::$variant(m) => m.visit(visitor)),+
                }
            }

            fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(m.map(mapper))),+
                }
            }
        }

        impl ModuleDisplayDefault for $name {
            fn content(&self, content: Content) -> Option<Content> {
                match self {
                    $(Self::$variant(m) => m.content(content)),+
                }
            }
        }

        impl ModuleDisplay for $name {}
    };
}

transparent_module! {
    /// G(z, s).
    Generator { Dcgan(DcganGenerator), Mri(MriGenerator) }
}

transparent_module! {
    /// The discriminator: one trunk and the heads D, C, Qz and Qs.
    Discriminator { Dcgan(DcganDiscriminator), Mri(MriDiscriminator) }
}

transparent_module! {
    /// The trunk with Qz and Qs: what inference keeps of the discriminator.
    Encoder { Dcgan(DcganEncoder), Mri(MriEncoder) }
}

transparent_module! {
    /// H, the contrastive regulariser.
    Regulariser { Dcgan(DcganRegulariser), Mri(MriRegulariser) }
}

impl Generator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        match config.architecture() {
            Architecture::Dcgan => Self::Dcgan(DcganGenerator::new(config, device)),
            Architecture::Mri => Self::Mri(MriGenerator::new(config, device)),
        }
    }

    /// `[batch, L]`, `[batch, M]` (zeros for background) -> `[batch, channels, side, side]`
    /// in [-1, 1].
    pub fn forward(&self, common: Tensor<2>, salient: Tensor<2>) -> Tensor<4> {
        match self {
            Self::Dcgan(g) => g.forward(common, salient),
            Self::Mri(g) => g.forward(common, salient),
        }
    }

    /// Folds pending running-statistics updates in: call before taking a record.
    pub fn sync_running_stats(&self) {
        match self {
            Self::Dcgan(g) => g.sync_running_stats(),
            Self::Mri(g) => g.sync_running_stats(),
        }
    }
}

impl Discriminator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        match config.architecture() {
            Architecture::Dcgan => Self::Dcgan(DcganDiscriminator::new(config, device)),
            Architecture::Mri => Self::Mri(MriDiscriminator::new(config, device)),
        }
    }

    /// All four heads from one pass of the trunk.
    pub fn forward(&self, images: Tensor<4>) -> DiscriminatorOutput {
        match self {
            Self::Dcgan(d) => d.forward(images),
            Self::Mri(d) => d.forward(images),
        }
    }

    /// (Qz, Qs) of images, through the trunk and the two latent heads only.
    pub fn encode(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Self::Dcgan(d) => d.encoder.forward(images),
            Self::Mri(d) => d.encoder.forward(images),
        }
    }

    /// The trunk with Qz and Qs.
    pub fn into_encoder(self) -> Encoder {
        match self {
            Self::Dcgan(d) => Encoder::Dcgan(d.encoder),
            Self::Mri(d) => Encoder::Mri(d.encoder),
        }
    }

    pub fn sync_running_stats(&self) {
        match self {
            Self::Dcgan(d) => d.sync_running_stats(),
            Self::Mri(d) => d.sync_running_stats(),
        }
    }
}

impl Encoder {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        match config.architecture() {
            Architecture::Dcgan => Self::Dcgan(DcganEncoder::new(config, device)),
            Architecture::Mri => Self::Mri(MriEncoder::new(config, device)),
        }
    }

    /// (ẑ, ŝ) of images `[batch, channels, side, side]`: `[batch, L]`, `[batch, M]`.
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Self::Dcgan(e) => e.forward(images),
            Self::Mri(e) => e.forward(images),
        }
    }
}

impl Regulariser {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        match config.architecture() {
            Architecture::Dcgan => Self::Dcgan(DcganRegulariser::new(config, device)),
            Architecture::Mri => Self::Mri(MriRegulariser::new(config, device)),
        }
    }

    /// Two batches of images -> `[batch, M]` logits over the shared salient index.
    pub fn forward(&self, first: Tensor<4>, second: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Dcgan(h) => h.forward(first, second),
            Self::Mri(h) => h.forward(first, second),
        }
    }

    pub fn sync_running_stats(&self) {
        match self {
            Self::Dcgan(h) => h.sync_running_stats(),
            Self::Mri(h) => h.sync_running_stats(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(image_size: usize) -> ModelConfig {
        ModelConfig {
            image_size,
            channels: 1,
            width: 4,
            common_dim: 5,
            salient_dim: 3,
            noise_std: 0.2,
            ..Default::default()
        }
    }

    /// The record keys of the Table 4 networks are those the derive gives the inner struct:
    /// files written before the enum existed still load.
    #[test]
    fn records_carry_the_inner_networks_keys() {
        let device = Device::flex();
        let inner = DcganGenerator::new(&config(32), &device);
        let bytes = inner.clone().into_record().into_bytes().unwrap();
        let outer = Generator::Dcgan(inner).into_record().into_bytes().unwrap();
        assert_eq!(outer.to_vec(), bytes.to_vec());
        Generator::new(&config(32), &device)
            .try_load_record(burn::store::ModuleRecord::from_bytes(bytes).unwrap())
            .expect("the inner network's record loads into the enum");
    }

    #[test]
    fn the_side_picks_the_network() {
        let device = Device::flex();
        assert!(matches!(
            Generator::new(&config(64), &device),
            Generator::Dcgan(_)
        ));
        assert!(matches!(
            Discriminator::new(&config(128), &device),
            Discriminator::Mri(_)
        ));
        let d = Discriminator::new(&config(128), &device);
        let images = Tensor::<4>::zeros([2, 1, 128, 128], &device);
        let (z, s) = d.clone().into_encoder().forward(images.clone());
        let (z2, s2) = d.encode(images);
        assert_eq!((z.dims(), s.dims()), ([2, 5], [2, 3]));
        z.into_data().assert_eq(&z2.into_data(), true);
        s.into_data().assert_eq(&s2.into_data(), true);
    }
}
