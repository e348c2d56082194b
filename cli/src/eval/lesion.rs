//! `dinfogan eval lesion`: how well the healthy counterpart G(Qz(y), 0) of a target image y
//! finds its lesion, a number the paper leaves qualitative (its Fig. 7). The anomaly map is
//! |y - G(Qz(y), 0)|, averaged over channels and smoothed with a Gaussian. On every target
//! slice with a segmented lesion: the ROC AUC and the area under the precision-recall curve
//! (average precision) of the map for lesion pixels against the other brain pixels, and the
//! Dice of the map thresholded at the value that maximises the Dice on a calibration set (the
//! training split). On every slice without a lesion: the share of its brain the threshold
//! marks (the false-positive area). Per subject: the same scores over all its slices at once.
//! An unsupervised localisation, not a diagnosis.
//!
//! Pixel ROC AUC is optimistic when lesions are small (most brain pixels are easy negatives);
//! the precision-recall area is the convention of the unsupervised anomaly-segmentation
//! literature the paper cites (Baur et al. 2021), so both are reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use dinfogan::builtin::Domain;
use dinfogan::pixels::unit;
use dinfogan::InferenceModel;
use image::{Rgb, RgbImage};
use serde::Serialize;

use super::separation::{encode_images, EncoderMode};
use super::{run_training_file, show, to_csv};
use crate::data::file::DatasetFile;
use crate::data::{DataSpec, SizeMismatch};
use crate::io::write_atomic;
use crate::markdown;
use crate::model::ModelArgs;

/// Images regenerated at a time.
const CHUNK: usize = 32;
/// Thresholds tried on the calibration maps.
const THRESHOLDS: usize = 256;
/// Most slices of the calibration file used, evenly spaced through it (their maps cost one
/// encoding and one generation each); the threshold is chosen on their lesion slices.
const CALIBRATION_SLICES: usize = 1000;

/// One slice of a dataset file with segmentation masks: what the evaluation needs of it.
pub struct MaskedSlice {
    /// Its position in the dataset file.
    pub index: usize,
    pub domain: Domain,
    /// The file's `subject` label, when it has one (`dinfogan data build brats` writes it).
    pub subject: Option<i32>,
    /// `channels x side x side` in [-1, 1].
    pub image: Vec<f32>,
    /// `side x side`, true inside the lesion.
    pub lesion: Vec<bool>,
    /// `side x side`: where the scores are taken, the brain (any channel above the file's
    /// zero, which is outside the brain in skull-stripped MRI) and the lesion.
    pub region: Vec<bool>,
}

impl MaskedSlice {
    pub fn lesion_pixels(&self) -> usize {
        self.lesion.iter().filter(|&&l| l).count()
    }

    /// A target slice with a segmented lesion: the slices the per-slice lesion scores and the
    /// calibration use.
    pub fn is_scored(&self) -> bool {
        self.domain == Domain::Target && self.lesion.contains(&true)
    }

    /// No lesion pixel in its mask: where any marked pixel is a false positive.
    pub fn is_healthy(&self) -> bool {
        !self.lesion.contains(&true)
    }
}

/// Every slice of `file` (which must have masks and a target slice with a lesion).
pub fn slices(file: &DatasetFile) -> Result<Vec<MaskedSlice>> {
    let h = &file.header;
    if !h.masks {
        bail!(
            "the dataset has no segmentation masks: build it with `dinfogan data build brats`, \
             which stores each slice's tumour mask"
        );
    }
    let subject = h.label("subject");
    let plane = h.side * h.side;
    let out: Vec<MaskedSlice> = (0..h.count)
        .map(|i| {
            let mask = file.mask_of(i).expect("the file has masks");
            let pixels = file.pixels_of(i);
            let lesion: Vec<bool> = mask.iter().map(|&m| m == 1).collect();
            let region = (0..plane)
                .map(|p| lesion[p] || (0..h.channels).any(|c| pixels[c * plane + p] > 0))
                .collect();
            MaskedSlice {
                index: i,
                domain: file.domains[i],
                subject: subject.map(|k| file.labels_of(i)[k]),
                image: pixels.iter().map(|&p| unit(p)).collect(),
                lesion,
                region,
            }
        })
        .collect();
    if !out.iter().any(MaskedSlice::is_scored) {
        bail!("the dataset has no target image with a lesion in its mask");
    }
    Ok(out)
}

/// The healthy counterparts G(Qz(y), 0) of `slices`, each `channels x side x side`, the
/// encoder run in `mode` (in training mode the slices share shuffled batches, as
/// `eval separation` encodes).
pub fn counterparts(
    model: &InferenceModel,
    slices: &[MaskedSlice],
    mode: EncoderMode,
) -> Result<Vec<Vec<f32>>> {
    let c = model.config();
    let len = c.channels * c.image_size * c.image_size;
    let (common, _) = encode_images(model, slices.len(), |i| slices[i].image.clone(), mode)?;
    let mut out = Vec::with_capacity(slices.len());
    for chunk in common.chunks(CHUNK) {
        let z: Vec<f32> = chunk.concat();
        let s = vec![0.0; chunk.len() * c.salient_dim];
        let healthy = crate::io::read(model.generate_from(&z, &s)?)?;
        out.extend(healthy.chunks(len).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// What stands for the healthy slice in the anomaly map |y - reference|.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// G(Qz(y), 0): the model's healthy counterpart.
    Counterpart,
    /// The slice's median brain intensity everywhere: what a lesion brighter or darker than
    /// the brain scores without any model, the baseline a counterpart has to beat.
    Median,
}

impl Reference {
    pub const ALL: [Reference; 2] = [Reference::Counterpart, Reference::Median];

    pub fn describe(self) -> &'static str {
        match self {
            Reference::Counterpart => "healthy counterpart G(Qz(y), 0)",
            Reference::Median => "baseline: the slice's median brain intensity",
        }
    }
}

/// The references of some slices and their anomaly maps.
pub struct Maps {
    pub references: Vec<Vec<f32>>,
    pub maps: Vec<Vec<f32>>,
}

/// The median of each channel over the slice's region, everywhere.
fn median_image(slice: &MaskedSlice) -> Vec<f32> {
    let plane = slice.region.len();
    let channels = slice.image.len() / plane;
    (0..channels)
        .flat_map(|c| {
            let mut inside: Vec<f32> = (0..plane)
                .filter(|&p| slice.region[p])
                .map(|p| slice.image[c * plane + p])
                .collect();
            inside.sort_by(f32::total_cmp);
            let median = inside.get(inside.len() / 2).copied().unwrap_or(-1.0);
            std::iter::repeat_n(median, plane)
        })
        .collect()
}

/// The `reference` of every slice and its [`anomaly_map`], smoothed with `sigma` pixels.
pub fn maps(
    model: &InferenceModel,
    slices: &[MaskedSlice],
    sigma: f32,
    reference: Reference,
    mode: EncoderMode,
) -> Result<Maps> {
    let references = match reference {
        Reference::Counterpart => counterparts(model, slices, mode)?,
        Reference::Median => slices.iter().map(median_image).collect(),
    };
    let side = model.config().image_size;
    let maps = slices
        .iter()
        .zip(&references)
        .map(|(i, r)| anomaly_map(&i.image, r, side, sigma))
        .collect();
    Ok(Maps { references, maps })
}

/// The anomaly map of one image: |y - counterpart| averaged over channels, smoothed with a
/// Gaussian of `sigma` pixels (none at 0).
pub fn anomaly_map(image: &[f32], counterpart: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    let plane = side * side;
    let channels = image.len() / plane;
    let mut map = vec![0.0f32; plane];
    for c in 0..channels {
        for p in 0..plane {
            map[p] += (image[c * plane + p] - counterpart[c * plane + p]).abs();
        }
    }
    for v in &mut map {
        *v /= channels as f32;
    }
    smooth(&map, side, sigma)
}

/// A separable Gaussian blur; the kernel is renormalised at the borders, so a constant map
/// stays constant.
pub fn smooth(map: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return map.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let pass = |input: &[f32], horizontal: bool| {
        let mut out = vec![0.0f32; input.len()];
        for y in 0..side {
            for x in 0..side {
                let (mut sum, mut weight) = (0.0, 0.0);
                for (k, w) in kernel.iter().enumerate() {
                    let d = k as isize - radius;
                    let (xx, yy) = if horizontal {
                        (x as isize + d, y as isize)
                    } else {
                        (x as isize, y as isize + d)
                    };
                    if (0..side as isize).contains(&xx) && (0..side as isize).contains(&yy) {
                        sum += w * input[yy as usize * side + xx as usize];
                        weight += w;
                    }
                }
                out[y * side + x] = sum / weight;
            }
        }
        out
    };
    pass(&pass(map, true), false)
}

/// ROC AUC of `scores` for the positives against the negatives: the probability that a random
/// positive scores above a random negative, ties counting one half (Mann-Whitney U with mid
/// ranks, what scikit-learn's `roc_auc_score` computes). `None` without both classes.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0f64, 0usize);
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start..end (1-based start+1..=end) share their mean.
        let mid = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            if positive[i] {
                rank_sum += mid;
                positives += 1;
            }
        }
        start = end;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Area under the precision-recall curve of `scores` for the positives, as scikit-learn's
/// `average_precision_score`: the sum over distinct thresholds, from the highest, of the
/// precision at each times the recall it adds (tied scores enter together). `None` without a
/// positive.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let total = positive.iter().filter(|&&p| p).count();
    if total == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut true_positives, mut seen, mut recall, mut area) = (0usize, 0usize, 0.0f64, 0.0f64);
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            true_positives += usize::from(positive[order[end]]);
            end += 1;
        }
        seen = end;
        let now = true_positives as f64 / total as f64;
        area += (now - recall) * true_positives as f64 / seen as f64;
        recall = now;
        start = end;
    }
    debug_assert_eq!(seen, scores.len());
    Some(area)
}

/// Overlap counts of `map > threshold` with the lesion, inside the region: (both, predicted,
/// lesion, region) pixels.
fn overlap(
    map: &[f32],
    lesion: &[bool],
    region: &[bool],
    threshold: f32,
) -> (usize, usize, usize, usize) {
    let (mut both, mut predicted, mut actual, mut inside) = (0, 0, 0, 0);
    for p in 0..map.len() {
        if !region[p] {
            continue;
        }
        let hit = map[p] > threshold;
        both += usize::from(hit && lesion[p]);
        predicted += usize::from(hit);
        actual += usize::from(lesion[p]);
        inside += 1;
    }
    (both, predicted, actual, inside)
}

/// Dice from overlap counts: 2|P ∩ L| / (|P| + |L|), 1 when both are empty.
fn dice_of(both: usize, predicted: usize, actual: usize) -> f64 {
    if predicted + actual == 0 {
        return 1.0;
    }
    2.0 * both as f64 / (predicted + actual) as f64
}

/// Dice of `map > threshold` and the lesion inside the region.
pub fn dice(map: &[f32], lesion: &[bool], region: &[bool], threshold: f32) -> f64 {
    let (both, predicted, actual, _) = overlap(map, lesion, region, threshold);
    dice_of(both, predicted, actual)
}

/// The threshold that maximises the Dice pooled over the scored calibration slices (all their
/// pixels counted together), among `THRESHOLDS` quantiles of their map values.
pub fn best_threshold(slices: &[MaskedSlice], maps: &[Vec<f32>]) -> f32 {
    let scored: Vec<(&MaskedSlice, &Vec<f32>)> = slices
        .iter()
        .zip(maps)
        .filter(|(s, _)| s.is_scored())
        .collect();
    let mut values: Vec<f32> = scored
        .iter()
        .flat_map(|(s, m)| m.iter().zip(&s.region).filter(|(_, &r)| r).map(|(&v, _)| v))
        .collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let candidates: Vec<f32> = (0..THRESHOLDS)
        .map(|k| values[k * (values.len() - 1) / (THRESHOLDS - 1)])
        .collect();
    let pooled = |t: f32| {
        let (mut both, mut sizes) = (0usize, 0usize);
        for (slice, map) in &scored {
            let (b, p, a, _) = overlap(map, &slice.lesion, &slice.region, t);
            both += b;
            sizes += p + a;
        }
        2.0 * both as f64 / sizes.max(1) as f64
    };
    let mut best = (f64::MIN, candidates[0]);
    for t in candidates {
        let d = pooled(t);
        if d > best.0 {
            best = (d, t);
        }
    }
    best.1
}

/// The map values and lesion flags of the brain pixels of some slices, pooled.
fn brain_pixels<'a>(
    slices: impl Iterator<Item = (&'a MaskedSlice, &'a Vec<f32>)>,
) -> (Vec<f32>, Vec<bool>) {
    slices
        .flat_map(|(s, map)| {
            map.iter()
                .zip(&s.lesion)
                .zip(&s.region)
                .filter(|(_, &r)| r)
                .map(|((&v, &l), _)| (v, l))
        })
        .unzip()
}

/// One lesion slice's scores (a row of lesion.csv).
#[derive(Debug, Clone, Serialize)]
pub struct LesionRow {
    pub reference: Reference,
    pub index: usize,
    pub subject: Option<i32>,
    pub lesion_pixels: usize,
    pub auc: Option<f64>,
    /// Average precision: the area under the precision-recall curve.
    pub auprc: Option<f64>,
    pub dice: f64,
}

/// One slice without a lesion (a row of healthy.csv).
#[derive(Debug, Clone, Serialize)]
pub struct HealthyRow {
    pub reference: Reference,
    pub index: usize,
    pub subject: Option<i32>,
    pub brain_pixels: usize,
    /// The share of its brain pixels the threshold marks.
    pub false_positive_area: f64,
}

/// One subject's scores over all its slices in the file at once (a row of subjects.csv).
#[derive(Debug, Clone, Serialize)]
pub struct SubjectRow {
    pub reference: Reference,
    pub subject: i32,
    pub slices: usize,
    pub lesion_pixels: usize,
    pub auc: Option<f64>,
    pub auprc: Option<f64>,
    pub dice: f64,
}

/// Every score of one reference's maps.
pub struct Scores {
    pub lesion: Vec<LesionRow>,
    pub healthy: Vec<HealthyRow>,
    /// Subjects with a lesion pixel somewhere; empty when the file has no subject label.
    pub subjects: Vec<SubjectRow>,
}

/// The scores of every slice (and subject) at `threshold`.
pub fn score(
    slices: &[MaskedSlice],
    maps: &[Vec<f32>],
    threshold: f32,
    reference: Reference,
) -> Scores {
    let mut lesion = Vec::new();
    let mut healthy = Vec::new();
    for (slice, map) in slices.iter().zip(maps) {
        if slice.is_scored() {
            let (scores, positive) = brain_pixels(std::iter::once((slice, map)));
            lesion.push(LesionRow {
                reference,
                index: slice.index,
                subject: slice.subject,
                lesion_pixels: slice.lesion_pixels(),
                auc: roc_auc(&scores, &positive),
                auprc: average_precision(&scores, &positive),
                dice: dice(map, &slice.lesion, &slice.region, threshold),
            });
        } else if slice.is_healthy() {
            let (_, predicted, _, inside) = overlap(map, &slice.lesion, &slice.region, threshold);
            healthy.push(HealthyRow {
                reference,
                index: slice.index,
                subject: slice.subject,
                brain_pixels: inside,
                false_positive_area: predicted as f64 / inside.max(1) as f64,
            });
        }
    }
    let mut by_subject: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (k, slice) in slices.iter().enumerate() {
        if let Some(subject) = slice.subject {
            by_subject.entry(subject).or_default().push(k);
        }
    }
    let subjects = by_subject
        .into_iter()
        .filter_map(|(subject, members)| {
            let lesion_pixels: usize = members.iter().map(|&k| slices[k].lesion_pixels()).sum();
            if lesion_pixels == 0 {
                return None;
            }
            let (scores, positive) = brain_pixels(members.iter().map(|&k| (&slices[k], &maps[k])));
            let (mut both, mut predicted) = (0, 0);
            for &k in &members {
                let (b, p, _, _) =
                    overlap(&maps[k], &slices[k].lesion, &slices[k].region, threshold);
                both += b;
                predicted += p;
            }
            Some(SubjectRow {
                reference,
                subject,
                slices: members.len(),
                lesion_pixels,
                auc: roc_auc(&scores, &positive),
                auprc: average_precision(&scores, &positive),
                dice: dice_of(both, predicted, lesion_pixels),
            })
        })
        .collect();
    Scores {
        lesion,
        healthy,
        subjects,
    }
}

/// A mean and a (population) standard deviation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: &[f64]) -> Self {
        let (mean, std) = mean_std(values);
        Self { mean, std }
    }
}

impl std::fmt::Display for MeanStd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3}", self.mean, self.std)
    }
}

/// One reference's summary: the mean scores of its slices and subjects.
#[derive(Debug, Clone, Serialize)]
pub struct LesionSummary {
    pub reference: Reference,
    /// What the reference is, as the table says it.
    pub description: &'static str,
    /// Target slices with a lesion, scored.
    pub images: usize,
    /// Over the slices whose AUC is defined (a lesion and brain outside it).
    pub auc_mean: f64,
    pub auc_std: f64,
    pub auprc_mean: f64,
    pub auprc_std: f64,
    pub dice_mean: f64,
    pub dice_std: f64,
    /// Slices without a lesion pixel.
    pub healthy_images: usize,
    /// The share of their brain the threshold marks (absent without such slices).
    pub false_positive_area: Option<MeanStd>,
    /// Subjects with a lesion, each scored over all its slices (absent when the file does not
    /// say which subject a slice belongs to).
    pub subjects: Option<SubjectSummary>,
    /// The threshold of the Dice, in units of [-1, 1] images.
    pub threshold: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubjectSummary {
    pub subjects: usize,
    pub auc: MeanStd,
    pub auprc: MeanStd,
    pub dice: MeanStd,
}

impl LesionSummary {
    pub fn of(reference: Reference, scores: &Scores, threshold: f32, subject_label: bool) -> Self {
        let aucs: Vec<f64> = scores.lesion.iter().filter_map(|r| r.auc).collect();
        let aps: Vec<f64> = scores.lesion.iter().filter_map(|r| r.auprc).collect();
        let dices: Vec<f64> = scores.lesion.iter().map(|r| r.dice).collect();
        let areas: Vec<f64> = scores
            .healthy
            .iter()
            .map(|r| r.false_positive_area)
            .collect();
        let ((auc_mean, auc_std), (auprc_mean, auprc_std), (dice_mean, dice_std)) =
            (mean_std(&aucs), mean_std(&aps), mean_std(&dices));
        let subjects = subject_label.then(|| {
            let s = &scores.subjects;
            SubjectSummary {
                subjects: s.len(),
                auc: MeanStd::of(&s.iter().filter_map(|r| r.auc).collect::<Vec<_>>()),
                auprc: MeanStd::of(&s.iter().filter_map(|r| r.auprc).collect::<Vec<_>>()),
                dice: MeanStd::of(&s.iter().map(|r| r.dice).collect::<Vec<_>>()),
            }
        });
        Self {
            reference,
            description: reference.describe(),
            images: scores.lesion.len(),
            auc_mean,
            auc_std,
            auprc_mean,
            auprc_std,
            dice_mean,
            dice_std,
            healthy_images: areas.len(),
            false_positive_area: (!areas.is_empty()).then(|| MeanStd::of(&areas)),
            subjects,
            threshold,
        }
    }
}

/// Mean and (population) standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[derive(Debug, Args)]
pub struct LesionArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A dataset file with segmentation masks (`dinfogan data build brats`), e.g. the test split.
    #[arg(long)]
    pub data: PathBuf,
    /// The dataset whose anomaly maps choose the Dice threshold, e.g. the training split
    /// (default: the run's training data, when it is a dataset file with masks).
    #[arg(long, conflicts_with = "threshold")]
    pub calibrate: Option<PathBuf>,
    /// A fixed threshold on the anomaly map (in units of [-1, 1] images) instead.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Standard deviation of the Gaussian that smooths the anomaly map, in pixels (0: none).
    #[arg(long, default_value_t = 2.0)]
    pub sigma: f32,
    /// How the encoder runs while taking Qz(y): `inference` (batch-norm running statistics, no
    /// noise) or `train` (batch statistics of shuffled batches, noise on, as the paper's
    /// public scripts encode).
    #[arg(long, value_enum, default_value_t = EncoderMode::Inference)]
    pub encoder: EncoderMode,
    /// A folder for the tables (lesion.md; lesion.csv, healthy.csv, subjects.csv) and the
    /// overlays of the first lesion slices.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How many overlays to write under --out.
    #[arg(long, default_value_t = 16)]
    pub overlays: usize,
    /// Print the scores (per reference, per slice and per subject) as one JSON document on
    /// stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn lesion_command(args: LesionArgs) -> Result<()> {
    if !(args.sigma.is_finite() && args.sigma >= 0.0) {
        bail!(
            "--sigma must be a non-negative number of pixels, not {}",
            args.sigma
        );
    }
    let model = args.model.load()?;
    let c = model.config().clone();
    let read = |path: &Path| -> Result<Vec<MaskedSlice>> {
        let file = DatasetFile::read(path)?;
        let h = &file.header;
        SizeMismatch::check(
            &DataSpec::File(path.into()),
            (h.channels, h.side),
            (c.channels, c.image_size),
        )?;
        slices(&file).with_context(|| format!("{}", path.display()))
    };
    // The given threshold, or the calibration set that chooses one for each reference.
    let calibration = match (args.threshold, &args.calibrate) {
        (Some(t), _) => Err(t),
        (None, given) => {
            let path = match given {
                Some(path) => path.clone(),
                None => run_training_file(&args.model.checkpoint).context(
                    "pass --calibrate with a dataset that has masks (e.g. the training split) \
                     or --threshold",
                )?,
            };
            let all = read(&path)?;
            let stride = all.len().div_ceil(CALIBRATION_SLICES);
            let set: Vec<_> = all.into_iter().step_by(stride).collect();
            let scored = set.iter().filter(|s| s.is_scored()).count();
            eprintln!(
                "choosing the thresholds on {scored} lesion slices of {}",
                path.display()
            );
            Ok((path, set, scored))
        }
    };
    let slices = read(&args.data)?;
    let subject_label = slices.iter().any(|s| s.subject.is_some());
    let scored = slices.iter().filter(|s| s.is_scored()).count();
    eprintln!(
        "scoring {scored} target slices with a lesion and {} without any",
        slices.iter().filter(|s| s.is_healthy()).count()
    );
    let mut report = LesionReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        data: args.data.display().to_string(),
        sigma_pixels: args.sigma,
        encoder: args.encoder,
        target_images: scored,
        calibration: calibration
            .as_ref()
            .ok()
            .map(|(path, _, scored)| Calibration {
                data: path.display().to_string(),
                images: *scored,
            }),
        references: Vec::new(),
        per_image: Vec::new(),
        healthy: Vec::new(),
        per_subject: Vec::new(),
    };
    let mut shown = None;
    for reference in Reference::ALL {
        let threshold = match &calibration {
            Err(given) => *given,
            Ok((_, set, _)) => best_threshold(
                set,
                &maps(&model, set, args.sigma, reference, args.encoder)?.maps,
            ),
        };
        let found = maps(&model, &slices, args.sigma, reference, args.encoder)?;
        let scores = score(&slices, &found.maps, threshold, reference);
        report.references.push(LesionSummary::of(
            reference,
            &scores,
            threshold,
            subject_label,
        ));
        report.per_image.extend(scores.lesion);
        report.healthy.extend(scores.healthy);
        report.per_subject.extend(scores.subjects);
        if reference == Reference::Counterpart {
            shown = Some((found, threshold));
        }
    }
    let text = report.text();
    show(args.json, &report, &text)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        write_atomic(&dir.join("lesion.md"), text.as_bytes())?;
        write_atomic(&dir.join("lesion.csv"), &to_csv(&report.per_image)?)?;
        write_atomic(&dir.join("healthy.csv"), &to_csv(&report.healthy)?)?;
        write_atomic(&dir.join("subjects.csv"), &to_csv(&report.per_subject)?)?;
        let (found, threshold) = shown.expect("the counterpart is scored");
        let shown: Vec<_> = slices
            .iter()
            .zip(&found.references)
            .zip(&found.maps)
            .filter(|((s, _), _)| s.is_scored())
            .take(args.overlays)
            .collect();
        for ((slice, counterpart), map) in &shown {
            let sheet = overlay(slice, counterpart, map, threshold, c.channels, c.image_size);
            let path = dir.join(format!("image-{:05}.png", slice.index));
            crate::images::save_png(&sheet, &path, 1)?;
        }
        eprintln!(
            "wrote {} (lesion.md, lesion.csv, healthy.csv, subjects.csv, {} overlays: image, \
             healthy counterpart, map, outlines)",
            dir.display(),
            shown.len()
        );
    }
    Ok(())
}

/// `eval lesion`: the scores of each reference, of each slice and of each subject, with what
/// they were computed on; the text and `--json` come from it.
#[derive(Debug, Serialize)]
struct LesionReport {
    checkpoint: String,
    /// The scored dataset file.
    data: String,
    /// Standard deviation of the Gaussian that smooths the anomaly maps.
    sigma_pixels: f32,
    encoder: EncoderMode,
    /// Target slices with a lesion, scored.
    target_images: usize,
    /// Where the thresholds were chosen (the best Dice); absent when `--threshold` gave one.
    calibration: Option<Calibration>,
    /// One summary per reference: the healthy counterpart, then the median baseline.
    references: Vec<LesionSummary>,
    /// Each lesion slice's scores, per reference (the rows of lesion.csv).
    per_image: Vec<LesionRow>,
    /// Each slice without a lesion, per reference (healthy.csv).
    healthy: Vec<HealthyRow>,
    /// Each subject with a lesion, per reference (subjects.csv).
    per_subject: Vec<SubjectRow>,
}

#[derive(Debug, Serialize)]
struct Calibration {
    data: String,
    /// Its lesion slices the thresholds were chosen on.
    images: usize,
}

impl LesionReport {
    fn text(&self) -> String {
        let mut text =
            format!(
            "Lesion localisation: the anomaly map |y - reference|, smoothed (sigma {} px), on {} \
             target slices of {} with a lesion; encoder in {} mode; thresholds {}.\n\n",
            self.sigma_pixels,
            self.target_images,
            self.data,
            self.encoder.describe(),
            match &self.calibration {
                Some(c) => format!("of the best Dice on {} lesion slices of {}", c.images, c.data),
                None => "given".into(),
            }
        );
        let mut table = markdown::Table::new([
            "reference",
            "lesion slices",
            "ROC AUC (lesion vs brain)",
            "AUPRC",
            "Dice",
            "slices without lesion",
            "false-positive area",
            "threshold",
        ]);
        for r in &self.references {
            table.row([
                r.reference.describe().to_string(),
                r.images.to_string(),
                format!("{:.3} ± {:.3}", r.auc_mean, r.auc_std),
                format!("{:.3} ± {:.3}", r.auprc_mean, r.auprc_std),
                format!("{:.3} ± {:.3}", r.dice_mean, r.dice_std),
                r.healthy_images.to_string(),
                r.false_positive_area
                    .map_or("-".to_string(), |a| a.to_string()),
                format!("{:.4}", r.threshold),
            ]);
        }
        text += &table.to_string();
        if self.references.iter().any(|r| r.subjects.is_some()) {
            let mut table =
                markdown::Table::new(["reference", "subjects", "ROC AUC", "AUPRC", "Dice"]);
            for r in &self.references {
                if let Some(s) = &r.subjects {
                    table.row([
                        r.reference.describe().to_string(),
                        s.subjects.to_string(),
                        s.auc.to_string(),
                        s.auprc.to_string(),
                        s.dice.to_string(),
                    ]);
                }
            }
            text +=
                &format!("\nPer subject, each over all its slices in the file at once:\n\n{table}");
        } else {
            text += "\nNo per-subject scores: the file does not say which subject a slice \
                     belongs to (no `subject` label).\n";
        }
        text
    }
}

/// Four panels of one image: y, its healthy counterpart, the anomaly map (black to red to
/// yellow, full scale at twice the threshold), and y with the segmentation's outline in green
/// and the thresholded map's in red.
pub fn overlay(
    image: &MaskedSlice,
    counterpart: &[f32],
    map: &[f32],
    threshold: f32,
    channels: usize,
    side: usize,
) -> RgbImage {
    let grey = |pixels: &[f32]| crate::images::to_rgb(pixels, channels, side);
    let (y, healthy) = (grey(&image.image), grey(counterpart));
    let full = (2.0 * threshold).max(f32::EPSILON);
    let heat = RgbImage::from_fn(side as u32, side as u32, |x, yy| {
        let v = (map[yy as usize * side + x as usize] / full).clamp(0.0, 1.0);
        let r = (3.0 * v).min(1.0);
        let g = (3.0 * v - 1.0).clamp(0.0, 1.0);
        let b = (3.0 * v - 2.0).clamp(0.0, 1.0);
        Rgb([(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8])
    });
    let predicted: Vec<bool> = map.iter().map(|&v| v > threshold).collect();
    let mut outlined = y.clone();
    for (mask, colour) in [(&predicted, [255, 40, 40]), (&image.lesion, [40, 255, 40])] {
        for p in outline(mask, side) {
            outlined.put_pixel((p % side) as u32, (p / side) as u32, Rgb(colour));
        }
    }
    crate::images::grid(&[vec![y, healthy, heat, outlined]])
}

/// The pixels of a mask with a 4-neighbour outside it (or on the border).
fn outline(mask: &[bool], side: usize) -> Vec<usize> {
    (0..mask.len())
        .filter(|&p| {
            let (x, y) = (p % side, p / side);
            mask[p]
                && (x == 0
                    || y == 0
                    || x == side - 1
                    || y == side - 1
                    || !mask[p - 1]
                    || !mask[p + 1]
                    || !mask[p - side]
                    || !mask[p + side])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_on_hand_computed_cases() {
        // Positives 0.8, 0.4; negatives 0.5, 0.1, 0.4: of the 6 pairs, 0.8 beats all 3, 0.4
        // beats 0.1 and ties 0.4: (3 + 1 + 0.5) / 6 = 0.75 (scikit-learn's roc_auc_score
        // gives 0.75 for y_true [1, 1, 0, 0, 0], y_score [.8, .4, .5, .1, .4]).
        let auc = roc_auc(
            &[0.8, 0.4, 0.5, 0.1, 0.4],
            &[true, true, false, false, false],
        );
        assert!((auc.unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(roc_auc(&[0.0; 4], &[true, false, true, false]), Some(0.5));
        assert_eq!(roc_auc(&[1.0, 0.0], &[true, false]), Some(1.0));
    }

    #[test]
    fn dice_and_smoothing_by_hand() {
        let lesion = [true, true, false, false];
        let region = [true; 4];
        // Predicted {0, 2}: overlap 1, sizes 2 + 2: Dice 0.5.
        assert_eq!(dice(&[1.0, 0.0, 1.0, 0.0], &lesion, &region, 0.5), 0.5);
        assert_eq!(dice(&[1.0, 1.0, 0.0, 0.0], &lesion, &region, 0.5), 1.0);
        // A constant map stays constant; a point spreads symmetrically and keeps its mass
        // away from the borders.
        let flat = smooth(&[2.0; 25], 5, 1.0);
        assert!(flat.iter().all(|v| (v - 2.0).abs() < 1e-6));
        let mut point = vec![0.0; 225];
        point[112] = 1.0; // (7, 7) of 15x15: the kernel (radius 3) never meets a border
        let blurred = smooth(&point, 15, 1.0);
        assert!((blurred[111] - blurred[113]).abs() < 1e-7);
        assert!((blurred[97] - blurred[127]).abs() < 1e-7);
        assert!(blurred[112] > blurred[113] && blurred[113] > blurred[114]);
        let mass: f32 = blurred.iter().sum();
        assert!((mass - 1.0).abs() < 1e-3, "{mass}");
    }

    fn square(side: usize, from: usize, to: usize) -> Vec<bool> {
        (0..side * side)
            .map(|p| (from..to).contains(&(p % side)) && (from..to).contains(&(p / side)))
            .collect()
    }

    #[test]
    fn average_precision_agrees_with_scikit_learn() {
        // sklearn.metrics.average_precision_score on the same values: 0.75, 0.8333..., 0.3333...
        let ap = average_precision(
            &[0.8, 0.4, 0.5, 0.1, 0.4],
            &[true, true, false, false, false],
        );
        assert!((ap.unwrap() - 0.75).abs() < 1e-12);
        // Three tied at 0.35, two of them positive: they enter together (precision 4/6 for
        // the last half of the recall), not one by one.
        let scores = [0.1, 0.9, 0.35, 0.35, 0.8, 0.7, 0.2, 0.35];
        let positive = [false, true, false, true, true, false, false, true];
        let ap = average_precision(&scores, &positive).unwrap();
        assert!((ap - 5.0 / 6.0).abs() < 1e-12, "{ap}");
        assert!((roc_auc(&scores, &positive).unwrap() - 0.8125).abs() < 1e-12);
        let ap = average_precision(&[0.2; 3], &[true, false, false]).unwrap();
        assert!((ap - 1.0 / 3.0).abs() < 1e-12, "{ap}");
        assert_eq!(average_precision(&[0.5, 0.1], &[false, false]), None);
    }

    fn slice(subject: i32, domain: Domain, lesion: &[bool], map_region: &[bool]) -> MaskedSlice {
        MaskedSlice {
            index: 0,
            domain,
            subject: Some(subject),
            image: vec![0.0; lesion.len()],
            lesion: lesion.to_vec(),
            region: map_region.to_vec(),
        }
    }

    /// Healthy slices give the false-positive area; a subject pools every one of its slices
    /// (the healthy one's marked pixels count against its Dice); a subject without a lesion is
    /// left out of the per-subject rows. Values by hand.
    #[test]
    fn healthy_area_and_subjects_by_hand() {
        let (t, f) = (true, false);
        let slices = [
            // Subject 0: a lesion slice (lesion {0, 1}, marked {1, 2}) ...
            slice(0, Domain::Target, &[t, t, f, f], &[t, t, t, t]),
            // ... and a healthy one of 3 brain pixels with 1 marked.
            slice(0, Domain::Background, &[f, f, f, f], &[t, t, t, f]),
            // Subject 1: healthy only, nothing marked.
            slice(1, Domain::Background, &[f, f, f, f], &[t, t, t, t]),
        ];
        let maps = vec![
            vec![0.1, 0.9, 0.8, 0.0],
            vec![0.0, 0.7, 0.2, 0.9],
            vec![0.0; 4],
        ];
        let scores = score(&slices, &maps, 0.5, Reference::Counterpart);
        assert_eq!(scores.lesion.len(), 1);
        assert_eq!(scores.lesion[0].dice, 0.5);
        // Lesion scores 0.1, 0.9 against 0.8, 0.0: pairs won 0.9>0.8, 0.9>0, 0.1>0: 3 / 4.
        assert_eq!(scores.lesion[0].auc, Some(0.75));
        // Ranked 0.9 (+), 0.8 (-), 0.1 (+), 0.0 (-): 0.5 * 1 + 0.5 * 2/3.
        let ap = scores.lesion[0].auprc.unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-12, "{ap}");
        let areas: Vec<f64> = scores
            .healthy
            .iter()
            .map(|r| r.false_positive_area)
            .collect();
        assert_eq!(areas, [1.0 / 3.0, 0.0]);
        assert_eq!(scores.healthy[0].brain_pixels, 3);
        // Subject 0 over both slices: marked 2 + 1, lesion 2, both 1: Dice 2 / 5. Its pixels
        // pooled: lesion 0.1, 0.9 against 0.8, 0.0, 0.0, 0.7, 0.2 (the 0.9 outside the brain
        // is not scored): 0.9 beats all 5, 0.1 beats the two zeros: 7 / 10.
        assert_eq!(scores.subjects.len(), 1);
        let subject = &scores.subjects[0];
        assert_eq!(
            (subject.subject, subject.slices, subject.lesion_pixels),
            (0, 2, 2)
        );
        assert!((subject.dice - 0.4).abs() < 1e-12);
        assert!((subject.auc.unwrap() - 0.7).abs() < 1e-12);
        let summary = LesionSummary::of(Reference::Counterpart, &scores, 0.5, true);
        let area = summary.false_positive_area.unwrap();
        assert!((area.mean - 1.0 / 6.0).abs() < 1e-12);
        assert_eq!(summary.subjects.unwrap().subjects, 1);
        assert_eq!(summary.healthy_images, 2);
    }

    /// A brain with a bright lesion: a perfect counterpart (the brain without the lesion) gives
    /// an AUC of 1 and, at the calibrated threshold, a Dice near 1; the image itself as its
    /// counterpart (an identity map, all zeros) gives 0.5.
    #[test]
    fn planted_counterparts_score_as_expected() {
        let side = 32;
        let brain = square(side, 4, 28);
        let lesion = square(side, 10, 16);
        let healthy: Vec<f32> = brain.iter().map(|&b| if b { 0.0 } else { -1.0 }).collect();
        let image: Vec<f32> = healthy
            .iter()
            .zip(&lesion)
            .map(|(&h, &l)| if l { 0.9 } else { h })
            .collect();
        let lesion_image = MaskedSlice {
            index: 0,
            domain: Domain::Target,
            subject: None,
            image: image.clone(),
            lesion: lesion.clone(),
            region: brain,
        };
        let perfect = anomaly_map(&image, &healthy, side, 1.0);
        let threshold = best_threshold(
            std::slice::from_ref(&lesion_image),
            std::slice::from_ref(&perfect),
        );
        let one = std::slice::from_ref(&lesion_image);
        let row = &score(one, &[perfect], threshold, Reference::Counterpart).lesion[0];
        assert_eq!(row.auc, Some(1.0));
        assert_eq!(row.auprc, Some(1.0));
        assert!(row.dice > 0.9, "Dice {}", row.dice);
        assert_eq!(row.lesion_pixels, 36);
        let identity = anomaly_map(&image, &image, side, 1.0);
        let row = &score(one, &[identity], threshold, Reference::Counterpart).lesion[0];
        assert_eq!(row.auc, Some(0.5));
        assert_eq!(row.dice, 0.0);
        // The median baseline: the brain is one intensity (0), its median; in the brain only
        // the lesion (0.9) differs from it, but so does the background outside (-1), which
        // the smoothing carries onto the brain's border: high, below the perfect counterpart.
        let median = median_image(&lesion_image);
        assert!(median.iter().all(|&v| v == 0.0));
        let map = anomaly_map(&image, &median, side, 1.0);
        let auc = score(one, &[map], threshold, Reference::Median).lesion[0]
            .auc
            .unwrap();
        assert!((0.8..1.0).contains(&auc), "{auc}");
    }
}
