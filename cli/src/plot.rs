//! `dinfogan plot`: a run's training curves (`plot RUN_DIR`, or `plot curves RUN_DIR`: every
//! loss term and images/s from `metrics.csv`, with the separation accuracies over checkpoints
//! when `dinfogan eval separation --checkpoint RUN_DIR` has recorded some in `RUN_DIR/eval/`),
//! and maps of a model's codes (`plot codes`, in [`codes`]).

mod codes;
mod embedding;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dinfogan::{LossTerm, Network};

use crate::args::OutputFile;
use crate::draw::{draw_error, save_figure};
use crate::metrics::{Column, IMAGES_PER_SECOND_COLUMN};
use plotters::prelude::*;

const SIZE: (u32, u32) = (1600, 1000);
/// `plot compare`'s one panel.
const COMPARE_SIZE: (u32, u32) = (1200, 800);

/// `dinfogan plot RUN_DIR` draws the curves, as `dinfogan plot curves RUN_DIR` does.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PlotArgs {
    #[command(subcommand)]
    pub command: Option<PlotCommand>,
    #[command(flatten)]
    pub curves: CurvesArgs,
}

#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// Training curves of a run (every loss term, images/s) and its recorded separations.
    Curves(CurvesArgs),
    /// The salient and common codes of held-out images as 2-D maps (PCA, t-SNE), coloured by a
    /// label, with its separation accuracy.
    Codes(codes::CodesArgs),
    /// One loss term (or images/s) of several runs in one panel, a line per run: settings side
    /// by side.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders written by `dinfogan train` (each line is named by its folder).
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// The `metrics.csv` column to draw, e.g. `g_info` (a loss term's name) or
    /// `images_per_second`.
    #[arg(long)]
    pub term: String,
    /// The PNG to write.
    #[arg(long)]
    pub out: OutputFile,
    /// Average over this many steps (a moving window) before drawing; 1 draws the values raw.
    #[arg(long, default_value_t = 50)]
    pub smooth: usize,
}

#[derive(Debug, Args)]
pub struct CurvesArgs {
    /// A run folder written by `dinfogan train`.
    #[arg(required = true)]
    pub run: Option<PathBuf>,
    /// The PNG to write (default: RUN_DIR/curves.png).
    #[arg(long)]
    pub out: Option<OutputFile>,
    /// Average the losses over this many steps (a moving window) before drawing; 1 draws them raw.
    #[arg(long, default_value_t = 50)]
    pub smooth: usize,
}

/// The metrics of the run in `run`, with a sentence for a folder that has none (a cPCA fit
/// has no curves).
fn run_metrics(run: &Path) -> Result<(PathBuf, Vec<f64>, Vec<Column>)> {
    let dir = crate::run::RunDir::at(run);
    let metrics = dir.metrics();
    if !metrics.is_file() {
        if dir.config().is_ok_and(|c| !c.method.iterates()) {
            bail!(
                "{} holds a cPCA fit: it has no training curves (its alpha search is in cpca.json)",
                run.display()
            );
        }
        bail!(
            "{} has no metrics.csv: give a run folder written by `dinfogan train`",
            run.display()
        );
    }
    let (steps, columns) = crate::metrics::read(&metrics)?;
    if steps.is_empty() {
        bail!("{} has no steps yet", metrics.display());
    }
    Ok((metrics, steps, columns))
}

/// `plot compare`: the column `--term` of each run's metrics, smoothed, in one panel.
fn compare(args: CompareArgs) -> Result<()> {
    if args.smooth == 0 {
        bail!("--smooth must be at least 1");
    }
    let mut series = Vec::new();
    for run in &args.runs {
        let (metrics, steps, columns) = run_metrics(run)?;
        let Some(column) = columns.iter().find(|c| c.name == args.term) else {
            bail!(
                "{} has no column `{}`; its columns are {}",
                metrics.display(),
                args.term,
                columns
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let name = run
            .file_name()
            .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into());
        series.push(Series {
            name,
            points: steps
                .iter()
                .copied()
                .zip(moving_average(&column.values, args.smooth))
                .collect(),
        });
    }
    // Every run has steps (`run_metrics`): the panel spans the longest.
    let steps = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    let title = format!(
        "{} over {} runs (moving average of {} steps)",
        args.term,
        series.len(),
        args.smooth
    );
    save_figure(&args.out, COMPARE_SIZE, |root| {
        draw_panel(
            root,
            &title,
            &series,
            steps,
            SeriesLabelPosition::UpperRight,
        )
    })?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// One line of a panel: (step, value) points.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// Separation accuracies recorded per checkpoint: (space, label) -> [(step, accuracy)].
type Separation = BTreeMap<(String, String), Vec<(f64, f64)>>;

pub fn run(args: PlotArgs) -> Result<()> {
    match args.command {
        None => curves(args.curves),
        Some(PlotCommand::Curves(curves_args)) => curves(curves_args),
        Some(PlotCommand::Codes(codes_args)) => codes::run(codes_args),
        Some(PlotCommand::Compare(compare_args)) => compare(compare_args),
    }
}

fn curves(args: CurvesArgs) -> Result<()> {
    let Some(run) = args.run else {
        bail!("give the run folder to plot: `dinfogan plot RUN_DIR`");
    };
    if args.smooth == 0 {
        bail!("--smooth must be at least 1");
    }
    let dir = crate::run::RunDir::at(&run);
    let (_, steps, columns) = run_metrics(&run)?;
    let separation = read_separation(&dir.separation_records()?)?;
    let out = args
        .out
        .map_or_else(|| run.join("curves.png"), |out| out.to_path_buf());
    let pick = |wanted: &dyn Fn(&str) -> bool| -> Vec<Series> {
        columns
            .iter()
            // Terms switched off (weight 0) stay at zero: not drawn.
            .filter(|s| wanted(&s.name) && s.values.iter().any(|v| *v != 0.0))
            .map(|s| Series {
                name: s.name.clone(),
                points: steps
                    .iter()
                    .copied()
                    .zip(moving_average(&s.values, args.smooth))
                    .collect(),
            })
            .collect()
    };
    let network = |name: &str| LossTerm::from_name(name).map(LossTerm::network);
    // Double InfoGAN: G's terms, then D's and H's; a VAE baseline: its own terms, then T's.
    let vae = columns
        .iter()
        .any(|c| network(&c.name) == Some(Network::Vae));
    let (first, second) = if vae {
        ("VAE losses", "total-correlation discriminator (cVAE)")
    } else {
        ("generator losses", "discriminator and regulariser losses")
    };
    let mut panels = vec![
        (
            first.to_string(),
            pick(&|name| matches!(network(name), Some(Network::Generator | Network::Vae))),
        ),
        (
            second.to_string(),
            pick(&|name| {
                matches!(
                    network(name),
                    Some(Network::Discriminator | Network::Regulariser | Network::TotalCorrelation)
                )
            }),
        ),
        (
            "images per second".to_string(),
            pick(&|name| name == IMAGES_PER_SECOND_COLUMN),
        ),
    ];
    if !separation.is_empty() {
        let series = separation
            .iter()
            .map(|((space, label), points)| Series {
                name: format!("{label} from {space}"),
                points: points.clone(),
            })
            .collect();
        panels.push(("separation accuracy (eval separation)".to_string(), series));
    }

    let title = format!("{} ({} steps)", run.display(), steps[steps.len() - 1]);
    save_figure(&out, SIZE, |root| {
        let root = root
            .titled(&title, ("sans-serif", 26))
            .map_err(draw_error)?;
        let areas = root.split_evenly((2, 2));
        for (area, (title, series)) in areas.iter().zip(&panels) {
            // Evaluations come at the latest steps: their legend goes left, out of the way.
            let legend = if title.starts_with("separation") {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::UpperRight
            };
            draw_panel(
                area,
                title,
                series,
                (steps[0], steps[steps.len() - 1]),
                legend,
            )?;
        }
        Ok(())
    })?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    series: &[Series],
    steps: (f64, f64),
    legend: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let range = |pick: fn(&(f64, f64)) -> f64| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(pick))
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (lo, hi) = range(|p| p.1);
    if !lo.is_finite() {
        return Ok(());
    }
    // Every panel spans the whole run, so evaluations sit where they were made.
    let (x0, x1) = range(|p| p.0);
    let (x0, x1) = (x0.min(steps.0), x1.max(steps.1).max(x0 + 1.0));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_error)?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = s.points.iter().copied().filter(|(_, y)| y.is_finite());
        // A few points (evaluations) get markers: one alone draws no line.
        if s.points.len() <= 50 {
            chart
                .draw_series(points.clone().map(|p| Circle::new(p, 4, color.filled())))
                .map_err(draw_error)?;
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(draw_error)?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(legend)
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}

/// The recorded separation tables (`RunDir::separation_records`), in step order.
fn read_separation(files: &[(u64, PathBuf)]) -> Result<Separation> {
    let mut found = BTreeMap::new();
    for (step, path) in files {
        for row in crate::eval::separation::read_record(path)? {
            found
                .entry((row.space.to_string(), row.label))
                .or_insert_with(Vec::new)
                .push((*step as f64, row.mean));
        }
    }
    Ok(found)
}

/// The mean of the last `window` values at each point (fewer at the start).
fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::moving_average;

    #[test]
    fn moving_average_by_hand() {
        assert_eq!(
            moving_average(&[1.0, 3.0, 5.0, 7.0], 2),
            vec![1.0, 2.0, 4.0, 6.0]
        );
        assert_eq!(moving_average(&[2.0, 4.0], 1), vec![2.0, 4.0]);
    }
}
