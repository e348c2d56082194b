//! `dinfogan data build | info | preview`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use dinfogan::builtin::Domain;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::Serialize;

use super::cifar::Cifar;
use super::dsprites;
use super::file::{DatasetFile, LabelSpec};
use super::idx::Mnist;
use super::recipes;
use crate::args::OutputFile;
use crate::images;
use crate::io::print_json;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Build one of the paper's contrastive datasets into a dataset file for `train --data FILE`.
    Build(BuildArgs),
    /// Counts per domain and per label of a dataset file.
    Info {
        file: PathBuf,
        /// Print the counts as one JSON document on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A PNG of the first images of each domain of a dataset file, an image folder or the
    /// built-in data.
    Preview {
        /// `builtin`, a dataset file, or a folder with background/ and target/.
        data: super::DataSpec,
        /// Built-in data and folders: the image side (a dataset file's own side otherwise).
        #[arg(long, default_value_t = 32)]
        size: usize,
        /// Built-in data and folders: 3 (RGB) or 1 (grey).
        #[arg(long, default_value_t = 3)]
        channels: usize,
        #[arg(long)]
        out: PathBuf,
        /// Images per domain.
        #[arg(long, default_value_t = 16)]
        count: usize,
        /// One row at the images' own size, no gaps: the background images, then the targets
        /// (the swap examples of a model in the browser viewer's catalogue).
        #[arg(long)]
        strip: bool,
    },
    /// Writes a dataset file's images as PNG files in the folder layout `train --data PATH`
    /// reads (OUT/background/, OUT/target/), e.g. to try the folder route on known data.
    Folders {
        file: PathBuf,
        /// A new or empty folder.
        #[arg(long)]
        out: PathBuf,
        /// At most this many images per domain: a random sample (files such as dSprites-MNIST
        /// follow a factor grid, so their first images are not representative).
        #[arg(long)]
        count: Option<usize>,
        /// Seed of the sample.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Sort the images into sub-folders by this label's classes (its name as `data info`
        /// shows it): `eval separation --data OUT` then scores it as a sub-class. Images
        /// without a class of it stay in their domain's folder.
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Recipe {
    /// Background: CIFAR-10 at half intensity; target: the same with an MNIST digit on top.
    CifarMnist,
    /// Background: a 2x2 grid of MNIST digits 1-4 at half intensity; target: the same with a dSprites sprite.
    DspritesMnist,
    /// CelebA with accessories: background = no glasses and no hat; target = glasses or hat.
    Celeba,
    /// The grouped evaluation set of the FactorVAE score on dSprites-MNIST (targets only).
    DspritesMnistGroups,
    /// Brain MRI from BraTS-style NIfTI volumes (--from): axial slices with tumour are targets,
    /// those without background, each with its tumour mask (for `eval lesion`).
    Brats,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(value_enum)]
    pub recipe: Recipe,
    /// The folder with MNIST's IDX files (plain or .gz); `scripts/fetch-mnist.sh` fetches them.
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// dsprites-mnist: the official dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz (without it,
    /// the sprites are regenerated procedurally on the same factor grid).
    #[arg(long)]
    pub dsprites: Option<PathBuf>,
    /// The CelebA folder (img_align_celeba/ and list_attr_celeba.txt), for celeba.
    #[arg(long)]
    pub celeba: Option<PathBuf>,
    /// celeba: at most this many images per class (the paper: 10,000 background, 5,000 glasses,
    /// 5,000 hat for training; the test split, which always follows them, 1,000, 5,000, 5,000).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The CIFAR-10 binary folder (cifar-10-batches-bin), for cifar-mnist.
    #[arg(long)]
    pub cifar: Option<PathBuf>,
    /// brats: the BraTS folder, one sub-folder per subject with `*_t1.nii.gz` (and the other
    /// modalities) and `*_seg.nii.gz`.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// brats: a folder of control subjects in the same layout, without segmentations: all
    /// their slices are background.
    #[arg(long)]
    pub healthy: Option<PathBuf>,
    /// brats: the MRI sequence (the paper: t1).
    #[arg(long, value_enum, default_value = "t1")]
    pub modality: super::brats::Modality,
    /// brats: the axial slices FIRST:LAST:STEP (inclusive) in canonical orientation; the
    /// default is the paper's public data (slices 86 to 94, every second one).
    #[arg(long, default_value = "86:94:2")]
    pub slices: super::brats::SliceRange,
    /// brats: a slice is a target when its segmentation has more than this many tumour voxels.
    #[arg(long, default_value_t = 0)]
    pub min_tumour_voxels: usize,
    /// brats: the share of subjects in the test split (subjects, never slices, are split).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// The training split (default) or the test split.
    #[arg(long)]
    pub test: bool,
    /// Image side: 64 as in the paper, or 32 (images are composed at their native size, then
    /// resized; dSprites-MNIST at 32 makes the smallest sprites about 5 pixels wide); brats:
    /// 128 as in the paper (the Table 5 network), or 64 or 32.
    #[arg(long)]
    pub size: Option<usize>,
    /// dsprites-mnist: probability that a dSprites image is used (the paper: 0.1).
    #[arg(long, default_value_t = 0.1)]
    pub probability: f64,
    /// dsprites-mnist-groups: groups, and images per group (the paper: 500 x 100).
    #[arg(long, default_value_t = 500)]
    pub groups: usize,
    #[arg(long, default_value_t = 100)]
    pub per_group: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub out: OutputFile,
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Build(args) => build(args),
        DataCommand::Info { file, json } => info(&file, json),
        DataCommand::Preview {
            data,
            size,
            channels,
            out,
            count,
            strip,
        } => preview(&data, (channels, size), &out, count, strip),
        DataCommand::Folders {
            file,
            out,
            count,
            seed,
            by,
        } => folders(&file, &out, count, seed, by.as_deref()),
    }
}

fn build(args: BuildArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let mnist_split = if args.test { "t10k" } else { "train" };
    let mnist_dir = || {
        args.mnist
            .as_ref()
            .context("this recipe needs --mnist, the folder of MNIST's IDX files (scripts/fetch-mnist.sh fetches them)")
    };
    let size = match (args.recipe, args.size) {
        (Recipe::Brats, None) => 128,
        (Recipe::Brats, Some(size @ (32 | 64 | 128))) => size,
        (Recipe::Brats, Some(size)) => bail!("--size must be 128, 64 or 32 for brats, not {size}"),
        (_, None) => 64,
        (_, Some(size @ (32 | 64))) => size,
        (_, Some(size)) => bail!("--size must be 32 or 64, not {size}"),
    };
    let data = match args.recipe {
        Recipe::CifarMnist => {
            let dir = args
                .cifar
                .as_ref()
                .context("cifar-mnist needs --cifar, the cifar-10-batches-bin folder")?;
            let cifar = Cifar::open(dir, !args.test)?;
            // The public code draws the digits of both splits from MNIST's training set.
            let mnist = Mnist::open(mnist_dir()?, "train")?;
            recipes::cifar_mnist(&cifar, &mnist, size, !args.test, args.seed)
        }
        Recipe::DspritesMnist | Recipe::DspritesMnistGroups => {
            if !(args.probability > 0.0 && args.probability <= 1.0) {
                bail!("--probability must be in (0, 1], not {}", args.probability);
            }
            // The evaluation groups use MNIST's test digits, as in the public code.
            let split = match args.recipe {
                Recipe::DspritesMnistGroups => "t10k",
                _ => mnist_split,
            };
            let mnist = Mnist::open(mnist_dir()?, split)?;
            let build =
                |factors: &dyn Fn(usize) -> dsprites::SpriteFactors,
                 sprites: &mut dsprites::SpriteSource| match args.recipe {
                    Recipe::DspritesMnistGroups => recipes::dsprites_mnist_groups(
                        &mnist,
                        size,
                        args.groups,
                        args.per_group,
                        args.seed,
                        factors,
                        sprites,
                    ),
                    _ => recipes::dsprites_mnist(
                        &mnist,
                        size,
                        args.probability,
                        args.seed,
                        factors,
                        sprites,
                    ),
                };
            match &args.dsprites {
                None => build(
                    &dsprites::dsprite_factors,
                    &mut dsprites::procedural_dsprites,
                )?,
                Some(path) => {
                    let latents = super::dsprites::latents(path)?;
                    let n = latents.factors.len();
                    build(&|i| latents.factors[i], &mut |keep, visit| {
                        super::dsprites::stream_images(path, n, keep, visit)
                    })
                    .with_context(|| format!("{}", path.display()))?
                }
            }
        }
        Recipe::Celeba => {
            let dir = args.celeba.as_ref().context(
                "celeba needs --celeba, the folder with img_align_celeba/ and list_attr_celeba.txt",
            )?;
            let split = if args.test {
                super::celeba::Split::Test
            } else {
                super::celeba::Split::Train
            };
            super::celeba::celeba(dir, size, split, args.limit)?
        }
        Recipe::Brats => {
            let from = args.from.as_ref().context(
                "brats needs --from, the BraTS folder (one sub-folder per subject with its \
                 *_t1.nii.gz and *_seg.nii.gz)",
            )?;
            if !(0.0..1.0).contains(&args.test_fraction) {
                bail!(
                    "--test-fraction must be in [0, 1), not {}",
                    args.test_fraction
                );
            }
            let options = super::brats::BratsOptions {
                modality: args.modality,
                slices: args.slices,
                side: size,
                min_tumour_voxels: args.min_tumour_voxels,
            };
            recipes::brats(
                from,
                args.healthy.as_deref(),
                &options,
                args.test,
                args.test_fraction,
                args.seed,
            )?
        }
    };
    data.write(&args.out)?;
    let (bg, t) = data.counts();
    eprintln!(
        "wrote {}: {} ({bg} background + {t} target images, {}x{}x{}) in {:.1} s",
        args.out.display(),
        data.header.description,
        data.header.channels,
        data.header.side,
        data.header.side,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What `data info` says about a dataset file: the text and `--json` both come from it.
#[derive(Debug, Serialize)]
struct DatasetInfo {
    file: String,
    description: String,
    recipe: String,
    /// Images in the file, both domains.
    count: usize,
    side: usize,
    channels: usize,
    background: usize,
    target: usize,
    labels: Vec<LabelInfo>,
    factors: Vec<String>,
    masks: bool,
    /// With masks: the images whose mask marks a lesion.
    images_with_lesion: Option<usize>,
}

/// One label of a dataset file and its images per (domain, class).
#[derive(Debug, Serialize)]
struct LabelInfo {
    #[serde(flatten)]
    spec: LabelSpec,
    /// E.g. "salient, scored on target images".
    description: String,
    /// Sorted by domain (background first), then class; class -1: none on that image.
    classes: Vec<ClassCount>,
}

#[derive(Debug, Serialize)]
struct ClassCount {
    domain: Domain,
    class: i32,
    images: usize,
}

impl DatasetInfo {
    fn of(path: &std::path::Path, data: &DatasetFile) -> Self {
        let h = &data.header;
        let (background, target) = data.counts();
        let labels = h
            .labels
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                let mut counts: BTreeMap<(Domain, i32), usize> = BTreeMap::new();
                for i in 0..h.count {
                    *counts
                        .entry((data.domains[i], data.labels_of(i)[k]))
                        .or_default() += 1;
                }
                LabelInfo {
                    spec: spec.clone(),
                    description: spec.describe(),
                    classes: counts
                        .into_iter()
                        .map(|((domain, class), images)| ClassCount {
                            domain,
                            class,
                            images,
                        })
                        .collect(),
                }
            })
            .collect();
        Self {
            file: path.display().to_string(),
            description: h.description.clone(),
            recipe: h.recipe.clone(),
            count: h.count,
            side: h.side,
            channels: h.channels,
            background,
            target,
            labels,
            factors: h.factor_names.clone(),
            masks: h.masks,
            images_with_lesion: h.masks.then(|| {
                (0..h.count)
                    .filter(|&i| data.mask_of(i).is_some_and(|m| m.contains(&1)))
                    .count()
            }),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "{}: {}\nrecipe {}; {} images of {}x{}x{}\nbackground: {}, target: {}\n",
            self.file,
            self.description,
            self.recipe,
            self.count,
            self.channels,
            self.side,
            self.side,
            self.background,
            self.target
        );
        for label in &self.labels {
            let (name, describe) = (&label.spec.name, &label.description);
            // Bookkeeping labels may have a class per subject or group: a count, not a list.
            const LISTED: usize = 40;
            if label.classes.len() > LISTED {
                let classes: std::collections::BTreeSet<i32> =
                    label.classes.iter().map(|c| c.class).collect();
                out += &format!(
                    "label {name} [{describe}]: {} classes from {} to {}\n",
                    classes.len(),
                    classes.first().expect("a label with classes"),
                    classes.last().expect("a label with classes")
                );
            } else {
                let text: Vec<String> = label
                    .classes
                    .iter()
                    .map(|c| {
                        let d = match c.domain {
                            Domain::Background => "bg",
                            Domain::Target => "t",
                        };
                        format!("{d}:{}={}", c.class, c.images)
                    })
                    .collect();
                out += &format!("label {name} [{describe}]: {}\n", text.join(" "));
            }
        }
        if !self.factors.is_empty() {
            out += &format!("factors: {}\n", self.factors.join(", "));
        }
        if let Some(with_lesion) = self.images_with_lesion {
            out += &format!("segmentation masks: one per image, {with_lesion} with a lesion\n");
        }
        out
    }
}

fn info(path: &std::path::Path, json: bool) -> Result<()> {
    let data = DatasetFile::read(path)?;
    let info = DatasetInfo::of(path, &data);
    if json {
        print_json(&info)
    } else {
        print!("{}", info.text());
        Ok(())
    }
}

/// (channels, side) applies to the built-in data and folders; a dataset file has its own.
fn preview(
    spec: &super::DataSpec,
    (channels, side): (usize, usize),
    out: &std::path::Path,
    count: usize,
    strip: bool,
) -> Result<()> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let data = match spec {
        super::DataSpec::File(path) => {
            let Some(header) = DatasetFile::peek(path)? else {
                bail!(
                    "{} is not a dataset file written by `dinfogan data build`",
                    path.display()
                );
            };
            super::Data::open(spec, header.side, header.channels, 0)?
        }
        _ => {
            if !(8..=512).contains(&side) || !(channels == 1 || channels == 3) {
                bail!("--size must be 8 to 512 and --channels 1 or 3, not {side} and {channels}");
            }
            super::Data::open(spec, side, channels, 0)?
        }
    };
    let mut rows = Vec::new();
    for domain in Domain::BOTH {
        let tiles: Vec<_> = (0..data.len(domain).min(count))
            .map(|i| images::to_rgb(&data.image(domain, i), data.channels, data.side))
            .collect();
        if strip && tiles.len() < count {
            bail!("{spec} holds fewer than {count} images of a domain: the strip needs {count} of each");
        }
        rows.extend(tiles.chunks(8).map(<[_]>::to_vec));
    }
    if strip {
        let tiles: Vec<_> = rows.into_iter().flatten().collect();
        images::save_png(&images::strip(&tiles), out, 1)?;
    } else {
        images::save_png(&images::grid(&rows), out, images::sheet_scale(data.side))?;
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// A label's name as a folder or file name: lower-case letters and digits, other runs as one
/// '-'.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn folders(
    path: &std::path::Path,
    out: &std::path::Path,
    count: Option<usize>,
    seed: u64,
    by: Option<&str>,
) -> Result<()> {
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "{} is not empty: give a new or empty folder, so that no file of yours is overwritten",
            out.display()
        );
    }
    let data = DatasetFile::read(path)?;
    let label = match by {
        None => None,
        Some(name) => Some(
            data.header
                .labels
                .iter()
                .position(|l| l.name == name)
                .with_context(|| {
                    let names: Vec<_> =
                        data.header.labels.iter().map(|l| l.name.as_str()).collect();
                    format!(
                        "{} has no label {name:?}; its labels are {}",
                        path.display(),
                        names.join(", ")
                    )
                })?,
        ),
    };
    let (c, side) = (data.header.channels, data.header.side);
    // Per domain, `count` images drawn at random, written in the file's order.
    let mut chosen = Vec::new();
    for domain in Domain::BOTH {
        let mut indices: Vec<usize> = (0..data.header.count)
            .filter(|&i| data.domains[i] == domain)
            .collect();
        if let Some(n) = count.filter(|&n| n < indices.len()) {
            indices.shuffle(&mut StdRng::seed_from_u64(seed));
            indices.truncate(n);
        }
        chosen.extend(indices);
    }
    chosen.sort_unstable();
    let mut written = [0usize; 2];
    for i in chosen {
        let domain = data.domains[i];
        let k = domain.label() as usize;
        let mut folder = out.join(match domain {
            Domain::Background => "background",
            Domain::Target => "target",
        });
        if let Some(l) = label {
            let class = data.labels_of(i)[l];
            if class >= 0 {
                folder = folder.join(format!("{}-{class}", slug(&data.header.labels[l].name)));
            }
        }
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("could not create {}", folder.display()))?;
        let pixels: Vec<f32> = data
            .pixels_of(i)
            .iter()
            .map(|&p| dinfogan::pixels::unit(p))
            .collect();
        images::save_png(
            &images::to_rgb(&pixels, c, side),
            &folder.join(format!("{i:07}.png")),
            1,
        )?;
        written[k] += 1;
    }
    eprintln!(
        "wrote {} background + {} target images ({side}x{side}) under {}",
        written[0],
        written[1],
        out.display()
    );
    Ok(())
}
