//! Training data on the CLI side: the built-in procedural set, a dataset file written by
//! `dinfogan data build`, or a folder with `background/` and `target/` sub-folders of images.
//! Batches are a pure function of (seed, step), so a resumed run sees exactly the batches it
//! would have seen.

pub mod celeba;
pub mod cifar;
pub mod commands;
pub mod dsprites;
pub mod file;
pub mod idx;
pub mod recipes;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dinfogan::builtin::{BuiltinDataset, Domain};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::images;

/// Images per domain in one epoch of the built-in data.
pub const BUILTIN_LEN: usize = 20_000;

pub enum Source {
    Builtin(BuiltinDataset),
    /// A dataset file, and the indices of its images per domain.
    File {
        path: PathBuf,
        file: file::DatasetFile,
        background: Vec<usize>,
        target: Vec<usize>,
    },
    /// Decoded images, `channels x side x side` each, per domain.
    Folder {
        root: PathBuf,
        background: Vec<Vec<f32>>,
        target: Vec<Vec<f32>>,
        background_files: Vec<PathBuf>,
        target_files: Vec<PathBuf>,
    },
}

pub struct Data {
    pub source: Source,
    pub side: usize,
    pub channels: usize,
}

/// The PNG/JPEG files of `dir`, sorted; with `subfolders`, also those one folder down (for
/// `target/<subclass>/`).
fn image_files(dir: &Path, subfolders: bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("could not list the folder {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            if subfolders {
                files.extend(image_files(&path, false)?);
            }
            continue;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The sub-class of a target image of a folder dataset: the name of its sub-folder of
/// `target/`, if it is in one.
pub fn subclass(file: &Path) -> Option<String> {
    let parent = file.parent()?;
    let name = parent.file_name()?.to_str()?;
    (name != "target").then(|| name.to_string())
}

impl Data {
    /// `spec` is `builtin` or a folder holding `background/` and `target/`.
    pub fn open(spec: &str, side: usize, channels: usize, seed: u64) -> Result<Self> {
        if spec == "builtin" {
            return Ok(Self {
                source: Source::Builtin(BuiltinDataset::new(seed, BUILTIN_LEN)),
                side,
                channels,
            });
        }
        // `folder:PATH` names an image folder explicitly.
        let (root, folder_only) = match spec.strip_prefix("folder:") {
            Some(path) => (PathBuf::from(path), true),
            None => (PathBuf::from(spec), false),
        };
        if root.is_file() && !folder_only {
            let file = file::DatasetFile::read(&root)?;
            let h = &file.header;
            if h.side != side || h.channels != channels {
                bail!(
                    "the dataset {spec} holds {}x{}x{} images but the model works on {channels}x{side}x{side}: \
                     train with --size {} --channels {}",
                    h.channels,
                    h.side,
                    h.side,
                    h.side,
                    h.channels
                );
            }
            let (background, target): (Vec<usize>, Vec<usize>) =
                (0..h.count).partition(|&i| file.domains[i] == 0);
            if background.is_empty() || target.is_empty() {
                bail!("the dataset {spec} has no background or no target image: it cannot train a contrastive model");
            }
            return Ok(Self {
                source: Source::File {
                    path: root,
                    file,
                    background,
                    target,
                },
                side,
                channels,
            });
        }
        if !root.is_dir() {
            bail!(
                "the dataset {spec} does not exist: pass --data builtin, or a folder with \
                 background/ and target/ sub-folders of images"
            );
        }
        let load = |name: &str| -> Result<(Vec<PathBuf>, Vec<Vec<f32>>)> {
            let dir = root.join(name);
            if !dir.is_dir() {
                bail!(
                    "the dataset folder {} has no {name}/ sub-folder (it needs background/ \
                     and target/)",
                    root.display()
                );
            }
            let files = image_files(&dir, name == "target")?;
            if files.is_empty() {
                bail!(
                    "the folder {} holds no PNG or JPEG image: the dataset is empty",
                    dir.display()
                );
            }
            let pixels = files
                .iter()
                .map(|f| images::load_resized(f, side, channels))
                .collect::<Result<Vec<_>>>()?;
            Ok((files, pixels))
        };
        let (background_files, background) = load("background")?;
        let (target_files, target) = load("target")?;
        Ok(Self {
            source: Source::Folder {
                root,
                background,
                target,
                background_files,
                target_files,
            },
            side,
            channels,
        })
    }

    pub fn len(&self, domain: Domain) -> usize {
        match (&self.source, domain) {
            (Source::Builtin(d), _) => d.len,
            (Source::File { background, .. }, Domain::Background) => background.len(),
            (Source::File { target, .. }, Domain::Target) => target.len(),
            (Source::Folder { background, .. }, Domain::Background) => background.len(),
            (Source::Folder { target, .. }, Domain::Target) => target.len(),
        }
    }

    /// The position in the dataset file of image `index` of `domain` (file sources only).
    pub fn file_index(&self, domain: Domain, index: usize) -> Option<usize> {
        match &self.source {
            Source::File {
                background, target, ..
            } => Some(match domain {
                Domain::Background => background[index],
                Domain::Target => target[index],
            }),
            _ => None,
        }
    }

    /// Image `index` of `domain`, `channels x side x side` in [-1, 1].
    pub fn image(&self, domain: Domain, index: usize) -> Vec<f32> {
        match (&self.source, domain) {
            (Source::Builtin(d), _) => d.image(domain, index, self.side, self.channels),
            (Source::File { file, .. }, _) => {
                let i = self.file_index(domain, index).expect("a file source");
                file.pixels_of(i)
                    .iter()
                    .map(|&p| p as f32 / 127.5 - 1.0)
                    .collect()
            }
            (Source::Folder { background, .. }, Domain::Background) => background[index].clone(),
            (Source::Folder { target, .. }, Domain::Target) => target[index].clone(),
        }
    }

    /// A name for image `index` (its file, or its built-in index).
    pub fn name(&self, domain: Domain, index: usize) -> String {
        match (&self.source, domain) {
            (Source::Builtin(_), _) => format!("builtin:{domain:?}:{index}").to_lowercase(),
            (Source::File { path, .. }, _) => {
                let i = self.file_index(domain, index).expect("a file source");
                format!("{}:{i}", path.display())
            }
            (
                Source::Folder {
                    background_files, ..
                },
                Domain::Background,
            ) => background_files[index].display().to_string(),
            (Source::Folder { target_files, .. }, Domain::Target) => {
                target_files[index].display().to_string()
            }
        }
    }

    pub fn describe(&self) -> String {
        match &self.source {
            Source::Builtin(d) => format!(
                "built-in gratings and sprites (seed {}, {} images per domain per epoch)",
                d.seed, d.len
            ),
            Source::File {
                path,
                file,
                background,
                target,
            } => format!(
                "{} ({}: {} background, {} target images)",
                path.display(),
                file.header.description,
                background.len(),
                target.len()
            ),
            Source::Folder {
                root,
                background,
                target,
                ..
            } => format!(
                "{} ({} background, {} target images)",
                root.display(),
                background.len(),
                target.len()
            ),
        }
    }

    /// Steps in one epoch: enough batches to see every image of the larger domain once.
    pub fn steps_per_epoch(&self, batch: usize) -> u64 {
        let larger = self.len(Domain::Background).max(self.len(Domain::Target));
        larger.div_ceil(batch) as u64
    }
}

/// Reshuffled every epoch of each domain, independently; a pure function of (seed, step).
pub struct Batches {
    seed: u64,
    batch: usize,
    cached: [(u64, Vec<usize>); 2],
}

impl Batches {
    pub fn new(seed: u64, batch: usize) -> Self {
        Self {
            seed,
            batch,
            cached: [(u64::MAX, Vec::new()), (u64::MAX, Vec::new())],
        }
    }

    fn indices(&mut self, data: &Data, domain: Domain, step: u64) -> Vec<usize> {
        let len = data.len(domain);
        let slot = domain.label() as usize;
        (0..self.batch)
            .map(|j| {
                let global = step * self.batch as u64 + j as u64;
                let epoch = global / len as u64;
                if self.cached[slot].0 != epoch {
                    let mut order: Vec<usize> = (0..len).collect();
                    let key = self.seed ^ (epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ slot as u64;
                    order.shuffle(&mut StdRng::seed_from_u64(key));
                    self.cached[slot] = (epoch, order);
                }
                self.cached[slot].1[(global % len as u64) as usize]
            })
            .collect()
    }

    /// The background and target images of `step`, each `[batch, channels, side, side]` flattened.
    pub fn get(&mut self, data: &Data, step: u64) -> (Vec<f32>, Vec<f32>) {
        let mut gather = |domain| {
            self.indices(data, domain, step)
                .into_iter()
                .flat_map(|i| data.image(domain, i))
                .collect::<Vec<f32>>()
        };
        let background = gather(Domain::Background);
        let target = gather(Domain::Target);
        (background, target)
    }
}
