//! The values a training iteration reports: one [`LossTerm`] per loss of each step (paper eq.
//! 4-8 and 18 for Double InfoGAN, the baselines' objectives for the VAEs), with the network it
//! trains and its name in `metrics.csv`; [`LossTerm::of`] lists a method's terms, and
//! [`LossValues`] holds the numbers read back from the device.

use std::fmt;
use std::ops::Index;

use crate::config::Method;

/// The network a loss term updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Generator,
    /// The discriminator with its heads D, C, Qz and Qs.
    Discriminator,
    /// H, the contrastive regulariser.
    Regulariser,
    /// A contrastive VAE's encoders and decoder (MM-cVAE, cVAE).
    Vae,
    /// cVAE's total-correlation discriminator T.
    TotalCorrelation,
}

/// One reported loss, unweighted (0 when switched off or when its step did not run). The order
/// of [`LossTerm::of`] a method is the order of its `metrics.csv` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossTerm {
    /// Everything the G step minimises, weighted.
    GeneratorTotal,
    /// -log D(G(z, s)) (eq. 4).
    GeneratorAdversarial,
    /// C's cross-entropy on fakes (eq. 5).
    GeneratorClass,
    /// The info loss on fakes (eq. 6), weighted by domain and space.
    GeneratorInfo,
    /// The reconstruction loss (eq. 8).
    GeneratorImage,
    /// H's cross-entropy on pairs of fakes (eq. 18).
    GeneratorContrastive,
    /// Everything the D step minimises, weighted.
    DiscriminatorTotal,
    DiscriminatorAdversarial,
    /// C's cross-entropy on real images.
    DiscriminatorClass,
    /// The info loss on fakes, for Qz and Qs.
    DiscriminatorInfo,
    /// The info loss on real background images: Qs(x) towards 0 (a background has no salient
    /// factors).
    DiscriminatorInfoReal,
    /// The reconstruction loss, reaching Qz and Qs through the frozen G.
    DiscriminatorImage,
    /// H's own cross-entropy (the H step).
    RegulariserContrastive,
    /// Everything a VAE step minimises, weighted.
    VaeTotal,
    /// The squared reconstruction error of both domains (in [0, 1] pixel units).
    VaeReconstruction,
    /// The KL divergences of the posteriors from N(0, I).
    VaeKl,
    /// MM-cVAE: MMD between the common codes of background and target images.
    VaeMmdCommon,
    /// MM-cVAE: MMD between the salient codes of background images and 0.
    VaeMmdSalient,
    /// cVAE: the total-correlation term, T's mean logit on joint (s, z) pairs.
    VaeTotalCorrelation,
    /// cVAE: T's own cross-entropy.
    TotalCorrelationDiscriminator,
}

impl LossTerm {
    pub const ALL: [LossTerm; 20] = [
        LossTerm::GeneratorTotal,
        LossTerm::GeneratorAdversarial,
        LossTerm::GeneratorClass,
        LossTerm::GeneratorInfo,
        LossTerm::GeneratorImage,
        LossTerm::GeneratorContrastive,
        LossTerm::DiscriminatorTotal,
        LossTerm::DiscriminatorAdversarial,
        LossTerm::DiscriminatorClass,
        LossTerm::DiscriminatorInfo,
        LossTerm::DiscriminatorInfoReal,
        LossTerm::DiscriminatorImage,
        LossTerm::RegulariserContrastive,
        LossTerm::VaeTotal,
        LossTerm::VaeReconstruction,
        LossTerm::VaeKl,
        LossTerm::VaeMmdCommon,
        LossTerm::VaeMmdSalient,
        LossTerm::VaeTotalCorrelation,
        LossTerm::TotalCorrelationDiscriminator,
    ];

    /// The terms `method` reports, in `metrics.csv` order (none for cPCA, fitted in one pass).
    pub const fn of(method: Method) -> &'static [LossTerm] {
        match method {
            // G's, D's and H's terms: the first 13 of `ALL`.
            Method::DoubleInfogan => {
                let all: &'static [LossTerm] = &Self::ALL;
                all.split_at(13).0
            }
            Method::MmCvae => &[
                LossTerm::VaeTotal,
                LossTerm::VaeReconstruction,
                LossTerm::VaeKl,
                LossTerm::VaeMmdCommon,
                LossTerm::VaeMmdSalient,
            ],
            Method::Cvae => &[
                LossTerm::VaeTotal,
                LossTerm::VaeReconstruction,
                LossTerm::VaeKl,
                LossTerm::VaeTotalCorrelation,
                LossTerm::TotalCorrelationDiscriminator,
            ],
            Method::Cpca => &[],
        }
    }

    /// The few terms a progress line shows for `method`.
    pub const fn headline(method: Method) -> &'static [LossTerm] {
        match method {
            Method::DoubleInfogan => &[
                LossTerm::DiscriminatorTotal,
                LossTerm::GeneratorTotal,
                LossTerm::GeneratorImage,
            ],
            Method::MmCvae | Method::Cvae => &[
                LossTerm::VaeTotal,
                LossTerm::VaeReconstruction,
                LossTerm::VaeKl,
            ],
            Method::Cpca => &[],
        }
    }

    /// The column name in `metrics.csv`.
    pub const fn name(self) -> &'static str {
        match self {
            LossTerm::GeneratorTotal => "g_total",
            LossTerm::GeneratorAdversarial => "g_adversarial",
            LossTerm::GeneratorClass => "g_class",
            LossTerm::GeneratorInfo => "g_info",
            LossTerm::GeneratorImage => "g_image",
            LossTerm::GeneratorContrastive => "g_contrastive",
            LossTerm::DiscriminatorTotal => "d_total",
            LossTerm::DiscriminatorAdversarial => "d_adversarial",
            LossTerm::DiscriminatorClass => "d_class",
            LossTerm::DiscriminatorInfo => "d_info",
            LossTerm::DiscriminatorInfoReal => "d_info_real",
            LossTerm::DiscriminatorImage => "d_image",
            LossTerm::RegulariserContrastive => "h_contrastive",
            LossTerm::VaeTotal => "vae_total",
            LossTerm::VaeReconstruction => "vae_reconstruction",
            LossTerm::VaeKl => "vae_kl",
            LossTerm::VaeMmdCommon => "vae_mmd_common",
            LossTerm::VaeMmdSalient => "vae_mmd_salient",
            LossTerm::VaeTotalCorrelation => "vae_total_correlation",
            LossTerm::TotalCorrelationDiscriminator => "t_discriminator",
        }
    }

    pub const fn network(self) -> Network {
        match self {
            LossTerm::GeneratorTotal
            | LossTerm::GeneratorAdversarial
            | LossTerm::GeneratorClass
            | LossTerm::GeneratorInfo
            | LossTerm::GeneratorImage
            | LossTerm::GeneratorContrastive => Network::Generator,
            LossTerm::DiscriminatorTotal
            | LossTerm::DiscriminatorAdversarial
            | LossTerm::DiscriminatorClass
            | LossTerm::DiscriminatorInfo
            | LossTerm::DiscriminatorInfoReal
            | LossTerm::DiscriminatorImage => Network::Discriminator,
            LossTerm::RegulariserContrastive => Network::Regulariser,
            LossTerm::VaeTotal
            | LossTerm::VaeReconstruction
            | LossTerm::VaeKl
            | LossTerm::VaeMmdCommon
            | LossTerm::VaeMmdSalient
            | LossTerm::VaeTotalCorrelation => Network::Vae,
            LossTerm::TotalCorrelationDiscriminator => Network::TotalCorrelation,
        }
    }

    /// The term whose column is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|term| term.name() == name)
    }

    /// Position in [`LossTerm::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for LossTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values of a method's [`LossTerm`]s for one iteration, read from the device.
#[derive(Debug, Clone, PartialEq)]
pub struct LossValues {
    terms: &'static [LossTerm],
    values: Vec<f32>,
}

impl LossValues {
    /// `values[i]` of `terms[i]`.
    ///
    /// # Panics
    /// If the lengths differ (a programming error, not a user's).
    pub fn new(terms: &'static [LossTerm], values: Vec<f32>) -> Self {
        assert_eq!(terms.len(), values.len(), "one value per loss term");
        Self { terms, values }
    }

    /// (term, value) in the method's order.
    pub fn iter(&self) -> impl Iterator<Item = (LossTerm, f32)> + '_ {
        self.terms.iter().copied().zip(self.values.iter().copied())
    }

    /// The value of `term`, if this method reports it.
    pub fn get(&self, term: LossTerm) -> Option<f32> {
        self.iter().find(|(t, _)| *t == term).map(|(_, v)| v)
    }

    /// The first term that is NaN or infinite.
    pub fn first_non_finite(&self) -> Option<(LossTerm, f32)> {
        self.iter().find(|(_, v)| !v.is_finite())
    }
}

impl Index<LossTerm> for LossValues {
    type Output = f32;

    /// # Panics
    /// If the method does not report `term`.
    fn index(&self, term: LossTerm) -> &f32 {
        let at = self
            .terms
            .iter()
            .position(|t| *t == term)
            .unwrap_or_else(|| panic!("{term} is not one of this method's loss terms"));
        &self.values[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_sits_at_its_index_with_a_unique_name() {
        for (i, term) in LossTerm::ALL.into_iter().enumerate() {
            assert_eq!(term.index(), i);
            assert_eq!(LossTerm::from_name(term.name()), Some(term));
            let prefix = match term.network() {
                Network::Generator => "g_",
                Network::Discriminator => "d_",
                Network::Regulariser => "h_",
                Network::Vae => "vae_",
                Network::TotalCorrelation => "t_",
            };
            assert!(term.name().starts_with(prefix), "{term}");
        }
        assert_eq!(LossTerm::from_name("g_nonsense"), None);
    }

    #[test]
    fn double_infogan_reports_every_term_of_its_three_networks() {
        let gan: Vec<_> = LossTerm::ALL
            .into_iter()
            .filter(|t| {
                matches!(
                    t.network(),
                    Network::Generator | Network::Discriminator | Network::Regulariser
                )
            })
            .collect();
        assert_eq!(LossTerm::of(Method::DoubleInfogan), gan.as_slice());
    }

    #[test]
    fn every_term_belongs_to_exactly_one_method() {
        for term in LossTerm::ALL {
            let owners = Method::ALL
                .into_iter()
                .filter(|m| LossTerm::of(*m).contains(&term))
                .count();
            // The VAEs share their total, reconstruction and KL terms.
            let shared = term.network() == Network::Vae
                && !matches!(
                    term,
                    LossTerm::VaeMmdCommon
                        | LossTerm::VaeMmdSalient
                        | LossTerm::VaeTotalCorrelation
                );
            assert_eq!(owners, if shared { 2 } else { 1 }, "{term}");
        }
    }
}
