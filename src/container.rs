//! The one binary layout of the project's self-describing files (the exported model and the
//! dataset file):
//!
//! ```text
//! magic (8 bytes) | version u32 LE | header length u32 LE | header (JSON) | body
//! ```
//!
//! Each format names its magic, the versions it reads and what it is called; this module frames
//! and unframes the bytes, and says in a sentence what is wrong with a file that is not one of
//! ours, of an unknown version or truncated. What the header and the body mean stays with each
//! format.

use std::ops::RangeInclusive;

/// A file format built on the container.
#[derive(Debug, Clone)]
pub struct Format {
    pub magic: &'static [u8; 8],
    /// The versions this build reads; it writes the last.
    pub versions: RangeInclusive<u32>,
    /// What a user calls such a file ("model file", "dataset file").
    pub what: &'static str,
    /// How a user makes one ("export one with `dinfogan export`"), for the "not one of ours"
    /// sentence.
    pub how_to_make: &'static str,
}

/// Headers are a few hundred bytes; a larger claim is a corrupt or hostile file, refused before
/// anything is allocated for it.
pub const MAX_HEADER: usize = 1 << 20;

/// Magic, version and header length.
pub const PREAMBLE: usize = 16;

/// A file taken apart: its version, its JSON header and the bytes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed<'a> {
    pub version: u32,
    pub header: &'a [u8],
    pub body: &'a [u8],
}

/// Why bytes are not a readable file of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerError {
    /// Another kind of file (or fewer bytes than the preamble).
    NotOurs {
        what: &'static str,
        how_to_make: &'static str,
    },
    /// One of ours, of a version this build does not read.
    Version {
        what: &'static str,
        found: u32,
        reads: RangeInclusive<u32>,
    },
    /// The header claims more than [`MAX_HEADER`] bytes.
    HugeHeader { what: &'static str, claimed: usize },
    /// The header ends after the file does.
    Truncated { what: &'static str },
}

impl std::fmt::Display for ContainerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContainerError::NotOurs { what, how_to_make } => {
                write!(f, "this is not a {what} ({how_to_make})")
            }
            ContainerError::Version { what, found, reads } => {
                let reads = if reads.start() == reads.end() {
                    format!("version {}", reads.end())
                } else {
                    format!("versions {} to {}", reads.start(), reads.end())
                };
                write!(
                    f,
                    "this {what} has format version {found}; this build reads {reads}"
                )
            }
            ContainerError::HugeHeader { what, claimed } => write!(
                f,
                "the {what} is corrupt: its header claims {claimed} bytes (at most {MAX_HEADER})"
            ),
            ContainerError::Truncated { what } => {
                write!(f, "the {what} is truncated (its header is incomplete)")
            }
        }
    }
}

impl std::error::Error for ContainerError {}

impl Format {
    /// The version this build writes.
    pub fn current(&self) -> u32 {
        *self.versions.end()
    }

    /// Whether `bytes` start with this format's magic.
    pub fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(self.magic)
    }

    /// The preamble and header of a file in the current version, with room for `body_len`
    /// more bytes: the caller appends the body.
    pub fn frame(&self, header: &[u8], body_len: usize) -> Vec<u8> {
        assert!(header.len() <= MAX_HEADER, "headers stay small");
        let mut out = Vec::with_capacity(PREAMBLE + header.len() + body_len);
        out.extend_from_slice(self.magic);
        out.extend_from_slice(&self.current().to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(header);
        out
    }

    /// Checks the preamble (`bytes` may be just its first 16 bytes) and returns the version
    /// and the header's length.
    pub fn preamble(&self, bytes: &[u8]) -> Result<(u32, usize), ContainerError> {
        if bytes.len() < PREAMBLE || !self.sniff(bytes) {
            return Err(ContainerError::NotOurs {
                what: self.what,
                how_to_make: self.how_to_make,
            });
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version = word(8);
        if !self.versions.contains(&version) {
            return Err(ContainerError::Version {
                what: self.what,
                found: version,
                reads: self.versions.clone(),
            });
        }
        let header_len = word(12) as usize;
        if header_len > MAX_HEADER {
            return Err(ContainerError::HugeHeader {
                what: self.what,
                claimed: header_len,
            });
        }
        Ok((version, header_len))
    }

    /// Takes a whole file apart.
    pub fn unframe<'a>(&self, bytes: &'a [u8]) -> Result<Framed<'a>, ContainerError> {
        let (version, header_len) = self.preamble(bytes)?;
        let end = PREAMBLE + header_len;
        if bytes.len() < end {
            return Err(ContainerError::Truncated { what: self.what });
        }
        Ok(Framed {
            version,
            header: &bytes[PREAMBLE..end],
            body: &bytes[end..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Format = Format {
        magic: b"TESTFILE",
        versions: 1..=2,
        what: "test file",
        how_to_make: "make one with `make test`",
    };

    #[test]
    fn frames_and_unframes() {
        let mut bytes = TEST.frame(b"{\"a\":1}", 3);
        bytes.extend_from_slice(&[7, 8, 9]);
        assert_eq!(&bytes[..8], b"TESTFILE");
        assert_eq!(&bytes[8..16], &[2, 0, 0, 0, 7, 0, 0, 0]);
        let framed = TEST.unframe(&bytes).unwrap();
        assert_eq!(
            framed,
            Framed {
                version: 2,
                header: b"{\"a\":1}",
                body: &[7, 8, 9]
            }
        );
    }

    #[test]
    fn every_bad_preamble_gets_its_sentence() {
        let good = TEST.frame(b"{}", 0);
        let with = |at: usize, word: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&word.to_le_bytes());
            b
        };
        let err = |b: &[u8]| TEST.unframe(b).unwrap_err().to_string();
        assert_eq!(
            err(b"PNG..."),
            "this is not a test file (make one with `make test`)"
        );
        assert_eq!(err(&good[..15]), err(b"PNG..."));
        assert_eq!(
            err(&with(8, 3)),
            "this test file has format version 3; this build reads versions 1 to 2"
        );
        assert!(err(&with(12, u32::MAX)).contains("its header claims 4294967295 bytes"));
        assert_eq!(
            err(&with(12, 3)),
            "the test file is truncated (its header is incomplete)"
        );
        assert_eq!(TEST.unframe(&with(8, 1)).unwrap().version, 1);
    }
}
