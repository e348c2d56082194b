//! `dinfogan eval swap`: does the salient code put the target's salient object where it was, at
//! its size? A measure the paper lacks, for data whose salient object is known (the built-in
//! sprite, dSprites-MNIST's sprite): for a target y with codes (z_y, s_y) and a background x
//! with z_x, the object the model draws is what s_y adds to an image, the difference
//! G(z, s_y) - G(z, 0), read on the target's own common code (`self`: what a healthy
//! counterpart removes) and on a background's (`swap`: what G(z_x, s_y) adds to x). Its pixels
//! above a threshold are compared with the true sprite drawn from the target's factors.

use anyhow::{bail, Result};
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::{Domain, SpriteFactors};
use dinfogan::InferenceModel;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::Serialize;

use super::{show_and_keep_table, to_csv};
use crate::args::{at_least_one, OutputFile};
use crate::data::{Data, DataSpec, Source};
use crate::io::read;
use crate::markdown;
use crate::model::ModelArgs;

/// Images per generator call.
const BATCH: usize = 128;

/// Where a target's sprite is: its factors as the built-in data and dSprites-MNIST files give them.
pub fn true_sprite(data: &Data, index: usize) -> Result<Option<SpriteFactors>> {
    match &data.source {
        Source::Builtin(d) => Ok(d.factors(Domain::Target, index).sprite),
        Source::File { file, .. } => {
            let names: Vec<&str> = file
                .header
                .factor_names
                .iter()
                .map(String::as_str)
                .collect();
            if names != ["shape", "scale", "orientation", "x", "y"] {
                bail!(
                    "eval swap needs targets whose salient object is known: the built-in data or a \
                     dSprites-MNIST file (`dinfogan data build dsprites-mnist`); this file's \
                     factors are {names:?}"
                );
            }
            let k = data
                .file_index(Domain::Target, index)
                .expect("a file source");
            let f = file.factors_of(k);
            if f.iter().any(|v| !v.is_finite()) {
                return Ok(None);
            }
            let factors = crate::data::dsprites::SpriteFactors {
                shape: f[0] as usize,
                scale: f[1],
                orientation: f[2],
                x: f[3],
                y: f[4],
            };
            match crate::data::dsprites::drawn_sprite(factors) {
                Some(sprite) => Ok(Some(sprite)),
                None => bail!(
                    "target {k} of the file has shape {} (0, 1 or 2 expected)",
                    f[0]
                ),
            }
        }
        Source::Folder { .. } => bail!(
            "eval swap needs targets whose salient object is known (the built-in data or a \
             dSprites-MNIST file); an image folder has no factors"
        ),
    }
}

/// How one drawn object compares with the true one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Placement {
    /// Some pixel of the difference exceeds the threshold.
    pub drawn: bool,
    /// Intersection over union of the drawn and the true masks.
    pub iou: f64,
    /// Drawn area over true area.
    pub area_ratio: f64,
    /// Distance between the two masks' centres, in pixels (`None` when nothing was drawn).
    pub centre_error: Option<f64>,
}

/// Compares the mask `difference > threshold` (one value per pixel) with `truth` (row-major,
/// `side x side`, true where the sprite is).
pub fn placement(difference: &[f32], truth: &[bool], side: usize, threshold: f32) -> Placement {
    let drawn: Vec<bool> = difference.iter().map(|&d| d > threshold).collect();
    let count = |mask: &[bool]| mask.iter().filter(|&&m| m).count();
    let (n_drawn, n_true) = (count(&drawn), count(truth));
    let both = drawn.iter().zip(truth).filter(|(a, b)| **a && **b).count();
    let union = n_drawn + n_true - both;
    let centre = |mask: &[bool]| {
        let (mut x, mut y, mut n) = (0.0, 0.0, 0.0);
        for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
            x += (i % side) as f64 + 0.5;
            y += (i / side) as f64 + 0.5;
            n += 1.0;
        }
        (n > 0.0).then(|| (x / n, y / n))
    };
    let centre_error = match (centre(&drawn), centre(truth)) {
        (Some(a), Some(b)) => Some(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()),
        _ => None,
    };
    Placement {
        drawn: n_drawn > 0,
        iou: if union == 0 {
            0.0
        } else {
            both as f64 / union as f64
        },
        area_ratio: n_drawn as f64 / n_true.max(1) as f64,
        centre_error,
    }
}

/// One row of the table: the object drawn on one kind of common code.
#[derive(Debug, Clone, Serialize)]
pub struct SwapRow {
    /// `self`: G(z_y, s_y) - G(z_y, 0); `swap`: G(z_x, s_y) - G(z_x, 0).
    pub on: &'static str,
    pub targets: usize,
    /// Share of targets whose object is drawn at all.
    pub drawn: f64,
    /// Mean IoU with the true sprite (0 when nothing is drawn).
    pub iou: f64,
    /// Median drawn area over true area.
    pub area_ratio: f64,
    /// Mean distance between the centres, in pixels, over the targets whose object is drawn.
    pub centre_error: f64,
}

fn summarise(on: &'static str, rows: &[Placement]) -> SwapRow {
    let n = rows.len().max(1) as f64;
    let mut ratios: Vec<f64> = rows.iter().map(|p| p.area_ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let errors: Vec<f64> = rows.iter().filter_map(|p| p.centre_error).collect();
    SwapRow {
        on,
        targets: rows.len(),
        drawn: rows.iter().filter(|p| p.drawn).count() as f64 / n,
        iou: rows.iter().map(|p| p.iou).sum::<f64>() / n,
        area_ratio: ratios.get(ratios.len() / 2).copied().unwrap_or(0.0),
        centre_error: if errors.is_empty() {
            f64::NAN
        } else {
            errors.iter().sum::<f64>() / errors.len() as f64
        },
    }
}

/// Per-pixel mean over channels of |a - b|, per image, from two `[n, c, s, s]` tensors.
fn differences(a: Tensor<4>, b: Tensor<4>) -> Result<Vec<Vec<f32>>> {
    let [n, _, h, w] = a.dims();
    let values = read((a - b).abs().mean_dim(1))?;
    Ok(values.chunks(h * w).take(n).map(<[f32]>::to_vec).collect())
}

/// The table for `targets` (indices of target images) paired in order with `backgrounds`.
pub fn swap_table(
    model: &InferenceModel,
    data: &Data,
    targets: &[usize],
    backgrounds: &[usize],
    threshold: f32,
) -> Result<Vec<SwapRow>> {
    if !model.generates() {
        bail!("eval swap needs a model with a generator (cPCA has none)");
    }
    let c = model.config();
    let side = c.image_size;
    let batch = |domain: Domain, indices: &[usize]| {
        let pixels: Vec<f32> = indices
            .iter()
            .flat_map(|&i| data.image(domain, i))
            .collect();
        dinfogan::pixels::batch(pixels, indices.len(), c.channels, side, model.device())
    };
    let (mut own, mut swapped) = (Vec::new(), Vec::new());
    for (t, b) in targets.chunks(BATCH).zip(backgrounds.chunks(BATCH)) {
        let (z_y, s_y) = model.encode(batch(Domain::Target, t)?)?;
        let (z_x, _) = model.encode(batch(Domain::Background, b)?)?;
        let zero = s_y.zeros_like();
        let on_y = differences(
            model.generate(z_y.clone(), s_y.clone())?,
            model.generate(z_y, zero.clone())?,
        )?;
        let on_x = differences(
            model.generate(z_x.clone(), s_y)?,
            model.generate(z_x, zero)?,
        )?;
        for (k, &i) in t.iter().enumerate() {
            let Some(sprite) = true_sprite(data, i)? else {
                continue;
            };
            let truth: Vec<bool> = sprite.coverage(side, 4).iter().map(|&v| v > 0.5).collect();
            own.push(placement(&on_y[k], &truth, side, threshold));
            swapped.push(placement(&on_x[k], &truth, side, threshold));
        }
    }
    if own.is_empty() {
        bail!("no target with a known salient object to score");
    }
    Ok(vec![summarise("self", &own), summarise("swap", &swapped)])
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// `builtin` (a held-out set of the built-in data) or a dSprites-MNIST dataset file.
    #[arg(long, default_value = "builtin")]
    pub data: DataSpec,
    /// Targets scored, a seeded random sample (each paired with a random background).
    #[arg(long, default_value_t = 500, value_parser = at_least_one)]
    pub count: usize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    pub sample_seed: u64,
    /// A pixel belongs to the drawn object when the difference, averaged over channels, exceeds
    /// this (in units of [-1, 1] images; dSprites-MNIST's sprite adds at least 1).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Write the table to PREFIX.csv and PREFIX.md.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the table as one JSON document on stdout instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

pub fn swap_command(args: SwapArgs) -> Result<()> {
    if !(args.threshold.is_finite() && args.threshold > 0.0) {
        bail!(
            "--threshold must be a positive number, not {}",
            args.threshold
        );
    }
    let model = args.model.load()?;
    let c = model.config().clone();
    // The built-in data: the held-out set `eval separation` scores.
    let data = crate::data::Data::open(
        &args.data,
        c.image_size,
        c.channels,
        super::separation::BUILTIN_EVAL_SEED,
    )?;
    let n = args.count.min(data.len(Domain::Target));
    let targets = crate::data::sample_in_order(data.len(Domain::Target), Some(n), args.sample_seed);
    let mut backgrounds = crate::data::sample_in_order(
        data.len(Domain::Background),
        Some(n),
        args.sample_seed.wrapping_add(1),
    );
    backgrounds.shuffle(&mut StdRng::seed_from_u64(args.sample_seed));
    let report = SwapReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        data: args.data.to_string(),
        sample_seed: args.sample_seed,
        threshold: args.threshold,
        rows: swap_table(&model, &data, &targets, &backgrounds, args.threshold)?,
    };
    show_and_keep_table(
        args.json,
        &report,
        &report.markdown(),
        &to_csv(&report.rows)?,
        args.out.as_deref(),
    )
}

/// `eval swap`: the table and what it was computed on; the Markdown and `--json` come from it.
#[derive(Debug, Serialize)]
struct SwapReport {
    checkpoint: String,
    data: String,
    /// Seed of the random sample of targets (and of the backgrounds they are paired with).
    sample_seed: u64,
    /// The difference above which a pixel belongs to the drawn object.
    threshold: f32,
    /// `self` (the target's own z), then `swap` (a background's z); each says how many
    /// targets (those with a known object) it scored.
    rows: Vec<SwapRow>,
}

impl SwapReport {
    fn markdown(&self) -> String {
        let mut table = markdown::Table::new([
            "on",
            "targets",
            "drawn",
            "IoU",
            "area ratio (median)",
            "centre error (px)",
        ]);
        for r in &self.rows {
            table.row([
                r.on.to_string(),
                r.targets.to_string(),
                format!("{:.2}", r.drawn),
                format!("{:.2}", r.iou),
                format!("{:.2}", r.area_ratio),
                format!("{:.2}", r.centre_error),
            ]);
        }
        format!(
            "The object s_y draws, G(z, s_y) - G(z, 0) above {}, against the true sprite ({} targets, \
             seed {}); `self`: on the target's own z, `swap`: on a background's z.\n\n{table}",
            self.threshold, self.rows[0].targets, self.sample_seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(side: usize, cells: &[(usize, usize)]) -> Vec<bool> {
        let mut m = vec![false; side * side];
        for &(row, col) in cells {
            m[row * side + col] = true;
        }
        m
    }

    #[test]
    fn placement_by_hand() {
        // Truth: a 2x2 square at rows 1-2, cols 1-2 of a 4x4 image; drawn: rows 1-2, cols 2-3.
        let truth = mask(4, &[(1, 1), (1, 2), (2, 1), (2, 2)]);
        let drawn = mask(4, &[(1, 2), (1, 3), (2, 2), (2, 3)]);
        let difference: Vec<f32> = drawn.iter().map(|&d| if d { 1.0 } else { 0.1 }).collect();
        let p = placement(&difference, &truth, 4, 0.5);
        assert!(p.drawn);
        // Intersection 2, union 6; same area; centres one column apart.
        assert!((p.iou - 2.0 / 6.0).abs() < 1e-12, "{p:?}");
        assert_eq!(p.area_ratio, 1.0);
        assert!((p.centre_error.unwrap() - 1.0).abs() < 1e-12);
        // Nothing above the threshold: not drawn, no centre.
        let p = placement(&[0.2; 16], &truth, 4, 0.5);
        assert_eq!(
            p,
            Placement {
                drawn: false,
                iou: 0.0,
                area_ratio: 0.0,
                centre_error: None
            }
        );
        // A blob four times the sprite's area around it: IoU 1/4, ratio 4, centred.
        let blob = mask(
            4,
            &(0..4)
                .flat_map(|r| (0..4).map(move |c| (r, c)))
                .collect::<Vec<_>>(),
        );
        let difference: Vec<f32> = blob.iter().map(|_| 1.0).collect();
        let p = placement(&difference, &truth, 4, 0.5);
        assert!((p.iou - 0.25).abs() < 1e-12 && p.area_ratio == 4.0);
        assert!(p.centre_error.unwrap() < 1e-12);
    }

    #[test]
    fn summaries_average_what_they_say() {
        let rows = [
            Placement {
                drawn: true,
                iou: 0.5,
                area_ratio: 2.0,
                centre_error: Some(1.0),
            },
            Placement::default(),
            Placement {
                drawn: true,
                iou: 0.7,
                area_ratio: 1.0,
                centre_error: Some(3.0),
            },
        ];
        let s = summarise("swap", &rows);
        assert!((s.drawn - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.iou - 0.4).abs() < 1e-12);
        assert_eq!(s.area_ratio, 1.0, "the median of 0, 1, 2");
        assert_eq!(s.centre_error, 2.0, "over the drawn ones");
    }
}
