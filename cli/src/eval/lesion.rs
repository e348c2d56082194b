//! `dinfogan eval lesion`: how well the healthy counterpart G(Qz(y), 0) of a target image y
//! finds its lesion, a number the paper leaves qualitative (its Fig. 7). The anomaly map is
//! |y - G(Qz(y), 0)|, averaged over channels and smoothed with a Gaussian; on every target
//! image with a segmentation, its ROC AUC separates lesion pixels from the other brain pixels,
//! and its Dice, thresholded at the value that maximises the Dice on a calibration set (the
//! training split), measures the overlap. An unsupervised localisation, not a diagnosis.

use anyhow::{bail, Result};
use dinfogan::builtin::Domain;
use dinfogan::pixels::unit;
use dinfogan::InferenceModel;
use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::data::file::DatasetFile;

/// Images encoded and regenerated at a time.
const CHUNK: usize = 32;
/// Thresholds tried on the calibration maps.
const THRESHOLDS: usize = 256;

/// One target image with a lesion: what the evaluation needs of it.
pub struct LesionImage {
    /// Its position in the dataset file.
    pub index: usize,
    /// `channels x side x side` in [-1, 1].
    pub image: Vec<f32>,
    /// `side x side`, true inside the lesion.
    pub lesion: Vec<bool>,
    /// `side x side`: where the scores are taken, the brain (any channel above the file's
    /// zero, which is outside the brain in skull-stripped MRI) and the lesion.
    pub region: Vec<bool>,
}

/// The target images of `file` whose mask has at least one lesion pixel.
pub fn lesion_images(file: &DatasetFile) -> Result<Vec<LesionImage>> {
    let h = &file.header;
    if !h.masks {
        bail!(
            "the dataset has no segmentation masks: build it with `dinfogan data build brats`, \
             which stores each slice's tumour mask"
        );
    }
    let plane = h.side * h.side;
    let mut out = Vec::new();
    for i in 0..h.count {
        let mask = file.mask_of(i).expect("the file has masks");
        if file.domains[i] != Domain::Target || !mask.contains(&1) {
            continue;
        }
        let pixels = file.pixels_of(i);
        let lesion: Vec<bool> = mask.iter().map(|&m| m == 1).collect();
        let region = (0..plane)
            .map(|p| lesion[p] || (0..h.channels).any(|c| pixels[c * plane + p] > 0))
            .collect();
        out.push(LesionImage {
            index: i,
            image: pixels.iter().map(|&p| unit(p)).collect(),
            lesion,
            region,
        });
    }
    if out.is_empty() {
        bail!("the dataset has no target image with a lesion in its mask");
    }
    Ok(out)
}

/// The healthy counterparts G(Qz(y), 0) of `images`, each `channels x side x side`.
pub fn counterparts(model: &InferenceModel, images: &[LesionImage]) -> Result<Vec<Vec<f32>>> {
    let c = model.config();
    let len = c.channels * c.image_size * c.image_size;
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(CHUNK) {
        let pixels: Vec<f32> = chunk.iter().flat_map(|i| i.image.iter().copied()).collect();
        let batch = burn::prelude::Tensor::from_data(
            burn::prelude::TensorData::new(
                pixels,
                [chunk.len(), c.channels, c.image_size, c.image_size],
            ),
            model.device(),
        );
        let healthy = crate::io::read(model.reconstruct(batch, false)?)?;
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

/// The references of some images and their anomaly maps.
pub struct Maps {
    pub references: Vec<Vec<f32>>,
    pub maps: Vec<Vec<f32>>,
}

/// The median of each channel over the image's region, everywhere.
fn median_image(image: &LesionImage) -> Vec<f32> {
    let plane = image.region.len();
    let channels = image.image.len() / plane;
    (0..channels)
        .flat_map(|c| {
            let mut inside: Vec<f32> = (0..plane)
                .filter(|&p| image.region[p])
                .map(|p| image.image[c * plane + p])
                .collect();
            inside.sort_by(f32::total_cmp);
            let median = inside.get(inside.len() / 2).copied().unwrap_or(-1.0);
            std::iter::repeat_n(median, plane)
        })
        .collect()
}

/// The `reference` of every image and its [`anomaly_map`], smoothed with `sigma` pixels.
pub fn maps(
    model: &InferenceModel,
    images: &[LesionImage],
    sigma: f32,
    reference: Reference,
) -> Result<Maps> {
    let references = match reference {
        Reference::Counterpart => counterparts(model, images)?,
        Reference::Median => images.iter().map(median_image).collect(),
    };
    let side = model.config().image_size;
    let maps = images
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

/// Overlap counts of `map > threshold` with the lesion, inside the region.
fn overlap(map: &[f32], lesion: &[bool], region: &[bool], threshold: f32) -> (usize, usize, usize) {
    let (mut both, mut predicted, mut actual) = (0, 0, 0);
    for p in 0..map.len() {
        if !region[p] {
            continue;
        }
        let hit = map[p] > threshold;
        both += usize::from(hit && lesion[p]);
        predicted += usize::from(hit);
        actual += usize::from(lesion[p]);
    }
    (both, predicted, actual)
}

/// Dice of `map > threshold` and the lesion inside the region: 2|P ∩ L| / (|P| + |L|).
pub fn dice(map: &[f32], lesion: &[bool], region: &[bool], threshold: f32) -> f64 {
    let (both, predicted, actual) = overlap(map, lesion, region, threshold);
    if predicted + actual == 0 {
        return 1.0;
    }
    2.0 * both as f64 / (predicted + actual) as f64
}

/// The threshold that maximises the Dice pooled over the calibration images (all their
/// pixels counted together), among `THRESHOLDS` quantiles of their map values.
pub fn best_threshold(images: &[LesionImage], maps: &[Vec<f32>]) -> f32 {
    let mut values: Vec<f32> = images
        .iter()
        .zip(maps)
        .flat_map(|(i, m)| m.iter().zip(&i.region).filter(|(_, &r)| r).map(|(&v, _)| v))
        .collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let candidates: Vec<f32> = (0..THRESHOLDS)
        .map(|k| values[k * (values.len() - 1) / (THRESHOLDS - 1)])
        .collect();
    let pooled = |t: f32| {
        let (mut both, mut sizes) = (0usize, 0usize);
        for (image, map) in images.iter().zip(maps) {
            let (b, p, a) = overlap(map, &image.lesion, &image.region, t);
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

/// One image's scores, as the CSV lists them.
#[derive(Debug, Clone, Serialize)]
pub struct LesionRow {
    pub reference: Reference,
    pub index: usize,
    pub lesion_pixels: usize,
    pub auc: Option<f64>,
    pub dice: f64,
}

/// The scores of every image at `threshold`.
pub fn score(
    images: &[LesionImage],
    maps: &[Vec<f32>],
    threshold: f32,
    reference: Reference,
) -> Vec<LesionRow> {
    images
        .iter()
        .zip(maps)
        .map(|(image, map)| {
            let (scores, positive): (Vec<f32>, Vec<bool>) = map
                .iter()
                .zip(&image.lesion)
                .zip(&image.region)
                .filter(|(_, &r)| r)
                .map(|((&v, &l), _)| (v, l))
                .unzip();
            LesionRow {
                reference,
                index: image.index,
                lesion_pixels: image.lesion.iter().filter(|&&l| l).count(),
                auc: roc_auc(&scores, &positive),
                dice: dice(map, &image.lesion, &image.region, threshold),
            }
        })
        .collect()
}

/// One reference's line of the table: the mean scores of its images.
#[derive(Debug, Clone, Serialize)]
pub struct LesionSummary {
    pub reference: Reference,
    /// What the reference is, as the table says it.
    pub description: &'static str,
    pub images: usize,
    /// Over the images whose AUC is defined (a lesion and brain outside it).
    pub auc_mean: f64,
    pub auc_std: f64,
    pub dice_mean: f64,
    pub dice_std: f64,
    /// The threshold of the Dice, in units of [-1, 1] images.
    pub threshold: f32,
}

impl LesionSummary {
    pub fn of(reference: Reference, scored: &[LesionRow], threshold: f32) -> Self {
        let aucs: Vec<f64> = scored.iter().filter_map(|r| r.auc).collect();
        let dices: Vec<f64> = scored.iter().map(|r| r.dice).collect();
        let ((auc_mean, auc_std), (dice_mean, dice_std)) = (mean_std(&aucs), mean_std(&dices));
        Self {
            reference,
            description: reference.describe(),
            images: scored.len(),
            auc_mean,
            auc_std,
            dice_mean,
            dice_std,
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

/// Four panels of one image: y, its healthy counterpart, the anomaly map (black to red to
/// yellow, full scale at twice the threshold), and y with the segmentation's outline in green
/// and the thresholded map's in red.
pub fn overlay(
    image: &LesionImage,
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
        let lesion_image = LesionImage {
            index: 0,
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
        let row = &score(one, &[perfect], threshold, Reference::Counterpart)[0];
        assert_eq!(row.auc, Some(1.0));
        assert!(row.dice > 0.9, "Dice {}", row.dice);
        assert_eq!(row.lesion_pixels, 36);
        let identity = anomaly_map(&image, &image, side, 1.0);
        let row = &score(one, &[identity], threshold, Reference::Counterpart)[0];
        assert_eq!(row.auc, Some(0.5));
        assert_eq!(row.dice, 0.0);
        // The median baseline: the brain is one intensity (0), its median; in the brain only
        // the lesion (0.9) differs from it, but so does the background outside (-1), which
        // the smoothing carries onto the brain's border: high, below the perfect counterpart.
        let median = median_image(&lesion_image);
        assert!(median.iter().all(|&v| v == 0.0));
        let map = anomaly_map(&image, &median, side, 1.0);
        let auc = score(one, &[map], threshold, Reference::Median)[0]
            .auc
            .unwrap();
        assert!((0.8..1.0).contains(&auc), "{auc}");
    }
}
