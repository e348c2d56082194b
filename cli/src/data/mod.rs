//! Training data on the CLI side: the built-in procedural set, a dataset file written by
//! `dinfogan data build`, or a folder with `background/` and `target/` sub-folders of images.
//! Batches are a pure function of (seed, step), so a resumed run sees exactly the batches it
//! would have seen.

pub mod brats;
pub mod celeba;
pub mod cifar;
pub mod commands;
pub mod dsprites;
pub mod file;
pub mod idx;
pub mod nifti;
pub mod recipes;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dinfogan::builtin::{BuiltinDataset, Domain};
use dinfogan::Batching;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::images;

/// Images per domain in one epoch of the built-in data.
pub const BUILTIN_LEN: usize = 20_000;

/// What `--data` names, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// The built-in procedural data (`builtin`).
    Builtin,
    /// A dataset file written by `dinfogan data build` (`file:PATH` says so without looking).
    File(PathBuf),
    /// A folder with `background/` and `target/` (`folder:PATH` says so without looking).
    Folder(PathBuf),
}

impl DataSpec {
    /// The text a run folder records: its kind spelled out (`builtin`, `file:PATH`,
    /// `folder:PATH`), so that reading it back does not depend on what is at the path by then
    /// (a moved dataset file would otherwise come back as a folder).
    fn record(&self) -> String {
        match self {
            DataSpec::Builtin => "builtin".into(),
            DataSpec::File(path) => format!("file:{}", path.display()),
            DataSpec::Folder(path) => format!("folder:{}", path.display()),
        }
    }
}

/// As [`DataSpec::record`] writes it.
impl serde::Serialize for DataSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.record())
    }
}

/// A recorded spec; a bare path (run folders written before the kind was recorded) is read as
/// `--data` reads it, by what is at the path now.
impl<'de> serde::Deserialize<'de> for DataSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for DataSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("--data is empty: pass builtin, a dataset file or a folder".into());
        }
        Ok(
            match (
                text,
                text.strip_prefix("folder:"),
                text.strip_prefix("file:"),
            ) {
                ("builtin", _, _) => DataSpec::Builtin,
                (_, Some(path), _) => DataSpec::Folder(path.into()),
                (_, _, Some(path)) => DataSpec::File(path.into()),
                (path, None, None) if Path::new(path).is_file() => DataSpec::File(path.into()),
                (path, None, None) => DataSpec::Folder(path.into()),
            },
        )
    }
}

impl std::fmt::Display for DataSpec {
    /// The text that parses back to this spec (run folders record it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSpec::Builtin => f.write_str("builtin"),
            DataSpec::File(path) | DataSpec::Folder(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A dataset whose images are not the model's size or channels. Callers add what to do about
/// it, which depends on what they were asked to do (train, evaluate, encode).
#[derive(Debug)]
pub struct SizeMismatch {
    pub spec: DataSpec,
    /// (channels, side) of the data.
    pub data: (usize, usize),
    /// (channels, side) of the model.
    pub model: (usize, usize),
}

impl std::fmt::Display for SizeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ((dc, ds), (mc, ms)) = (self.data, self.model);
        write!(
            f,
            "the dataset {} holds {dc}x{ds}x{ds} images but the model works on {mc}x{ms}x{ms}",
            self.spec
        )
    }
}

impl std::error::Error for SizeMismatch {}

impl SizeMismatch {
    /// The one size check: `Ok` when the images of the dataset `spec`, (channels, side) =
    /// `data`, are what the model works on, (channels, side) = `model`.
    pub fn check(
        spec: &DataSpec,
        data: (usize, usize),
        model: (usize, usize),
    ) -> Result<(), SizeMismatch> {
        if data == model {
            return Ok(());
        }
        Err(SizeMismatch {
            spec: spec.clone(),
            data,
            model,
        })
    }

    /// `error` with `advice` appended when it is a size mismatch (the advice depends on the
    /// command); any other error unchanged.
    pub fn advise(error: anyhow::Error, advice: impl Fn(&SizeMismatch) -> String) -> anyhow::Error {
        match error.downcast_ref::<SizeMismatch>() {
            Some(mismatch) => anyhow::anyhow!("{mismatch}: {}", advice(mismatch)),
            None => error,
        }
    }
}

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
/// `background/<subclass>/` and `target/<subclass>/`).
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

/// The sub-class of an image of a folder dataset: the name of its sub-folder of `background/`
/// or `target/`, if it is in one.
pub fn subclass(file: &Path) -> Option<String> {
    let parent = file.parent()?;
    let name = parent.file_name()?.to_str()?;
    (name != "target" && name != "background").then(|| name.to_string())
}

impl Data {
    /// The images `spec` names, for a model of `channels` x `side` x `side` (a dataset file of
    /// another size is a [`SizeMismatch`]).
    pub fn open(spec: &DataSpec, side: usize, channels: usize, seed: u64) -> Result<Self> {
        let root = match spec {
            DataSpec::Builtin => {
                return Ok(Self {
                    source: Source::Builtin(BuiltinDataset::new(seed, BUILTIN_LEN)),
                    side,
                    channels,
                })
            }
            DataSpec::File(path) | DataSpec::Folder(path) => path.clone(),
        };
        if let DataSpec::File(_) = spec {
            let file = file::DatasetFile::read(&root)?;
            let h = &file.header;
            SizeMismatch::check(spec, (h.channels, h.side), (channels, side))?;
            let (background, target): (Vec<usize>, Vec<usize>) =
                (0..h.count).partition(|&i| file.domains[i] == Domain::Background);
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
                "the dataset {spec} does not exist: give builtin, a dataset file, or a folder with \
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
            let files = image_files(&dir, true)?;
            if files.is_empty() {
                bail!(
                    "the folder {} holds no PNG or JPEG image (nor do its sub-folders): the \
                     dataset is empty",
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
                    .map(|&p| dinfogan::pixels::unit(p))
                    .collect()
            }
            (Source::Folder { background, .. }, Domain::Background) => background[index].clone(),
            (Source::Folder { target, .. }, Domain::Target) => target[index].clone(),
        }
    }

    /// The sub-class of image `index` of a folder dataset (its sub-folder's name), if any.
    pub fn subclass(&self, domain: Domain, index: usize) -> Option<String> {
        match (&self.source, domain) {
            (
                Source::Folder {
                    background_files, ..
                },
                Domain::Background,
            ) => subclass(&background_files[index]),
            (Source::Folder { target_files, .. }, Domain::Target) => subclass(&target_files[index]),
            _ => None,
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

    /// Steps in one epoch: per-domain batches see every image of the larger domain once,
    /// mixed batches every image of both.
    pub fn steps_per_epoch(&self, batch: usize, batching: Batching) -> u64 {
        let (bg, t) = (self.len(Domain::Background), self.len(Domain::Target));
        let images = match batching {
            Batching::PerDomain => bg.max(t),
            Batching::Mixed => bg + t,
        };
        images.div_ceil(batch) as u64
    }
}

/// The real images of one step, `[count, channels, side, side]` flattened, per domain.
pub struct RealBatch {
    pub background: Vec<f32>,
    pub background_count: usize,
    pub target: Vec<f32>,
    pub target_count: usize,
}

/// Which images each step trains on: a pure function of (seed, step), so a resumed run sees
/// exactly the batches it would have seen (hand-written for that reason: a loader with its
/// own state could not resume mid-epoch). Each epoch is a fresh permutation.
pub struct Batches {
    seed: u64,
    batch: usize,
    batching: Batching,
    /// The permutation of the current epoch of each stream (background, target, mixed).
    cached: [(u64, Vec<usize>); 3],
}

impl Batches {
    pub fn new(seed: u64, batch: usize, batching: Batching) -> Self {
        Self {
            seed,
            batch,
            batching,
            cached: [
                (u64::MAX, Vec::new()),
                (u64::MAX, Vec::new()),
                (u64::MAX, Vec::new()),
            ],
        }
    }

    /// Positions `step * batch ..` of a stream of `len` items reshuffled every epoch.
    fn stream(&mut self, slot: usize, len: usize, step: u64) -> Vec<usize> {
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

    /// The images of each domain that `step` trains on.
    pub fn indices(&mut self, data: &Data, step: u64) -> (Vec<usize>, Vec<usize>) {
        let (n_bg, n_t) = (data.len(Domain::Background), data.len(Domain::Target));
        match self.batching {
            Batching::PerDomain => (self.stream(0, n_bg, step), self.stream(1, n_t, step)),
            Batching::Mixed => {
                // One permutation of both domains joined: positions below n_bg are background.
                let (mut bg, mut t): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
                for i in self.stream(2, n_bg + n_t, step) {
                    if i < n_bg {
                        bg.push(i);
                    } else {
                        t.push(i - n_bg);
                    }
                }
                // A step needs both domains: a batch drawn from one alone (likely only for
                // tiny B) gives its last image's place to an image of the other.
                let fill = step as usize;
                if bg.is_empty() {
                    t.pop();
                    bg.push(fill % n_bg);
                } else if t.is_empty() {
                    bg.pop();
                    t.push(fill % n_t);
                }
                (bg, t)
            }
        }
    }

    /// The background and target images of `step`.
    pub fn get(&mut self, data: &Data, step: u64) -> RealBatch {
        let (bg, t) = self.indices(data, step);
        let gather = |domain, indices: &[usize]| {
            indices
                .iter()
                .flat_map(|&i| data.image(domain, i))
                .collect::<Vec<f32>>()
        };
        RealBatch {
            background: gather(Domain::Background, &bg),
            background_count: bg.len(),
            target: gather(Domain::Target, &t),
            target_count: t.len(),
        }
    }
}

/// Indices `0..len` to evaluate: all of them, or a seeded random sample of `count`, in their
/// original order (files such as dSprites-MNIST follow a factor grid: their first images are
/// not a sample).
pub fn sample_in_order(len: usize, count: Option<usize>, seed: u64) -> Vec<usize> {
    match count {
        Some(n) if n < len => {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut picked = rand::seq::index::sample(&mut rng, len, n).into_vec();
            picked.sort_unstable();
            picked
        }
        _ => (0..len).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_everything_or_seeded_and_in_order() {
        assert_eq!(sample_in_order(4, None, 0), [0, 1, 2, 3]);
        assert_eq!(sample_in_order(4, Some(9), 0), [0, 1, 2, 3]);
        let picked = sample_in_order(1000, Some(20), 3);
        assert_eq!(picked.len(), 20);
        assert!(
            picked.windows(2).all(|w| w[0] < w[1]),
            "sorted and distinct"
        );
        assert!(picked[19] >= 20, "not the first images: {picked:?}");
        assert_eq!(picked, sample_in_order(1000, Some(20), 3), "seeded");
        assert_ne!(picked, sample_in_order(1000, Some(20), 4));
    }

    #[test]
    fn data_specs_parse_once_and_print_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("set.dat");
        std::fs::write(&file, b"x").unwrap();
        let folder = dir.path().to_str().unwrap();
        let cases = [
            ("builtin", DataSpec::Builtin),
            (file.to_str().unwrap(), DataSpec::File(file.clone())),
            (folder, DataSpec::Folder(folder.into())),
            ("no/such/place", DataSpec::Folder("no/such/place".into())),
        ];
        for (text, spec) in cases {
            assert_eq!(text.parse::<DataSpec>(), Ok(spec.clone()));
            assert_eq!(spec.to_string().parse::<DataSpec>(), Ok(spec));
        }
        // `folder:` forces a folder even where a file has the name.
        let forced = format!("folder:{}", file.display());
        assert_eq!(forced.parse::<DataSpec>(), Ok(DataSpec::Folder(file)));
        assert!("".parse::<DataSpec>().is_err());
        let mismatch = SizeMismatch {
            spec: DataSpec::Builtin,
            data: (1, 32),
            model: (3, 64),
        };
        assert_eq!(
            mismatch.to_string(),
            "the dataset builtin holds 1x32x32 images but the model works on 3x64x64"
        );
        assert!(SizeMismatch::check(&DataSpec::Builtin, (1, 32), (1, 32)).is_ok());
        let refused = SizeMismatch::check(&DataSpec::File("mri.dat".into()), (1, 128), (1, 64));
        assert_eq!(
            refused.unwrap_err().to_string(),
            "the dataset mri.dat holds 1x128x128 images but the model works on 1x64x64"
        );
    }

    /// A run folder records the kind of its data: a dataset file moved away since still reads
    /// back as a file (a bare path, as older runs recorded it, is read by what is there).
    #[test]
    fn a_recorded_spec_keeps_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("set.dat");
        std::fs::write(&file, b"x").unwrap();
        for spec in [
            DataSpec::Builtin,
            DataSpec::File(file.clone()),
            DataSpec::Folder(dir.path().into()),
        ] {
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<DataSpec>(&json).unwrap(), spec);
        }
        let recorded = serde_json::to_string(&DataSpec::File(file.clone())).unwrap();
        assert_eq!(recorded, format!("\"file:{}\"", file.display()));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            serde_json::from_str::<DataSpec>(&recorded).unwrap(),
            DataSpec::File(file.clone())
        );
        let bare = serde_json::to_string(file.to_str().unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<DataSpec>(&bare).unwrap(),
            DataSpec::Folder(file)
        );
    }

    fn builtin(len: usize) -> Data {
        Data {
            source: Source::Builtin(BuiltinDataset::new(0, len)),
            side: 32,
            channels: 1,
        }
    }

    #[test]
    fn per_domain_batches_cover_each_domain_every_epoch() {
        let data = builtin(12);
        let mut batches = Batches::new(3, 4, Batching::PerDomain);
        assert_eq!(data.steps_per_epoch(4, Batching::PerDomain), 3);
        let mut seen = [Vec::new(), Vec::new()];
        for step in 0..3 {
            let (bg, t) = batches.indices(&data, step);
            assert_eq!((bg.len(), t.len()), (4, 4));
            seen[0].extend(bg);
            seen[1].extend(t);
        }
        for s in &mut seen {
            s.sort();
            assert_eq!(*s, (0..12).collect::<Vec<_>>());
        }
    }

    #[test]
    fn mixed_batches_split_one_draw_of_both_domains() {
        let data = builtin(12);
        assert_eq!(data.steps_per_epoch(4, Batching::Mixed), 6);
        let mut batches = Batches::new(3, 4, Batching::Mixed);
        let (mut bg_seen, mut t_seen) = (Vec::new(), Vec::new());
        let mut sizes = std::collections::HashSet::new();
        for step in 0..6 {
            let (bg, t) = batches.indices(&data, step);
            assert_eq!(bg.len() + t.len(), 4);
            assert!(!bg.is_empty() && !t.is_empty());
            sizes.insert(bg.len());
            bg_seen.extend(bg);
            t_seen.extend(t);
        }
        // Batches vary in their split (the draw is over both domains), and an epoch of 24
        // images covers each domain once, but for the images a one-domain batch gave up.
        assert!(sizes.len() > 1, "{sizes:?}");
        bg_seen.sort();
        bg_seen.dedup();
        t_seen.sort();
        t_seen.dedup();
        assert!(bg_seen.len() >= 11 && t_seen.len() >= 11);
        // A pure function of (seed, step): a resumed loader draws the same batch.
        let again = Batches::new(3, 4, Batching::Mixed).indices(&data, 5);
        assert_eq!(again, batches.indices(&data, 5));
    }

    #[test]
    fn a_mixed_batch_of_one_domain_gets_an_image_of_the_other() {
        let data = builtin(50);
        // B = 2: some of the first steps draw two images of one domain.
        let mut batches = Batches::new(0, 2, Batching::Mixed);
        for step in 0..50 {
            let (bg, t) = batches.indices(&data, step);
            assert_eq!((bg.len(), t.len()), (1, 1), "step {step}");
        }
    }
}
