//! What a training checkpoint holds, without the file system: one burnpack record per network
//! and optimiser ([`StatePart`]), gathered in a [`TrainerState`]. Which parts a run has follows
//! from its configuration ([`TrainerState::parts_of`]); which of them inference reads, from its
//! method ([`StatePart::for_inference`]). Each part is a module's or an optimiser's record as
//! burnpack bytes, and back (`load_module`: every part read is checked against the module).

use std::collections::BTreeMap;

use burn::module::Module;
#[cfg(feature = "train")]
use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;

use crate::config::{Method, TrainConfig};
use crate::error::{Error, Result};

/// One network's or optimiser's record in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatePart {
    /// Double InfoGAN's G.
    Generator,
    /// Double InfoGAN's discriminator with its heads (the encoder is its trunk, Qz and Qs).
    Discriminator,
    /// H, the contrastive regulariser (runs with CR only).
    Regulariser,
    OptimGenerator,
    OptimDiscriminator,
    OptimRegulariser,
    /// A contrastive VAE's two encoders and decoder.
    Vae,
    OptimVae,
    /// cVAE's total-correlation discriminator T.
    TotalCorrelation,
    OptimTotalCorrelation,
    /// cPCA's mean and projections.
    Cpca,
}

impl StatePart {
    /// The file stem in a run's `checkpoint/` folder (`generator.bpk`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            StatePart::Generator => "generator",
            StatePart::Discriminator => "discriminator",
            StatePart::Regulariser => "regulariser",
            StatePart::OptimGenerator => "optim_generator",
            StatePart::OptimDiscriminator => "optim_discriminator",
            StatePart::OptimRegulariser => "optim_regulariser",
            StatePart::Vae => "vae",
            StatePart::OptimVae => "optim_vae",
            StatePart::TotalCorrelation => "total_correlation",
            StatePart::OptimTotalCorrelation => "optim_total_correlation",
            StatePart::Cpca => "cpca",
        }
    }

    /// What a user calls it, for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            StatePart::Generator => "generator",
            StatePart::Discriminator => "discriminator",
            StatePart::Regulariser => "contrastive regulariser",
            StatePart::OptimGenerator => "generator optimiser",
            StatePart::OptimDiscriminator => "discriminator optimiser",
            StatePart::OptimRegulariser => "regulariser optimiser",
            StatePart::Vae => "VAE",
            StatePart::OptimVae => "VAE optimiser",
            StatePart::TotalCorrelation => "total-correlation discriminator",
            StatePart::OptimTotalCorrelation => "total-correlation optimiser",
            StatePart::Cpca => "cPCA projections",
        }
    }

    /// The parts an [`crate::InferenceModel`] of `method` is built from.
    pub const fn for_inference(method: Method) -> &'static [StatePart] {
        match method {
            Method::DoubleInfogan => &[StatePart::Generator, StatePart::Discriminator],
            Method::MmCvae | Method::Cvae => &[StatePart::Vae],
            Method::Cpca => &[StatePart::Cpca],
        }
    }
}

/// The serialised state of a trainer: every network and optimiser as burnpack bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainerState {
    parts: BTreeMap<StatePart, Vec<u8>>,
}

impl TrainerState {
    /// The parts a checkpoint of `config` holds, each exactly once.
    pub fn parts_of(config: &TrainConfig) -> Vec<StatePart> {
        use StatePart::*;
        match config.method {
            Method::DoubleInfogan if config.uses_regulariser() => vec![
                Generator,
                Discriminator,
                Regulariser,
                OptimGenerator,
                OptimDiscriminator,
                OptimRegulariser,
            ],
            Method::DoubleInfogan => {
                vec![Generator, Discriminator, OptimGenerator, OptimDiscriminator]
            }
            Method::MmCvae => vec![Vae, OptimVae],
            Method::Cvae => vec![Vae, OptimVae, TotalCorrelation, OptimTotalCorrelation],
            Method::Cpca => vec![Cpca],
        }
    }

    pub fn insert(&mut self, part: StatePart, bytes: Vec<u8>) {
        self.parts.insert(part, bytes);
    }

    pub fn get(&self, part: StatePart) -> Option<&[u8]> {
        self.parts.get(&part).map(Vec::as_slice)
    }

    /// The bytes of `part`, removed from the state; a sentence when the checkpoint lacks it.
    pub fn take(&mut self, part: StatePart) -> Result<Vec<u8>> {
        self.parts.remove(&part).ok_or_else(|| Error::Weights {
            what: part.describe().into(),
            reason: "the checkpoint does not hold it (it was written for another configuration)"
                .into(),
        })
    }

    /// Every part with its bytes.
    pub fn iter(&self) -> impl Iterator<Item = (StatePart, &[u8])> {
        self.parts.iter().map(|(p, b)| (*p, b.as_slice()))
    }
}

/// The sentence for a part whose bytes could not be written or read: what it is, and why.
fn weights_error(what: &str) -> impl Fn(burn::store::RecordError) -> Error + '_ {
    move |e| Error::Weights {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// A module's weights from burnpack bytes, with a sentence when they do not fit. Each tensor is
/// cast to its parameter's type (f32): this project writes nothing else, and a file whose
/// record claims another type (a stranger's, or a corrupt one; found by fuzzing) would
/// otherwise make burn panic on an integer tensor where a float one belongs.
pub(crate) fn load_module<M: Module>(module: M, bytes: Vec<u8>, what: &str) -> Result<M> {
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(weights_error(what))?
        .cast_to_module_dtype();
    module.try_load_record(record).map_err(weights_error(what))
}

/// A module's record as burnpack bytes.
#[cfg(feature = "train")]
pub(crate) fn module_bytes<M: Module>(module: &M, part: StatePart) -> Result<Vec<u8>> {
    module
        .clone()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(weights_error(part.describe()))
}

/// An optimiser's state (Adam's moments) as bytes.
#[cfg(feature = "train")]
pub(crate) fn optimiser_bytes(optim: &ModuleOptimizer, part: StatePart) -> Result<Vec<u8>> {
    optim
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(weights_error(part.describe()))
}

/// An optimiser's state from [`optimiser_bytes`].
#[cfg(feature = "train")]
pub(crate) fn load_optimizer(
    optim: &ModuleOptimizer,
    bytes: Vec<u8>,
    part: StatePart,
) -> Result<ModuleOptimizer> {
    optim
        .clone()
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(weights_error(part.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn names_are_unique_and_every_inference_part_is_checkpointed() {
        let all = [
            StatePart::Generator,
            StatePart::Discriminator,
            StatePart::Regulariser,
            StatePart::OptimGenerator,
            StatePart::OptimDiscriminator,
            StatePart::OptimRegulariser,
            StatePart::Vae,
            StatePart::OptimVae,
            StatePart::TotalCorrelation,
            StatePart::OptimTotalCorrelation,
            StatePart::Cpca,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), all.len());
        for method in Method::ALL {
            for preset in [Preset::Builtin, Preset::DspritesMnist] {
                let config = TrainConfig {
                    method,
                    ..TrainConfig::preset(preset)
                };
                let parts = TrainerState::parts_of(&config);
                for part in StatePart::for_inference(method) {
                    assert!(parts.contains(part), "{method} {part:?}");
                }
            }
        }
        let mut state = TrainerState::default();
        let err = state.take(StatePart::Vae).unwrap_err().to_string();
        assert!(err.contains("VAE"), "{err}");
    }
}
