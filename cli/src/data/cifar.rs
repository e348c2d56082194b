//! CIFAR-10's "binary version": `data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`,
//! each 10,000 records of one label byte and 3 x 32 x 32 pixel bytes (red, green, blue planes).

use std::path::Path;

use anyhow::{bail, Context, Result};

pub const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// CIFAR-10 images (`3 x 32 x 32` bytes each, channel-major) and labels 0..10.
#[derive(Debug)]
pub struct Cifar {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Cifar {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * (RECORD - 1)..(i + 1) * (RECORD - 1)]
    }

    /// Parses the bytes of one or more batch files.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
            bail!(
                "it is not a CIFAR-10 binary batch: {} bytes is not a whole number of {RECORD}-byte records",
                bytes.len()
            );
        }
        let n = bytes.len() / RECORD;
        let mut images = Vec::with_capacity(n * (RECORD - 1));
        let mut labels = Vec::with_capacity(n);
        for record in bytes.chunks(RECORD) {
            if record[0] > 9 {
                bail!(
                    "it is not a CIFAR-10 binary batch: label {} is not 0..9",
                    record[0]
                );
            }
            labels.push(record[0]);
            images.extend_from_slice(&record[1..]);
        }
        Ok(Self { images, labels })
    }

    /// The training split (`data_batch_1..5.bin`) or the test split (`test_batch.bin`) of the
    /// folder `cifar-10-batches-bin/`.
    pub fn open(dir: &Path, train: bool) -> Result<Self> {
        let names: Vec<String> = if train {
            (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
        } else {
            vec!["test_batch.bin".into()]
        };
        let mut bytes = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let part = std::fs::read(&path).with_context(|| {
                format!(
                    "could not read {} (CIFAR-10 binary version: the folder cifar-10-batches-bin)",
                    path.display()
                )
            })?;
            Self::parse(&part).with_context(|| format!("{}", path.display()))?;
            bytes.extend(part);
        }
        Self::parse(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_refuses_garbage() {
        let mut bytes = Vec::new();
        for label in [3u8, 9] {
            bytes.push(label);
            bytes.extend((0..3072).map(|i| (i % 200) as u8 + label));
        }
        let cifar = Cifar::parse(&bytes).unwrap();
        assert_eq!(cifar.labels, vec![3, 9]);
        assert_eq!(cifar.image(1)[0], 9);
        assert_eq!(cifar.image(1)[1024], (1024 % 200) as u8 + 9);
        assert!(Cifar::parse(&bytes[..100]).is_err());
        let mut bad = bytes.clone();
        bad[0] = 12;
        assert!(Cifar::parse(&bad)
            .unwrap_err()
            .to_string()
            .contains("label 12"));
    }
}
