//! BraTS-style NIfTI-1 MRI volumes turned into 2-D axial slices for a contrastive dataset:
//! slices with tumour are "target", healthy slices are "background", each with its tumour mask.
//!
//! The volumes are read by [`super::nifti`], which documents the reader's half of the
//! conventions: the datatypes, byte order and `scl_slope` it takes, its bounds on untrusted
//! input, and how an affine is chosen and brought to RAS+. This file is the BraTS recipe:
//! subjects, slices, the percentile window, resizing and the subject split.
//!
//! Conventions (what docs/guide/medical-images.md states):
//! - Orientation: the image and its segmentation are each reoriented to RAS+ by their own
//!   affine (see [`super::nifti`]).
//! - Slices: the axial slice `index` is the canonical z index (0 = most inferior).
//! - Display: anterior at the top; radiological left/right, i.e. the patient's right on the
//!   picture's left, as radiology viewers show axial slices. Pixel (row r, column c) of a
//!   `w x h` slice (w = x size, h = y size) is canonical voxel (x = w-1-c, y = h-1-r).
//! - Intensities: per volume, `lo` and `hi` are the 0.5th and 99.5th percentiles of the
//!   non-zero voxels (linear interpolation between order statistics, numpy's default: the p-th
//!   percentile of n sorted values v is v[i] + f (v[i+1] - v[i]) with i + f = p/100 (n-1)).
//!   A voxel v becomes 255 (v - lo) / (hi - lo), clipped to [0, 255] (zero background maps to
//!   0 whenever lo > 0, as in skull-stripped BraTS). If hi == lo, a voxel is 255 when it is
//!   non-zero and at least hi, else 0. The slice is resized in these float units and rounded
//!   to the nearest integer last.
//! - Square and size: a `w x h` slice is padded with 0 to `max(w, h)` square, centred (the
//!   extra column or row of an odd difference goes right or bottom), never cropped, then
//!   resized to `side x side`: bilinear for the image, nearest for the mask, both with
//!   pixel-centre alignment (source coordinate (d + 0.5) s / side - 0.5).
//! - Tumour: a segmentation voxel is tumour when its label, rounded, is non-zero (BraTS labels
//!   1, 2 and 4, or 3 in BraTS 2023: the whole tumour). `tumour_voxels` counts them in the
//!   canonical slice at native resolution; the slice is target when the count is more than
//!   `min_tumour_voxels`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};

use super::nifti::{read_nifti, shape, CanonicalView, MAX_DIM};

/// The percentiles of the non-zero voxels mapped to 0 and 255.
pub const LOW_PERCENTILE: f64 = 0.5;
pub const HIGH_PERCENTILE: f64 = 99.5;

/// An MRI sequence of a BraTS subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Modality {
    T1,
    T1ce,
    T2,
    Flair,
}

impl Modality {
    /// The file-name suffix before `.nii` or `.nii.gz` (BraTS 2018-2021).
    pub fn suffix(self) -> &'static str {
        match self {
            Modality::T1 => "_t1",
            Modality::T1ce => "_t1ce",
            Modality::T2 => "_t2",
            Modality::Flair => "_flair",
        }
    }

    /// The suffixes accepted: BraTS 2018-2021's and BraTS 2023's (`-t1n`, `-t1c`, `-t2w`,
    /// `-t2f`), so that both releases read without renaming.
    fn suffixes(self) -> [&'static str; 2] {
        let brats2023 = match self {
            Modality::T1 => "-t1n",
            Modality::T1ce => "-t1c",
            Modality::T2 => "-t2w",
            Modality::Flair => "-t2f",
        };
        [self.suffix(), brats2023]
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.suffix()[1..])
    }
}

/// Suffixes of a segmentation file (BraTS 2018-2021, BraTS 2023).
const SEG_SUFFIXES: [&str; 2] = ["_seg", "-seg"];

/// Axial slices `start..=end` every `step`, in canonical (RAS+) z indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceRange {
    pub start: usize,
    /// Inclusive.
    pub end: usize,
    pub step: usize,
}

impl SliceRange {
    /// The slice indices of the range, ascending.
    pub fn indices(&self) -> impl Iterator<Item = usize> {
        (self.start..=self.end).step_by(self.step.max(1))
    }

    /// How many slices the range holds.
    pub fn count(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            (self.end - self.start) / self.step.max(1) + 1
        }
    }
}

impl FromStr for SliceRange {
    type Err = String;

    /// `START:END:STEP`, `START:END` (step 1) or `INDEX` (one slice); END is inclusive.
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "write START:END:STEP, START:END or one INDEX, e.g. 86:94:2";
        let parts: Vec<&str> = text.trim().split(':').collect();
        if parts.len() > 3 {
            return Err(format!(
                "the slice range \"{text}\" has more than three parts; {usage}"
            ));
        }
        let mut numbers = Vec::with_capacity(3);
        for part in &parts {
            let number = part.trim().parse::<usize>().map_err(|_| {
                format!(
                    "the slice range \"{text}\" has \"{part}\" where a slice number (0 or more) \
                     belongs; {usage}"
                )
            })?;
            numbers.push(number);
        }
        let range = match numbers[..] {
            [index] => SliceRange {
                start: index,
                end: index,
                step: 1,
            },
            [start, end] => SliceRange {
                start,
                end,
                step: 1,
            },
            [start, end, step] => SliceRange { start, end, step },
            _ => return Err(format!("the slice range \"{text}\" is empty; {usage}")),
        };
        if range.step == 0 {
            return Err(format!(
                "the slice range \"{text}\" has step 0; the step must be 1 or more"
            ));
        }
        if range.start > range.end {
            return Err(format!(
                "the slice range \"{text}\" starts after it ends; write the lower slice first \
                 (e.g. {}:{})",
                range.end, range.start
            ));
        }
        Ok(range)
    }
}

impl fmt::Display for SliceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.start, self.end, self.step)
    }
}

/// What [`read_subject`] makes of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BratsOptions {
    pub modality: Modality,
    pub slices: SliceRange,
    /// Side of the square output slices, in pixels.
    pub side: usize,
    /// A slice is target when its segmentation has more than this many tumour voxels.
    pub min_tumour_voxels: usize,
}

/// One subject's files: the volume of the chosen modality and, if any, its segmentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The sub-folder's name (e.g. `BraTS2021_00000`).
    pub name: String,
    pub image: PathBuf,
    pub seg: Option<PathBuf>,
}

/// One axial slice, ready for a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    pub subject: String,
    /// Axial index in canonical (RAS+) orientation.
    pub index: usize,
    /// More than `min_tumour_voxels` tumour voxels.
    pub target: bool,
    /// Tumour voxels of the canonical slice at native resolution.
    pub tumour_voxels: usize,
    /// `side * side` grey levels, row-major, oriented for display.
    pub image: Vec<u8>,
    /// `side * side`, 1 = tumour, 0 else, aligned with `image`.
    pub mask: Vec<u8>,
}

/// The subjects of a BraTS-layout folder: one sub-folder per subject holding
/// `*_<modality>.nii[.gz]` and optionally `*_seg.nii[.gz]`, sorted by name. Hidden entries
/// and plain files (BraTS ships `name_mapping.csv` beside the subjects) are skipped. A
/// sub-folder without the modality's volume is an error rather than skipped: a partial
/// download or a wrong folder would otherwise shrink the dataset without anyone noticing.
pub fn find_subjects(dir: &Path, modality: Modality) -> Result<Vec<Subject>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "could not list {}; pass the folder that holds one sub-folder per subject",
            dir.display()
        )
    })?;
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        folders.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    // Sorted first, so that the subjects and any error come in the same order everywhere.
    folders.sort();
    let mut subjects = Vec::new();
    for (name, folder) in folders {
        // Follows symbolic links, so a folder of links to subjects works too.
        if name.starts_with('.') || !folder.is_dir() {
            continue;
        }
        let image = find_volume(&folder, &modality.suffixes(), &modality.to_string())?.ok_or_else(
            || {
                anyhow!(
                    "{folder} has no {modality} volume (a file ending in {suffix}.nii or \
                     {suffix}.nii.gz, or {brats2023}.nii.gz as in BraTS 2023); each sub-folder \
                     of {dir} must hold one subject's volumes, as in BraTS",
                    folder = folder.display(),
                    suffix = modality.suffix(),
                    brats2023 = modality.suffixes()[1],
                    dir = dir.display()
                )
            },
        )?;
        let seg = find_volume(&folder, &SEG_SUFFIXES, "segmentation")?;
        subjects.push(Subject { name, image, seg });
    }
    if subjects.is_empty() {
        bail!(
            "{} has no subject sub-folders; pass the folder that holds one sub-folder per \
             subject (e.g. BraTS2021_00000/BraTS2021_00000_t1.nii.gz)",
            dir.display()
        );
    }
    Ok(subjects)
}

/// The one file of `folder` whose name, less `.nii` or `.nii.gz`, ends with one of `suffixes`
/// (case-insensitive); `None` if there is none, an error if there are several.
fn find_volume(folder: &Path, suffixes: &[&str], what: &str) -> Result<Option<PathBuf>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("could not list {}", folder.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", folder.display()))?;
        let name = entry.file_name().to_string_lossy().to_lowercase();
        let stem = name
            .strip_suffix(".nii.gz")
            .or_else(|| name.strip_suffix(".nii"));
        if let Some(stem) = stem {
            if suffixes.iter().any(|s| stem.ends_with(s)) && entry.path().is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => bail!(
            "{} holds several {what} volumes ({}); keep one",
            folder.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The slices of `options.slices` of one subject, ascending by index. Without a segmentation
/// every slice is background with an empty mask (how healthy control subjects are read).
/// See the module documentation for the orientation, intensity and resizing conventions.
pub fn read_subject(subject: &Subject, options: &BratsOptions) -> Result<Vec<Slice>> {
    if options.side == 0 || options.side > MAX_DIM {
        bail!(
            "the output side is {}; it must be between 1 and {MAX_DIM} pixels",
            options.side
        );
    }
    let image = read_nifti(&subject.image)?;
    let image_view = CanonicalView::new(&image, &subject.image)?;
    let seg = match &subject.seg {
        Some(path) => Some((read_nifti(path)?, path)),
        None => None,
    };
    let seg_view = match &seg {
        Some((volume, path)) => {
            let view = CanonicalView::new(volume, path)?;
            if view.dims != image_view.dims {
                bail!(
                    "{} is {} but {} is {} (both in RAS+ orientation); the segmentation must \
                     be on the image's voxel grid",
                    path.display(),
                    shape(view.dims),
                    subject.image.display(),
                    shape(image_view.dims)
                );
            }
            Some(view)
        }
        None => None,
    };
    let [w, h, depth] = image_view.dims;
    if options.slices.end >= depth {
        bail!(
            "the slice range {} goes past the volume: {} has {depth} axial slices (0 to {}); \
             choose a range within them",
            options.slices,
            subject.image.display(),
            depth - 1
        );
    }
    let window = percentile_window(&image.data).ok_or_else(|| {
        anyhow!(
            "{} has no non-zero voxel, so there is nothing to scale; check that it is the \
             right file",
            subject.image.display()
        )
    })?;

    let square = w.max(h);
    let (left, top) = ((square - w) / 2, (square - h) / 2);
    let mut slices = Vec::with_capacity(options.slices.count());
    for z in options.slices.indices() {
        let mut picture = vec![0f32; square * square];
        let mut mask = vec![0u8; square * square];
        let mut tumour_voxels = 0;
        for r in 0..h {
            for c in 0..w {
                // Anterior at the top, patient's right on the left (radiological).
                let (x, y) = (w - 1 - c, h - 1 - r);
                let at = (top + r) * square + left + c;
                picture[at] = scale_intensity(image_view.get(x, y, z), window);
                if let Some(view) = &seg_view {
                    if is_tumour(view.get(x, y, z)) {
                        mask[at] = 1;
                        tumour_voxels += 1;
                    }
                }
            }
        }
        let image = resize_bilinear(&picture, square, options.side)
            .into_iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        slices.push(Slice {
            subject: subject.name.clone(),
            index: z,
            target: tumour_voxels > options.min_tumour_voxels,
            tumour_voxels,
            image,
            mask: resize_nearest(&mask, square, options.side),
        });
    }
    Ok(slices)
}

/// Splits subjects into (train, test), each sorted by name: the `round(test_fraction * n)`
/// subjects (fraction clamped to [0, 1]) with the smallest key go to test, the key being a
/// 64-bit hash of the seed and the name (FNV-1a, then SplitMix64's finaliser). It depends
/// only on the set of names and the seed, not on their order nor on a random-number crate's
/// version, and a subject's slices all follow their subject.
pub fn split_subjects(
    names: &[String],
    test_fraction: f64,
    seed: u64,
) -> (Vec<String>, Vec<String>) {
    let mut unique: Vec<&String> = names.iter().collect();
    unique.sort();
    unique.dedup();
    let fraction = if test_fraction.is_finite() {
        test_fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let n_test = ((fraction * unique.len() as f64).round() as usize).min(unique.len());
    let mut keyed: Vec<(u64, &String)> = unique
        .into_iter()
        .map(|name| (subject_key(name, seed), name))
        .collect();
    keyed.sort();
    let mut test: Vec<String> = keyed[..n_test].iter().map(|(_, n)| (*n).clone()).collect();
    let mut train: Vec<String> = keyed[n_test..].iter().map(|(_, n)| (*n).clone()).collect();
    test.sort();
    train.sort();
    (train, test)
}

fn subject_key(name: &str, seed: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = hash ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn is_tumour(label: f32) -> bool {
    label.round() != 0.0
}

/// The (0.5th, 99.5th) percentiles of the non-zero voxels (see the module documentation), or
/// `None` when every voxel is zero. The voxels must be finite ([`read_nifti`] checks).
pub fn percentile_window(voxels: &[f32]) -> Option<(f32, f32)> {
    let mut values: Vec<f32> = voxels.iter().copied().filter(|&v| v != 0.0).collect();
    if values.is_empty() {
        return None;
    }
    let lo = percentile(&mut values, LOW_PERCENTILE);
    let hi = percentile(&mut values, HIGH_PERCENTILE);
    Some((lo, hi))
}

/// The p-th percentile with linear interpolation; reorders `values` (selection, not a sort).
fn percentile(values: &mut [f32], p: f64) -> f32 {
    let position = p / 100.0 * (values.len() - 1) as f64;
    let i = (position.floor() as usize).min(values.len() - 1);
    let fraction = position - i as f64;
    let (_, &mut below, above) = values.select_nth_unstable_by(i, f32::total_cmp);
    let next = above
        .iter()
        .copied()
        .min_by(f32::total_cmp)
        .unwrap_or(below);
    (below as f64 + fraction * (next as f64 - below as f64)) as f32
}

/// A voxel in [0, 255] (not rounded) for the window `(lo, hi)` of [`percentile_window`].
pub fn scale_intensity(v: f32, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        ((v - lo) / (hi - lo) * 255.0).clamp(0.0, 255.0)
    } else if v != 0.0 && v >= hi {
        255.0
    } else {
        0.0
    }
}

/// Bilinear resize of a `from x from` picture to `to x to`, pixel centres aligned.
fn resize_bilinear(src: &[f32], from: usize, to: usize) -> Vec<f32> {
    let scale = from as f64 / to as f64;
    let taps: Vec<(usize, usize, f32)> = (0..to)
        .map(|d| {
            let s = ((d as f64 + 0.5) * scale - 0.5).clamp(0.0, (from - 1) as f64);
            let i = s.floor() as usize;
            (i, (i + 1).min(from - 1), (s - i as f64) as f32)
        })
        .collect();
    let mut out = Vec::with_capacity(to * to);
    for &(y0, y1, fy) in &taps {
        for &(x0, x1, fx) in &taps {
            let top = src[y0 * from + x0] * (1.0 - fx) + src[y0 * from + x1] * fx;
            let bottom = src[y1 * from + x0] * (1.0 - fx) + src[y1 * from + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Nearest-neighbour resize of a `from x from` picture to `to x to`, pixel centres aligned:
/// output pixel d takes source pixel floor((d + 0.5) from / to).
fn resize_nearest(src: &[u8], from: usize, to: usize) -> Vec<u8> {
    let taps: Vec<usize> = (0..to)
        .map(|d| ((2 * d + 1) * from / (2 * to)).min(from - 1))
        .collect();
    let mut out = Vec::with_capacity(to * to);
    for &y in &taps {
        for &x in &taps {
            out.push(src[y * from + x]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::nifti::synthetic_nifti::{
        in_ball, synthetic_head, write_bytes, write_nifti, write_raw, RawHeader,
        HEADER_WITH_EXTENSION, IDENTITY, TUMOUR,
    };
    use super::super::nifti::{orientation, AffineSource, Orientation};
    use super::*;

    const DIMS: [usize; 3] = [48, 48, 30];
    const CENTRE: [f32; 3] = [30.0, 20.0, 15.0];
    const RADIUS: f32 = 5.0;

    fn options(slices: &str, side: usize, min_tumour_voxels: usize) -> BratsOptions {
        BratsOptions {
            modality: Modality::Flair,
            slices: slices.parse().expect("a valid range"),
            side,
            min_tumour_voxels,
        }
    }

    /// Writes a subject folder `name` with the image and, when given, the segmentation.
    fn write_subject(
        dir: &Path,
        name: &str,
        dims: [usize; 3],
        image: &[f32],
        seg: Option<&[f32]>,
        affine: [[f32; 4]; 3],
        gzip: bool,
    ) -> Subject {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).expect("create subject folder");
        let ext = if gzip { "nii.gz" } else { "nii" };
        let image_path = folder.join(format!("{name}_flair.{ext}"));
        write_nifti(&image_path, dims, image, affine, gzip).expect("write image");
        let seg_path = seg.map(|seg| {
            let path = folder.join(format!("{name}_seg.{ext}"));
            write_nifti(&path, dims, seg, affine, gzip).expect("write seg");
            path
        });
        Subject {
            name: name.into(),
            image: image_path,
            seg: seg_path,
        }
    }

    fn error_of<T: fmt::Debug>(result: Result<T>) -> String {
        format!("{:#}", result.expect_err("an error"))
    }

    #[test]
    fn slice_ranges_parse() {
        let r = |s: &str| s.parse::<SliceRange>();
        assert_eq!(
            r("86:94:2"),
            Ok(SliceRange {
                start: 86,
                end: 94,
                step: 2
            })
        );
        assert_eq!(
            r("90"),
            Ok(SliceRange {
                start: 90,
                end: 90,
                step: 1
            })
        );
        assert_eq!(
            r("86:94"),
            Ok(SliceRange {
                start: 86,
                end: 94,
                step: 1
            })
        );
        let range = r("86:93:2").expect("valid");
        assert_eq!(range.indices().collect::<Vec<_>>(), [86, 88, 90, 92]);
        assert_eq!(range.count(), 4);
        assert_eq!(range.to_string().parse::<SliceRange>(), Ok(range));
        for (text, needle) in [
            ("", "where a slice number"),
            ("a:3", "\"a\" where a slice number"),
            ("-1", "where a slice number"),
            ("94:86", "starts after it ends"),
            ("1:2:0", "step 0"),
            ("1:2:3:4", "more than three parts"),
        ] {
            let error = r(text).expect_err(text);
            assert!(error.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn modalities_name_their_files() {
        use clap::ValueEnum;
        assert_eq!(Modality::T1ce.suffix(), "_t1ce");
        assert_eq!(Modality::Flair.to_string(), "flair");
        assert_eq!(Modality::from_str("t1ce", true), Ok(Modality::T1ce));
        assert_eq!(Modality::from_str("flair", true), Ok(Modality::Flair));
    }

    #[test]
    fn tumour_slices_are_targets_where_the_blob_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, seg) = synthetic_head(DIMS, Some((CENTRE, RADIUS)));
        let subject = write_subject(dir.path(), "s1", DIMS, &image, Some(&seg), IDENTITY, true);
        let min = 10;
        let slices = read_subject(&subject, &options("0:29", 48, min)).expect("read");
        assert_eq!(slices.len(), 30);
        let mut targets = 0;
        for (z, slice) in slices.iter().enumerate() {
            assert_eq!(slice.index, z);
            assert_eq!(slice.subject, "s1");
            let mut expected = 0;
            for r in 0..48 {
                for c in 0..48 {
                    // Radiological display: column c is x = 47 - c, row r is y = 47 - r.
                    let inside =
                        in_ball([(47 - c) as f32, (47 - r) as f32, z as f32], CENTRE, RADIUS);
                    expected += inside as usize;
                    assert_eq!(slice.mask[r * 48 + c], inside as u8, "slice {z} ({r}, {c})");
                    if inside {
                        assert_eq!(slice.image[r * 48 + c], 255, "tumour is the brightest");
                    }
                }
            }
            assert_eq!(slice.tumour_voxels, expected, "slice {z}");
            assert_eq!(slice.target, expected > min, "slice {z}");
            targets += slice.target as usize;
            // Outside the head stays black.
            assert_eq!(slice.image[0], 0);
        }
        // The ball of radius 5 about z = 15: slices 11 to 19 have more than 10 voxels.
        assert_eq!(targets, 9);
        assert!(slices[11].target && slices[19].target && !slices[10].target && !slices[20].target);
    }

    #[test]
    fn display_orientation_puts_anterior_up_and_right_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dims = [4, 4, 1];
        // One bright voxel at right-anterior (x = 3, y = 3) and a dim one at left-posterior.
        let mut image = vec![0f32; 16];
        image[3 + 4 * 3] = 100.0;
        image[0] = 50.0;
        let subject = write_subject(dir.path(), "o", dims, &image, None, IDENTITY, false);
        let slices = read_subject(&subject, &options("0", 4, 0)).expect("read");
        let picture = &slices[0].image;
        // Right-anterior voxel at the top-left, left-posterior at the bottom-right.
        assert_eq!(picture[0], 255);
        assert_eq!(picture[15], 0, "the 0.5th percentile (50.25) maps 50 to 0");
        assert!(picture.iter().skip(1).take(14).all(|&v| v == 0));
    }

    #[test]
    fn non_square_slices_are_padded_centred_and_resized() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dims = [40, 56, 20];
        let (centre, radius) = ([20.0, 30.0, 10.0], 8.0);
        let (image, seg) = synthetic_head(dims, Some((centre, radius)));
        let subject = write_subject(
            dir.path(),
            "wide",
            dims,
            &image,
            Some(&seg),
            IDENTITY,
            false,
        );
        let slices = read_subject(&subject, &options("10", 28, 0)).expect("read");
        let slice = &slices[0];
        assert_eq!(slice.image.len(), 28 * 28);
        assert_eq!(slice.mask.len(), 28 * 28);
        // 40 wide padded to 56 with 8 columns each side, then halved: output pixel d reads
        // padded pixel 2d + 1.
        for r in 0..28 {
            for c in 0..28 {
                let (pr, pc) = (2 * r + 1, 2 * c + 1);
                let inside = (8..48).contains(&pc)
                    && in_ball(
                        [(39 - (pc - 8)) as f32, (55 - pr) as f32, 10.0],
                        centre,
                        radius,
                    );
                assert_eq!(slice.mask[r * 28 + c], inside as u8, "({r}, {c})");
            }
            // The padding columns are black.
            assert_eq!(slice.image[r * 28], 0);
            assert_eq!(slice.image[r * 28 + 27], 0);
        }
        assert!(slice.target);
    }

    #[test]
    fn gzip_and_plain_files_read_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, seg) = synthetic_head(DIMS, Some((CENTRE, RADIUS)));
        let plain = write_subject(dir.path(), "a", DIMS, &image, Some(&seg), IDENTITY, false);
        let gzip = write_subject(dir.path(), "b", DIMS, &image, Some(&seg), IDENTITY, true);
        let opts = options("5:25:5", 32, 3);
        let mut a = read_subject(&plain, &opts).expect("plain");
        let b = read_subject(&gzip, &opts).expect("gzip");
        a.iter_mut().for_each(|s| s.subject = "b".into());
        assert_eq!(a, b);
    }

    /// The head of [`DIMS`] stored with file axes (i, j, k) = (z, reversed x, y), and the
    /// affine that says so, with 2 mm voxels along j and some translation.
    fn permuted(volume: &[f32]) -> (Vec<f32>, [usize; 3], [[f32; 4]; 3]) {
        let [nx, ny, nz] = DIMS;
        let dims = [nz, nx, ny];
        let mut out = vec![0f32; volume.len()];
        for k in 0..ny {
            for j in 0..nx {
                for i in 0..nz {
                    let (x, y, z) = (nx - 1 - j, k, i);
                    out[i + nz * (j + nx * k)] = volume[x + nx * (y + ny * z)];
                }
            }
        }
        let affine = [
            [0.0, -2.0, 0.0, 90.0],
            [0.0, 0.0, 1.0, -120.0],
            [1.0, 0.0, 0.0, -70.0],
        ];
        (out, dims, affine)
    }

    #[test]
    fn flipped_and_permuted_axes_read_to_the_same_slices() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, seg) = synthetic_head(DIMS, Some((CENTRE, RADIUS)));
        let reference = write_subject(dir.path(), "s", DIMS, &image, Some(&seg), IDENTITY, true);
        let (p_image, p_dims, affine) = permuted(&image);
        let (p_seg, _, _) = permuted(&seg);
        let other = dir.path().join("other");
        let moved = write_subject(&other, "s", p_dims, &p_image, Some(&p_seg), affine, true);
        let opts = options("8:22:2", 64, 5);
        let a = read_subject(&reference, &opts).expect("identity");
        let b = read_subject(&moved, &opts).expect("permuted");
        assert_eq!(a, b);
        assert!(a.iter().any(|s| s.target) && a.iter().any(|s| !s.target));
        let volume = read_nifti(&moved.image).expect("read");
        assert_eq!(
            orientation(&volume.affine),
            Some(Orientation {
                axes: [1, 2, 0],
                flips: [true, false, false]
            })
        );
    }

    #[test]
    fn qform_and_pixdim_affines_orient_like_the_sform() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, _) = synthetic_head(DIMS, Some((CENTRE, RADIUS)));
        let reference = write_subject(dir.path(), "r", DIMS, &image, None, IDENTITY, false);
        let opts = options("10:20", 48, 0);
        let expected = read_subject(&reference, &opts).expect("reference");

        // Stored with x and y reversed (LPS, as DICOM), said by a qform of 180 degrees about z.
        let [nx, ny, nz] = DIMS;
        let mut lps = Vec::with_capacity(image.len());
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    lps.extend_from_slice(
                        &image[(nx - 1 - x) + nx * ((ny - 1 - y) + ny * z)].to_le_bytes(),
                    );
                }
            }
        }
        let mut header = RawHeader::float32(DIMS, IDENTITY);
        (header.sform_code, header.qform_code, header.quatern) = (0, 1, [0.0, 0.0, 1.0]);
        let path = dir.path().join("q_flair.nii");
        write_raw(&path, &header, false, &lps);
        let subject = Subject {
            name: "r".into(),
            image: path.clone(),
            seg: None,
        };
        assert_eq!(
            read_nifti(&path).expect("qform").affine_source,
            AffineSource::Qform
        );
        assert_eq!(read_subject(&subject, &opts).expect("qform"), expected);

        // qfac -1 reverses the third axis.
        let volume = read_nifti(&path).expect("qform");
        let mut flipped = header.clone();
        flipped.pixdim[0] = -1.0;
        write_raw(&path, &flipped, false, &lps);
        let flipped = read_nifti(&path).expect("qfac");
        assert_eq!(flipped.affine[2][2], -volume.affine[2][2]);

        // Neither transform: the pixdim diagonal, no flip.
        header.qform_code = 0;
        let plain: Vec<u8> = image.iter().flat_map(|v| v.to_le_bytes()).collect();
        write_raw(&path, &header, false, &plain);
        assert_eq!(
            read_nifti(&path).expect("pixdim").affine_source,
            AffineSource::Pixdim
        );
        assert_eq!(read_subject(&subject, &opts).expect("pixdim"), expected);
    }

    #[test]
    fn bad_files_give_sentences_naming_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dims = [8, 8, 4];
        let (image, seg) = synthetic_head(dims, None);
        let good = dir.path().join("good.nii");
        write_nifti(&good, dims, &image, IDENTITY, false).expect("write");
        let good_bytes = std::fs::read(&good).expect("read");
        let path = dir.path().join("bad.nii");
        let check = |bytes: &[u8], gzip: bool, needle: &str| {
            write_bytes(&path, bytes, gzip).expect("write");
            let error = error_of(read_nifti(&path));
            assert!(error.contains(needle), "expected \"{needle}\" in: {error}");
            assert!(error.contains("bad.nii"), "the file is named: {error}");
        };

        check(
            b"just some text that is long enough to not be a header at all",
            false,
            "too short",
        );
        check(&[b'x'; 400], false, "is not a NIfTI-1 file");
        check(&good_bytes[..good_bytes.len() - 10], false, "is truncated");
        check(&good_bytes[..good_bytes.len() - 10], true, "is truncated");
        check(&good_bytes[..200], true, "too short");
        let gz_path = dir.path().join("good.nii.gz");
        write_nifti(&gz_path, dims, &image, IDENTITY, true).expect("write");
        let mut corrupt = std::fs::read(&gz_path).expect("read");
        let middle = corrupt.len() / 2;
        corrupt[middle..middle + 8].copy_from_slice(&[0xff; 8]);
        check(&corrupt, false, "corrupt gzip");
        // A gzip stream cut short reads as a truncated file.
        let whole = std::fs::read(&gz_path).expect("read");
        check(&whole[..whole.len() / 2], false, "is truncated");

        let with_header = |header: &RawHeader, data: &[u8]| {
            let mut bytes = header.encode(false);
            bytes.extend_from_slice(data);
            bytes
        };
        let data = &good_bytes[HEADER_WITH_EXTENSION..];
        let base = RawHeader::float32(dims, IDENTITY);

        let mut four_d = base.clone();
        (four_d.dim[0], four_d.dim[4]) = (4, 2);
        check(
            &with_header(&four_d, &[data, data].concat()),
            false,
            "is 4-D (8x8x4x2)",
        );

        let mut two_d = base.clone();
        two_d.dim[0] = 2;
        check(&with_header(&two_d, data), false, "is 2-D");

        let mut unsupported = base.clone();
        (unsupported.datatype, unsupported.bitpix) = (128, 24);
        check(&with_header(&unsupported, data), false, "datatype code 128");

        let mut huge = base.clone();
        huge.dim[1] = 5000;
        check(
            &with_header(&huge, data),
            false,
            "beyond this reader's limits",
        );

        let mut negative = base.clone();
        negative.dim[2] = -3;
        check(&with_header(&negative, data), false, "below 1");

        let mut pair = base.clone();
        pair.magic = *b"ni1\0";
        check(&with_header(&pair, data), false, ".hdr/.img pair");

        let mut analyze = base.clone();
        analyze.magic = [0; 4];
        check(&with_header(&analyze, data), false, "no NIfTI-1 magic");

        // A degenerate affine reads, but cannot be reoriented.
        let mut degenerate = base.clone();
        degenerate.srow = [[0.0; 4]; 3];
        write_bytes(&path, &with_header(&degenerate, data), false).expect("write");
        let subject = Subject {
            name: "d".into(),
            image: path.clone(),
            seg: None,
        };
        let error = error_of(read_subject(&subject, &options("0", 8, 0)));
        assert!(error.contains("degenerate sform"), "{error}");

        let mut nan = image.clone();
        nan[8 * 8 + 8 + 3] = f32::NAN;
        nan[100] = f32::INFINITY;
        write_nifti(&path, dims, &nan, IDENTITY, false).expect("write");
        let error = error_of(read_nifti(&path));
        assert!(
            error.contains("2 NaN or infinite voxels (the first at voxel (3, 1, 1))"),
            "{error}"
        );

        // A segmentation on another grid.
        let seg_path = dir.path().join("seg.nii");
        write_nifti(&seg_path, [8, 8, 3], &seg[..8 * 8 * 3], IDENTITY, false).expect("write");
        let subject = Subject {
            name: "m".into(),
            image: good.clone(),
            seg: Some(seg_path),
        };
        let error = error_of(read_subject(&subject, &options("0", 8, 0)));
        assert!(
            error.contains("seg.nii is 8x8x3 but") && error.contains("good.nii is 8x8x4"),
            "{error}"
        );

        // A range past the volume.
        let subject = Subject {
            name: "g".into(),
            image: good.clone(),
            seg: None,
        };
        let error = error_of(read_subject(&subject, &options("2:4", 8, 0)));
        assert!(error.contains("has 4 axial slices (0 to 3)"), "{error}");

        // An all-zero volume.
        write_nifti(&path, dims, &vec![0.0; 256], IDENTITY, false).expect("write");
        let subject = Subject {
            name: "z".into(),
            image: path.clone(),
            seg: None,
        };
        let error = error_of(read_subject(&subject, &options("0", 8, 0)));
        assert!(error.contains("no non-zero voxel"), "{error}");
    }

    #[test]
    fn percentiles_and_scaling_match_hand_computed_values() {
        // Non-zero values 10, 20, 30, 40, 50 (n = 5): the 0.5th percentile is at position
        // 0.005 * 4 = 0.02, i.e. 10 + 0.02 * 10 = 10.2; the 99.5th at 3.98, 40 + 0.98 * 10 =
        // 49.8. Zeros are left out.
        let voxels = [0.0, 30.0, 0.0, 50.0, 10.0, 40.0, 20.0, 0.0];
        let (lo, hi) = percentile_window(&voxels).expect("non-zero voxels");
        assert!((lo - 10.2).abs() < 1e-5, "{lo}");
        assert!((hi - 49.8).abs() < 1e-5, "{hi}");
        // 30 -> (30 - 10.2) / 39.6 * 255 = 127.5; the ends clip.
        assert!((scale_intensity(30.0, (lo, hi)) - 127.5).abs() < 1e-3);
        assert_eq!(scale_intensity(10.0, (lo, hi)), 0.0);
        assert_eq!(scale_intensity(0.0, (lo, hi)), 0.0);
        assert_eq!(scale_intensity(50.0, (lo, hi)), 255.0);
        // A constant volume: non-zero voxels white, zeros black.
        assert_eq!(percentile_window(&[0.0, 7.0, 7.0]), Some((7.0, 7.0)));
        assert_eq!(scale_intensity(7.0, (7.0, 7.0)), 255.0);
        assert_eq!(scale_intensity(0.0, (7.0, 7.0)), 0.0);
        assert_eq!(percentile_window(&[0.0, 0.0]), None);
        // One value: both percentiles are it.
        assert_eq!(percentile_window(&[3.0]), Some((3.0, 3.0)));
    }

    #[test]
    fn resizing_is_centre_aligned() {
        // 2x2 -> 4x4 bilinear: output 0 reads source -0.25 (clamped to 0), output 1 reads 0.25.
        let up = resize_bilinear(&[0.0, 100.0, 200.0, 300.0], 2, 4);
        assert_eq!(&up[..4], &[0.0, 25.0, 75.0, 100.0]);
        assert_eq!(&up[4..8], &[50.0, 75.0, 125.0, 150.0]);
        // 4 -> 2 nearest reads source 1 and 3.
        let mask: Vec<u8> = (0..16).collect();
        assert_eq!(resize_nearest(&mask, 4, 2), [5, 7, 13, 15]);
        // Same size: unchanged.
        let same: Vec<f32> = (0..9).map(|v| v as f32).collect();
        assert_eq!(resize_bilinear(&same, 3, 3), same);
    }

    #[test]
    fn subjects_without_segmentation_are_all_background() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, _) = synthetic_head(DIMS, Some((CENTRE, RADIUS)));
        let subject = write_subject(dir.path(), "healthy", DIMS, &image, None, IDENTITY, true);
        let slices = read_subject(&subject, &options("10:20:5", 16, 0)).expect("read");
        assert_eq!(slices.len(), 3);
        for slice in &slices {
            assert!(!slice.target);
            assert_eq!(slice.tumour_voxels, 0);
            assert!(slice.mask.iter().all(|&m| m == 0));
            assert!(slice.image.iter().any(|&v| v > 0));
        }
        assert!(image.contains(&TUMOUR));
    }

    #[test]
    fn subjects_are_found_in_the_brats_layout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (image, seg) = synthetic_head([8, 8, 4], Some(([4.0, 4.0, 2.0], 2.0)));
        for name in ["BraTS2021_00002", "BraTS2021_00000"] {
            write_subject(
                dir.path(),
                name,
                [8, 8, 4],
                &image,
                Some(&seg),
                IDENTITY,
                true,
            );
        }
        // A subject without segmentation, in plain .nii, with other modalities beside.
        let folder = dir.path().join("BraTS2021_00001");
        std::fs::create_dir(&folder).expect("mkdir");
        for suffix in ["flair", "t1", "t1ce"] {
            let path = folder.join(format!("BraTS2021_00001_{suffix}.nii"));
            write_nifti(&path, [8, 8, 4], &image, IDENTITY, false).expect("write");
        }
        // Skipped: plain files and hidden folders.
        std::fs::write(dir.path().join("name_mapping.csv"), "x").expect("write");
        std::fs::create_dir(dir.path().join(".cache")).expect("mkdir");

        let subjects = find_subjects(dir.path(), Modality::Flair).expect("find");
        let names: Vec<&str> = subjects.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00002"]
        );
        assert!(subjects[0].seg.is_some() && subjects[1].seg.is_none());
        assert!(subjects[1].image.ends_with("BraTS2021_00001_flair.nii"));
        // _t1 does not pick the _t1ce file.
        let t1 = find_subjects(dir.path(), Modality::T1);
        let error = error_of(t1);
        assert!(
            error.contains("BraTS2021_00000 has no t1 volume (a file ending in _t1.nii"),
            "{error}"
        );
        let t1ce = find_subjects(&folder.join(".."), Modality::T1ce);
        assert!(error_of(t1ce).contains("has no t1ce volume"));

        // BraTS 2023 names.
        let dir2023 = tempfile::tempdir().expect("temp dir");
        let folder = dir2023.path().join("BraTS-GLI-00000-000");
        std::fs::create_dir(&folder).expect("mkdir");
        for suffix in ["t2f", "seg"] {
            let path = folder.join(format!("BraTS-GLI-00000-000-{suffix}.nii.gz"));
            write_nifti(&path, [8, 8, 4], &image, IDENTITY, true).expect("write");
        }
        let subjects = find_subjects(dir2023.path(), Modality::Flair).expect("2023");
        assert!(subjects[0].seg.is_some());

        let empty = tempfile::tempdir().expect("temp dir");
        assert!(error_of(find_subjects(empty.path(), Modality::T1)).contains("no subject"));
    }

    #[test]
    fn subject_splits_are_deterministic_and_disjoint() {
        let names: Vec<String> = (0..20).map(|i| format!("BraTS2021_{i:05}")).collect();
        let (train, test) = split_subjects(&names, 0.2, 7);
        assert_eq!((train.len(), test.len()), (16, 4));
        assert!(test.iter().all(|t| !train.contains(t)));
        let mut all: Vec<String> = train.iter().chain(&test).cloned().collect();
        all.sort();
        assert_eq!(all, names);
        // Same seed, any input order: same split.
        let mut reversed = names.clone();
        reversed.reverse();
        assert_eq!(
            split_subjects(&reversed, 0.2, 7),
            (train.clone(), test.clone())
        );
        // Another seed draws another test set.
        assert_ne!(split_subjects(&names, 0.2, 8).1, test);
        // Edge fractions.
        assert_eq!(split_subjects(&names, 0.0, 7).1.len(), 0);
        assert_eq!(split_subjects(&names, 1.0, 7).0.len(), 0);
        assert_eq!(split_subjects(&names, f64::NAN, 7).1.len(), 0);
        assert_eq!(split_subjects(&[], 0.5, 7), (vec![], vec![]));
    }
}
