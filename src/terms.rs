//! The values a training iteration reports: one [`LossTerm`] per loss of each step (paper eq.
//! 4-8 and 18), with the network it trains and its name in `metrics.csv`, and [`LossValues`],
//! the numbers read back from the device.

use std::fmt;
use std::ops::Index;

/// The network a loss term updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Generator,
    /// The discriminator with its heads D, C, Qz and Qs.
    Discriminator,
    /// H, the contrastive regulariser.
    Regulariser,
}

/// One reported loss, unweighted (0 when switched off or when its step did not run). The order
/// of [`LossTerm::ALL`] is the order of `metrics.csv`'s columns.
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
    /// The info loss on real target images (s of background images is 0).
    DiscriminatorInfoReal,
    /// The reconstruction loss, reaching Qz and Qs through the frozen G.
    DiscriminatorImage,
    /// H's own cross-entropy (the H step).
    RegulariserContrastive,
}

impl LossTerm {
    pub const ALL: [LossTerm; 13] = [
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
    ];

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

/// The values of every [`LossTerm`] of one iteration, read from the device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValues(pub [f32; 13]);

impl LossValues {
    /// (term, value) in the order of [`LossTerm::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (LossTerm, f32)> + '_ {
        LossTerm::ALL.into_iter().zip(self.0)
    }

    /// The first term that is NaN or infinite.
    pub fn first_non_finite(&self) -> Option<(LossTerm, f32)> {
        self.iter().find(|(_, v)| !v.is_finite())
    }
}

impl Index<LossTerm> for LossValues {
    type Output = f32;

    fn index(&self, term: LossTerm) -> &f32 {
        &self.0[term.index()]
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
            };
            assert!(term.name().starts_with(prefix), "{term}");
        }
        assert_eq!(LossTerm::from_name("g_nonsense"), None);
    }
}
