//! The compact dataset file that `dinfogan data build` writes and `train --data FILE` and the
//! evaluation read: u8 pixels, a domain per image, integer labels and float factors, with a
//! header that says what it holds.
//!
//! ```text
//! "DINFODAT" | version u32 LE | header length u32 LE | header (JSON)
//! domains    n x u8            (0 background, 1 target)
//! labels     n x L x i32 LE    (-1: none, e.g. the digit of a background image)
//! factors    n x F x f32 LE    (NaN: none)
//! pixels     n x C x S x S u8  (channel-major)
//! masks      n x S x S u8      (version 3, when the header says `masks`: 1 lesion, 0 not)
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};
use dinfogan::builtin::Domain;
use dinfogan::container::{Format, PREAMBLE};
use serde::{Deserialize, Serialize};

/// The dataset file: the project's container (magic, version, JSON header, body; see
/// [`dinfogan::container`]). Version 2 declares what each label is for ([`LabelSpec`]);
/// version 3 may carry a segmentation mask per image (brain MRI: where the tumour is); version
/// 1 files (label names only) are still read, their roles taken from their recipe (see
/// [`Header::from_v1`]).
pub const FORMAT: Format = Format {
    magic: b"DINFODAT",
    versions: 1..=3,
    what: "dinfogan dataset file",
    how_to_make: "build one with `dinfogan data build`",
};

/// The little-endian u32 at the start of `b` (at least 4 bytes).
fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Which latent space should hold a label's information, in the paper's evaluation (section
/// 5, Tables 1-3): salient content is read well from s and near chance from z, common content
/// the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelRole {
    /// What only the target images show (a digit, an accessory, a sprite's shape): s, not z.
    Salient,
    /// What both domains share (the CIFAR class): z, not s.
    Common,
    /// Not content: groups and bookkeeping (the FactorVAE groups). Never scored.
    Bookkeeping,
}

/// The images a label is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoredOn {
    /// Background and target images (the CIFAR class in Table 2).
    All,
    /// Target images only (the digit in Table 2, glasses vs hat in Table 1).
    Target,
    /// Background images only (a sub-class of the background folder).
    Background,
}

impl ScoredOn {
    /// Whether an image of `domain` is scored.
    pub fn includes(self, domain: Domain) -> bool {
        match self {
            Self::All => true,
            Self::Target => domain == Domain::Target,
            Self::Background => domain == Domain::Background,
        }
    }
}

/// One integer label of a dataset file and what the evaluation does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub name: String,
    pub role: LabelRole,
    pub scored_on: ScoredOn,
}

impl LabelSpec {
    /// Salient content, scored on the target images (where it exists).
    pub fn salient(name: &str) -> Self {
        Self {
            name: name.into(),
            role: LabelRole::Salient,
            scored_on: ScoredOn::Target,
        }
    }

    /// Common content, scored on every image.
    pub fn common(name: &str) -> Self {
        Self {
            name: name.into(),
            role: LabelRole::Common,
            scored_on: ScoredOn::All,
        }
    }

    /// Never scored.
    pub fn bookkeeping(name: &str) -> Self {
        Self {
            name: name.into(),
            role: LabelRole::Bookkeeping,
            scored_on: ScoredOn::All,
        }
    }

    /// E.g. "salient, scored on target images".
    pub fn describe(&self) -> String {
        let role = match self.role {
            LabelRole::Salient => "salient",
            LabelRole::Common => "common",
            LabelRole::Bookkeeping => return "not scored".into(),
        };
        let images = match self.scored_on {
            ScoredOn::All => "all images",
            ScoredOn::Target => "target images",
            ScoredOn::Background => "background images",
        };
        format!("{role}, scored on {images}")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// How the file was made (e.g. `cifar-mnist`, `dsprites-mnist`).
    pub recipe: String,
    /// A sentence for `data info`.
    pub description: String,
    pub count: usize,
    pub side: usize,
    pub channels: usize,
    pub labels: Vec<LabelSpec>,
    pub factor_names: Vec<String>,
    /// Whether every image has a segmentation mask (`S x S`, 1 inside the lesion); absent
    /// before version 3.
    #[serde(default)]
    pub masks: bool,
}

/// The header of version 1 files: label names without roles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct HeaderV1 {
    recipe: String,
    description: String,
    count: usize,
    side: usize,
    channels: usize,
    label_names: Vec<String>,
    factor_names: Vec<String>,
}

impl Header {
    /// A version 1 header with the roles its recipe gave its labels (the evaluation used to
    /// hard-code them); unknown recipes cannot be read.
    fn from_v1(old: HeaderV1) -> Result<Self> {
        let labels = old
            .label_names
            .iter()
            .map(|name| match (old.recipe.as_str(), name.as_str()) {
                ("cifar-mnist", "cifar_class") => Ok(LabelSpec::common(name)),
                ("cifar-mnist", "digit")
                | ("dsprites-mnist", "shape")
                | ("celeba-accessories", "accessory") => Ok(LabelSpec::salient(name)),
                ("dsprites-mnist-groups", _) => Ok(LabelSpec::bookkeeping(name)),
                _ => bail!(
                    "it is a version 1 dataset file whose label {name:?} this build cannot \
                     interpret: rebuild it with `dinfogan data build`"
                ),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            recipe: old.recipe,
            description: old.description,
            count: old.count,
            side: old.side,
            channels: old.channels,
            labels,
            factor_names: old.factor_names,
            masks: false,
        })
    }

    /// The position of the label called `name`.
    pub fn label(&self, name: &str) -> Option<usize> {
        self.labels.iter().position(|l| l.name == name)
    }

    /// Parses a header of file `version` (1 or 2).
    fn parse(version: u32, json: &[u8]) -> Result<Self> {
        let corrupt = |e: serde_json::Error| anyhow::anyhow!("its header is corrupt ({e})");
        match version {
            1 => Self::from_v1(serde_json::from_slice(json).map_err(corrupt)?),
            _ => serde_json::from_slice(json).map_err(corrupt),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFile {
    pub header: Header,
    pub domains: Vec<Domain>,
    pub labels: Vec<i32>,
    pub factors: Vec<f32>,
    pub pixels: Vec<u8>,
    /// `S x S` per image when the header says `masks`, else empty.
    pub masks: Vec<u8>,
}

impl DatasetFile {
    /// An empty dataset of `side x side x channels` images with these label and factor names.
    pub fn new(
        recipe: &str,
        description: &str,
        side: usize,
        channels: usize,
        labels: Vec<LabelSpec>,
        factors: &[&str],
    ) -> Self {
        Self {
            header: Header {
                recipe: recipe.into(),
                description: description.into(),
                count: 0,
                side,
                channels,
                labels,
                factor_names: factors.iter().map(|s| s.to_string()).collect(),
                masks: false,
            },
            domains: Vec::new(),
            labels: Vec::new(),
            factors: Vec::new(),
            pixels: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// The same, every image with a segmentation mask (see [`DatasetFile::push_with_mask`]).
    pub fn with_masks(mut self) -> Self {
        self.header.masks = true;
        self
    }

    /// Side x side: the size of one mask.
    pub fn mask_len(&self) -> usize {
        self.header.side * self.header.side
    }

    pub fn image_len(&self) -> usize {
        self.header.channels * self.header.side * self.header.side
    }

    /// Appends one image (`channels x side x side` bytes) with its labels and factors.
    pub fn push(&mut self, domain: Domain, labels: &[i32], factors: &[f32], pixels: &[u8]) {
        assert!(!self.header.masks, "this dataset needs a mask per image");
        self.push_unchecked(domain, labels, factors, pixels);
    }

    /// Appends one image with its segmentation mask (`side x side`, 1 inside the lesion).
    pub fn push_with_mask(
        &mut self,
        domain: Domain,
        labels: &[i32],
        factors: &[f32],
        pixels: &[u8],
        mask: &[u8],
    ) {
        assert!(self.header.masks, "this dataset has no masks");
        assert_eq!(mask.len(), self.mask_len());
        assert!(mask.iter().all(|&m| m <= 1), "masks hold 0 or 1");
        self.masks.extend_from_slice(mask);
        self.push_unchecked(domain, labels, factors, pixels);
    }

    fn push_unchecked(&mut self, domain: Domain, labels: &[i32], factors: &[f32], pixels: &[u8]) {
        assert_eq!(labels.len(), self.header.labels.len());
        assert_eq!(factors.len(), self.header.factor_names.len());
        assert_eq!(pixels.len(), self.image_len());
        self.domains.push(domain);
        self.labels.extend_from_slice(labels);
        self.factors.extend_from_slice(factors);
        self.pixels.extend_from_slice(pixels);
        self.header.count += 1;
    }

    pub fn pixels_of(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    pub fn labels_of(&self, i: usize) -> &[i32] {
        let n = self.header.labels.len();
        &self.labels[i * n..(i + 1) * n]
    }

    /// Image `i`'s segmentation mask, when the file has masks.
    pub fn mask_of(&self, i: usize) -> Option<&[u8]> {
        let n = self.mask_len();
        self.header.masks.then(|| &self.masks[i * n..(i + 1) * n])
    }

    pub fn factors_of(&self, i: usize) -> &[f32] {
        let n = self.header.factor_names.len();
        &self.factors[i * n..(i + 1) * n]
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("the header serialises");
        let body = self.pixels.len() + self.masks.len() + 9 * self.domains.len();
        let mut out = FORMAT.frame(&header, body);
        out.extend(self.domains.iter().map(|d| d.label()));
        for v in &self.labels {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.factors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.pixels);
        out.extend_from_slice(&self.masks);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let file = FORMAT.unframe(bytes)?;
        let (bytes, version) = (file.body, file.version);
        let header = Header::parse(version, file.header)?;
        let (n, l, f) = (header.count, header.labels.len(), header.factor_names.len());
        // The header is untrusted: every size it implies is computed without overflow.
        let mul = |a: usize, b: usize| a.checked_mul(b);
        let sizes = (|| {
            let image = mul(mul(header.channels, header.side)?, header.side)?;
            let masks = if header.masks {
                mul(mul(n, header.side)?, header.side)?
            } else {
                0
            };
            Some([
                n,
                mul(mul(4, n)?, l)?,
                mul(mul(4, n)?, f)?,
                mul(n, image)?,
                masks,
            ])
        })();
        let needed = sizes.and_then(|s| s.iter().try_fold(0usize, |a, &b| a.checked_add(b)));
        let (Some(sizes), Some(needed)) = (sizes, needed) else {
            bail!("the file is corrupt: its header declares sizes no file can have");
        };
        if bytes.len() != needed {
            bail!(
                "the file is truncated or corrupt: {} images of {}x{}x{}{} need {} bytes after the header, it has {}",
                n,
                header.channels,
                header.side,
                header.side,
                if header.masks { " with masks" } else { "" },
                needed,
                bytes.len()
            );
        }
        let mut at = 0;
        let mut take = |len: usize| {
            let part = &bytes[at..at + len];
            at += len;
            part
        };
        let domains: Option<Vec<Domain>> = take(sizes[0])
            .iter()
            .map(|&d| Domain::from_label(d))
            .collect();
        let labels = take(sizes[1])
            .chunks_exact(4)
            .map(|c| u32_le(c) as i32)
            .collect();
        let factors = take(sizes[2])
            .chunks_exact(4)
            .map(|c| f32::from_bits(u32_le(c)))
            .collect();
        let pixels = take(sizes[3]).to_vec();
        let masks = take(sizes[4]).to_vec();
        let Some(domains) = domains else {
            bail!("the file is corrupt: a domain is neither 0 (background) nor 1 (target)");
        };
        if masks.iter().any(|&m| m > 1) {
            bail!("the file is corrupt: a mask value is neither 0 nor 1");
        }
        Ok(Self {
            header,
            domains,
            labels,
            factors,
            pixels,
            masks,
        })
    }

    /// The header alone, without reading the images; `None` if `path` is not a dataset file.
    pub fn peek(path: &Path) -> Result<Option<Header>> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let mut start = [0u8; PREAMBLE];
        if f.read_exact(&mut start).is_err() || !FORMAT.sniff(&start) {
            return Ok(None);
        }
        let (version, len) = FORMAT
            .preamble(&start)
            .with_context(|| format!("{} is not readable", path.display()))?;
        let mut header = vec![0u8; len];
        f.read_exact(&mut header).with_context(|| {
            format!("{} is truncated (its header is incomplete)", path.display())
        })?;
        let header = Header::parse(version, &header)
            .with_context(|| format!("the header of {} is not readable", path.display()))?;
        Ok(Some(header))
    }

    pub fn read(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        Self::from_bytes(&bytes)
            .with_context(|| format!("{} is not a usable dataset", path.display()))
    }

    /// Written atomically: nothing half-written is left under `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.to_bytes())
    }

    /// Images per domain (background, target).
    pub fn counts(&self) -> (usize, usize) {
        let target = self
            .domains
            .iter()
            .filter(|&&d| d == Domain::Target)
            .count();
        (self.domains.len() - target, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_files_get_their_recipe_roles() {
        let v1 = |recipe: &str| {
            let header = format!(
                r#"{{"recipe":"{recipe}","description":"old","count":1,"side":1,"channels":1,"label_names":["cifar_class","digit"],"factor_names":[]}}"#
            );
            let mut bytes = FORMAT.frame(header.as_bytes(), 4);
            bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
            bytes.push(1); // domain
            bytes.extend_from_slice(&3i32.to_le_bytes());
            bytes.extend_from_slice(&7i32.to_le_bytes());
            bytes.push(200); // one pixel
            bytes
        };
        let file = DatasetFile::from_bytes(&v1("cifar-mnist")).unwrap();
        assert_eq!(
            file.header.labels,
            vec![
                LabelSpec::common("cifar_class"),
                LabelSpec::salient("digit")
            ]
        );
        assert_eq!(file.labels_of(0), &[3, 7]);
        // A version 1 file of a recipe this build does not know is refused with a sentence.
        let err = DatasetFile::from_bytes(&v1("mystery"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rebuild it"), "{err}");
    }

    #[test]
    fn round_trip_and_corruption() {
        let mut file = DatasetFile::new(
            "test",
            "two images",
            2,
            1,
            vec![LabelSpec::salient("digit")],
            &["scale", "x"],
        );
        file.push(
            Domain::Background,
            &[-1],
            &[f32::NAN, f32::NAN],
            &[1, 2, 3, 4],
        );
        file.push(Domain::Target, &[7], &[0.5, 0.25], &[5, 6, 7, 8]);
        let bytes = file.to_bytes();
        let back = DatasetFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.header, file.header);
        assert_eq!(back.pixels_of(1), &[5, 6, 7, 8]);
        assert_eq!(back.labels_of(1), &[7]);
        assert_eq!(back.factors_of(1), &[0.5, 0.25]);
        assert!(back.factors_of(0)[0].is_nan());
        assert_eq!(back.counts(), (1, 1));
        let err = DatasetFile::from_bytes(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        // A header declaring sizes that overflow is refused, not multiplied.
        let mut hostile = file.clone();
        hostile.header.side = usize::MAX / 2;
        let err = DatasetFile::from_bytes(&hostile.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt"), "{err}");
        assert!(DatasetFile::from_bytes(b"PNG....")
            .unwrap_err()
            .to_string()
            .contains("not a dinfogan dataset"));
    }

    #[test]
    fn masks_round_trip_and_are_checked() {
        let mut file = DatasetFile::new("test", "masked", 2, 1, vec![], &[]).with_masks();
        file.push_with_mask(Domain::Target, &[], &[], &[9, 9, 9, 9], &[0, 1, 1, 0]);
        file.push_with_mask(Domain::Background, &[], &[], &[1, 2, 3, 4], &[0; 4]);
        let bytes = file.to_bytes();
        let back = DatasetFile::from_bytes(&bytes).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.mask_of(0), Some(&[0u8, 1, 1, 0][..]));
        // The masks are part of the size check, and their values are 0 or 1.
        let err = DatasetFile::from_bytes(&bytes[..bytes.len() - 2])
            .unwrap_err()
            .to_string();
        assert!(err.contains("with masks"), "{err}");
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() = 7;
        let err = DatasetFile::from_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("mask value"), "{err}");
        // A file without masks answers None.
        let mut plain = DatasetFile::new("test", "plain", 2, 1, vec![], &[]);
        plain.push(Domain::Target, &[], &[], &[1, 2, 3, 4]);
        assert_eq!(
            DatasetFile::from_bytes(&plain.to_bytes())
                .unwrap()
                .mask_of(0),
            None
        );
    }
}
