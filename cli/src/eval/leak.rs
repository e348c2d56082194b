//! Where the codes of generated images come from: G(z_r, s_c) over a grid of R common codes
//! (rows) and C salient codes (columns), encoded back into (ẑ, ŝ). The share of the variance
//! of ẑ that the row explains says how much of z the encoder recovers; the share the column
//! explains is salient information in ẑ, which the info loss Qz(G(z, s)) = z (eq. 6) should
//! remove. A separating model has ẑ explained by the rows and ŝ by the columns.

use anyhow::{bail, Result};
use clap::Args;

use super::show_and_keep;
use serde::Serialize;

use crate::args::{at_least_one, OutputFile};
use crate::markdown;
use crate::model::ModelArgs;

use crate::io::read;

/// Shares of the total variance of some codes explained by the rows and by the columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    pub rows: f64,
    pub columns: f64,
}

/// `codes[r * cols + c]`: the codes of image (r, c). The share of each factor is the variance
/// of the group means (every image given its row's, or column's, mean), summed over the
/// dimensions, over the total variance.
pub fn variance_shares(codes: &[Vec<f32>], rows: usize, cols: usize) -> Shares {
    let dims = codes.first().map_or(0, Vec::len);
    let n = (rows * cols) as f64;
    let mut total = 0.0;
    let (mut by_row, mut by_col) = (0.0, 0.0);
    for d in 0..dims {
        let column: Vec<f64> = codes.iter().map(|code| code[d] as f64).collect();
        let value = |r: usize, c: usize| column[r * cols + c];
        let mean = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| value(r, c))
            .sum::<f64>()
            / n;
        for r in 0..rows {
            for c in 0..cols {
                total += (value(r, c) - mean).powi(2) / n;
            }
        }
        for r in 0..rows {
            let m = (0..cols).map(|c| value(r, c)).sum::<f64>() / cols as f64;
            by_row += (m - mean).powi(2) / rows as f64;
        }
        for c in 0..cols {
            let m = (0..rows).map(|r| value(r, c)).sum::<f64>() / rows as f64;
            by_col += (m - mean).powi(2) / cols as f64;
        }
    }
    let total = total.max(f64::MIN_POSITIVE);
    Shares {
        rows: by_row / total,
        columns: by_col / total,
    }
}

/// (ẑ shares, ŝ shares) of G(z_r, s_c) for `rows` x `cols` latents drawn from the seeds.
pub fn leak(
    model: &dinfogan::InferenceModel,
    rows: usize,
    cols: usize,
    seed: u64,
) -> Result<(Shares, Shares)> {
    if rows < 2 || cols < 2 {
        bail!("--rows and --cols must be at least 2");
    }
    let c = model.config();
    let (l, m) = (c.common_dim, c.salient_dim);
    // One more column: the grid's first column is the background (s = 0), left out here.
    let (common, salient) = dinfogan::infer::grid_latents(
        c,
        model.salient_prior(),
        rows,
        cols + 1,
        seed,
        seed.wrapping_add(1),
    );
    let targets: Vec<usize> = (0..rows * (cols + 1))
        .filter(|i| i % (cols + 1) != 0)
        .collect();
    let (mut z, mut s) = (Vec::new(), Vec::new());
    for chunk in targets.chunks(128) {
        let pick = |values: &[f32], width: usize| -> Vec<f32> {
            chunk
                .iter()
                .flat_map(|&i| values[i * width..(i + 1) * width].iter().copied())
                .collect()
        };
        let images = model.generate_from(&pick(&common, l), &pick(&salient, m))?;
        let (zc, sc) = model.encode(images)?;
        z.extend(read(zc)?.chunks(l).map(<[f32]>::to_vec));
        s.extend(read(sc)?.chunks(m).map(<[f32]>::to_vec));
    }
    Ok((
        variance_shares(&z, rows, cols),
        variance_shares(&s, rows, cols),
    ))
}

#[derive(Debug, Args)]
pub struct LeakArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Common codes z (rows of the grid).
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub rows: usize,
    /// Salient codes s (columns of the grid).
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub cols: usize,
    /// Also write the result as Markdown.
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Print the shares as one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn leak_command(args: LeakArgs) -> Result<()> {
    let model = args.model.load()?;
    let (z, s) = leak(&model, args.rows, args.cols, args.model.seed)?;
    let report = LeakReport {
        checkpoint: args.model.checkpoint.display().to_string(),
        z_codes: args.rows,
        s_codes: args.cols,
        seed: args.model.seed,
        common_codes: z.into(),
        salient_codes: s.into(),
    };
    show_and_keep(args.json, &report, &report.text(), args.out.as_deref())
}

/// `eval leak`: the shares of variance and the grid they come from; the text and `--json`
/// come from it.
#[derive(Debug, Serialize)]
struct LeakReport {
    checkpoint: String,
    /// Common codes z (rows of the grid).
    z_codes: usize,
    /// Salient codes s (columns of the grid).
    s_codes: usize,
    seed: u64,
    /// ẑ = Qz(G(z, s)).
    common_codes: ExplainedBy,
    /// ŝ = Qs(G(z, s)).
    salient_codes: ExplainedBy,
}

/// Shares of the variance of some codes of G(z, s) explained by z and by s.
#[derive(Debug, Serialize)]
struct ExplainedBy {
    by_z: f64,
    by_s: f64,
}

impl From<Shares> for ExplainedBy {
    /// The grid's rows are the z, its columns the s.
    fn from(shares: Shares) -> Self {
        Self {
            by_z: shares.rows,
            by_s: shares.columns,
        }
    }
}

impl LeakReport {
    fn text(&self) -> String {
        let (z, s) = (&self.common_codes, &self.salient_codes);
        let mut table = markdown::Table::new(["codes", "by z", "by s"]);
        for (codes, shares) in [("ẑ = Qz(G(z, s))", z), ("ŝ = Qs(G(z, s))", s)] {
            table.row([
                codes.to_string(),
                format!("{:.2}", shares.by_z),
                format!("{:.2}", shares.by_s),
            ]);
        }
        format!(
            "Codes of generated targets G(z_r, s_c), {} z x {} s (seed {}): share of their variance \
             explained by z and by s. A separating model has z-codes explained by z, s-codes by s.\n\n{table}",
            self.z_codes, self.s_codes, self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_by_hand() {
        // Code = (row, column, row + column) on a 2 x 2 grid: dimension 0 varies with the
        // row only, 1 with the column only, 2 with both (variances 0.25, 0.25, 0.5).
        let codes: Vec<Vec<f32>> = (0..2)
            .flat_map(|r| (0..2).map(move |c| vec![r as f32, c as f32, (r + c) as f32]))
            .collect();
        let shares = variance_shares(&codes, 2, 2);
        assert!((shares.rows - 0.5).abs() < 1e-12, "{shares:?}");
        assert!((shares.columns - 0.5).abs() < 1e-12, "{shares:?}");
        let rows_only: Vec<Vec<f32>> = (0..3)
            .flat_map(|r| (0..4).map(move |_| vec![r as f32]))
            .collect();
        let shares = variance_shares(&rows_only, 3, 4);
        assert_eq!((shares.rows, shares.columns), (1.0, 0.0));
    }
}
