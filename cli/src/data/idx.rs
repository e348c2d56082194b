//! MNIST's IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, ...), plain or gzip.
//! Format: two zero bytes, a type byte (0x08 = u8), the number of dimensions, then one
//! big-endian u32 per dimension, then the data.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// A u8 IDX array: its dimensions and its data (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses IDX bytes (already decompressed).
pub fn parse(bytes: &[u8]) -> Result<Idx> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        bail!("it is not an IDX file (wrong magic number)");
    }
    if bytes[2] != 0x08 {
        bail!(
            "it holds IDX type 0x{:02x}; MNIST files hold unsigned bytes (0x08)",
            bytes[2]
        );
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if rank == 0 || bytes.len() < header {
        bail!("the IDX header is truncated");
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let b = &bytes[4 + 4 * i..];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let len: usize = dims.iter().product();
    if bytes.len() - header < len {
        bail!(
            "the file is truncated: its header announces {len} values ({dims:?}) but it holds {}",
            bytes.len() - header
        );
    }
    Ok(Idx {
        dims,
        data: bytes[header..header + len].to_vec(),
    })
}

/// Reads an IDX file, gunzipping it when it is gzip (by content, whatever its name).
pub fn read(path: &Path) -> Result<Idx> {
    let raw = std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{} is a corrupt gzip file", path.display()))?;
        out
    } else {
        raw
    };
    parse(&bytes).with_context(|| format!("{} is not a valid MNIST IDX file", path.display()))
}

/// MNIST images `[n, 28, 28]` and their labels, from the two files of one split.
#[derive(Debug)]
pub struct Mnist {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub side: usize,
}

impl Mnist {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Image `i`, `side x side` bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.side * self.side;
        &self.images[i * n..(i + 1) * n]
    }

    /// The split `train` or `t10k` from a folder holding the IDX files (plain or `.gz`).
    pub fn open(dir: &Path, split: &str) -> Result<Self> {
        let find = |kind: &str| -> Result<std::path::PathBuf> {
            for name in [
                format!("{split}-{kind}"),
                format!("{split}-{kind}.gz"),
                format!("{split}-{}", kind.replace("-idx", ".idx")),
                format!("{split}-{}.gz", kind.replace("-idx", ".idx")),
            ] {
                let path = dir.join(&name);
                if path.is_file() {
                    return Ok(path);
                }
            }
            bail!(
                "{} has no MNIST file {split}-{kind} (plain or .gz)",
                dir.display()
            )
        };
        let images = read(&find("images-idx3-ubyte")?)?;
        let labels = read(&find("labels-idx1-ubyte")?)?;
        if images.dims.len() != 3 || images.dims[1] != images.dims[2] {
            bail!(
                "the MNIST image file holds {:?}, not [n, side, side]",
                images.dims
            );
        }
        if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
            bail!(
                "the MNIST files disagree: {} images but {:?} labels",
                images.dims[0],
                labels.dims
            );
        }
        Ok(Self {
            side: images.dims[1],
            images: images.data,
            labels: labels.data,
        })
    }
}

/// Writes an IDX file of u8 values.
#[cfg(test)]
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_plain_and_gzip_files() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..2 * 28 * 28).map(|i| (i % 251) as u8).collect();
        std::fs::write(
            dir.path().join("train-images-idx3-ubyte"),
            encode(&[2, 28, 28], &pixels),
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&encode(&[2], &[7, 3])).unwrap();
        std::fs::write(
            dir.path().join("train-labels-idx1-ubyte.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let mnist = Mnist::open(dir.path(), "train").unwrap();
        assert_eq!(mnist.len(), 2);
        assert_eq!(mnist.labels, vec![7, 3]);
        assert_eq!(mnist.image(1)[0], pixels[784]);
    }

    #[test]
    fn refuses_wrong_magic_and_truncation() {
        assert!(parse(b"\x1f\x00\x08\x01")
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let mut bytes = encode(&[3, 28, 28], &[0; 10]);
        let err = parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        bytes[2] = 0x0D;
        assert!(parse(&bytes).unwrap_err().to_string().contains("0x0d"));
    }
}
