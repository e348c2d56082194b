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
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"DINFODAT";

/// The little-endian u32 at the start of `b` (at least 4 bytes).
fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// How the file was made (e.g. `cifar-mnist`, `dsprites-mnist`).
    pub recipe: String,
    /// A sentence for `data info`.
    pub description: String,
    pub count: usize,
    pub side: usize,
    pub channels: usize,
    pub label_names: Vec<String>,
    pub factor_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFile {
    pub header: Header,
    pub domains: Vec<u8>,
    pub labels: Vec<i32>,
    pub factors: Vec<f32>,
    pub pixels: Vec<u8>,
}

impl DatasetFile {
    /// An empty dataset of `side x side x channels` images with these label and factor names.
    pub fn new(
        recipe: &str,
        description: &str,
        side: usize,
        channels: usize,
        labels: &[&str],
        factors: &[&str],
    ) -> Self {
        Self {
            header: Header {
                recipe: recipe.into(),
                description: description.into(),
                count: 0,
                side,
                channels,
                label_names: labels.iter().map(|s| s.to_string()).collect(),
                factor_names: factors.iter().map(|s| s.to_string()).collect(),
            },
            domains: Vec::new(),
            labels: Vec::new(),
            factors: Vec::new(),
            pixels: Vec::new(),
        }
    }

    pub fn image_len(&self) -> usize {
        self.header.channels * self.header.side * self.header.side
    }

    /// Appends one image (`channels x side x side` bytes) with its labels and factors.
    pub fn push(&mut self, domain: u8, labels: &[i32], factors: &[f32], pixels: &[u8]) {
        assert_eq!(labels.len(), self.header.label_names.len());
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
        let n = self.header.label_names.len();
        &self.labels[i * n..(i + 1) * n]
    }

    pub fn factors_of(&self, i: usize) -> &[f32] {
        let n = self.header.factor_names.len();
        &self.factors[i * n..(i + 1) * n]
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("the header serialises");
        let mut out =
            Vec::with_capacity(16 + header.len() + self.pixels.len() + 8 * self.domains.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.domains);
        for v in &self.labels {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.factors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.pixels);
        out
    }

    /// Whether `bytes` start like a dataset file.
    pub fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if !Self::sniff(bytes) || bytes.len() < 16 {
            bail!("it is not a dinfogan dataset file (build one with `dinfogan data build`)");
        }
        let version = u32_le(&bytes[8..]);
        if version != VERSION {
            bail!("it is a dataset file of version {version}; this build reads version {VERSION}");
        }
        let header_len = u32_le(&bytes[12..]) as usize;
        let body = 16 + header_len;
        if bytes.len() < body {
            bail!("the file is truncated (its header is incomplete)");
        }
        let header: Header = serde_json::from_slice(&bytes[16..body])
            .map_err(|e| anyhow::anyhow!("its header is corrupt ({e})"))?;
        let (n, l, f) = (
            header.count,
            header.label_names.len(),
            header.factor_names.len(),
        );
        let image = header.channels * header.side * header.side;
        let sizes = [n, 4 * n * l, 4 * n * f, n * image];
        if bytes.len() - body != sizes.iter().sum::<usize>() {
            bail!(
                "the file is truncated or corrupt: {} images of {}x{}x{} need {} bytes after the header, it has {}",
                n,
                header.channels,
                header.side,
                header.side,
                sizes.iter().sum::<usize>(),
                bytes.len() - body
            );
        }
        let mut at = body;
        let mut take = |len: usize| {
            let part = &bytes[at..at + len];
            at += len;
            part
        };
        let domains = take(sizes[0]).to_vec();
        let labels = take(sizes[1])
            .chunks_exact(4)
            .map(|c| u32_le(c) as i32)
            .collect();
        let factors = take(sizes[2])
            .chunks_exact(4)
            .map(|c| f32::from_bits(u32_le(c)))
            .collect();
        let pixels = take(sizes[3]).to_vec();
        if domains.iter().any(|&d| d > 1) {
            bail!("the file is corrupt: a domain is neither 0 (background) nor 1 (target)");
        }
        Ok(Self {
            header,
            domains,
            labels,
            factors,
            pixels,
        })
    }

    /// The header alone, without reading the images; `None` if `path` is not a dataset file.
    pub fn peek(path: &Path) -> Result<Option<Header>> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let mut start = [0u8; 16];
        if f.read_exact(&mut start).is_err() || !Self::sniff(&start) {
            return Ok(None);
        }
        let len = u32_le(&start[12..]) as usize;
        let mut header = vec![0u8; len];
        f.read_exact(&mut header).with_context(|| {
            format!("{} is truncated (its header is incomplete)", path.display())
        })?;
        let header = serde_json::from_slice(&header)
            .with_context(|| format!("the header of {} is corrupt", path.display()))?;
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
        crate::run::write_atomic(path, &self.to_bytes())
    }

    /// Images per domain (background, target).
    pub fn counts(&self) -> (usize, usize) {
        let target = self.domains.iter().filter(|&&d| d == 1).count();
        (self.domains.len() - target, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut file = DatasetFile::new("test", "two images", 2, 1, &["digit"], &["scale", "x"]);
        file.push(0, &[-1], &[f32::NAN, f32::NAN], &[1, 2, 3, 4]);
        file.push(1, &[7], &[0.5, 0.25], &[5, 6, 7, 8]);
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
        assert!(DatasetFile::from_bytes(b"PNG....")
            .unwrap_err()
            .to_string()
            .contains("not a dinfogan dataset"));
    }
}
