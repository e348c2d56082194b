//! `dinfogan plot codes`: the salient and the common codes of held-out images side by side, each
//! as a 2-D map (PCA, and t-SNE), coloured by one label, with that label's separation accuracy
//! (`eval separation`'s cross-validated logistic regression) in each panel's title. What users
//! of contrastive methods look at first: one blob, or classes apart.

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use plotters::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use super::embedding::{pca, tsne, TSNE_MIN_ROWS};
use crate::args::{at_least_one, OutputFile};
use crate::data::commands::slug;
use crate::draw::{draw_error, save_figure};
use crate::eval::separation::{
    encode_images, eval_set, label_rows, Codes, Label, ScoringArgs, SeparationRow, Space,
};
use crate::model::ModelArgs;

#[derive(Debug, Args)]
pub struct CodesArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// The label that colours the points: its name, or the start of one (`x` for `x (4 bins)`;
    /// `target` colours background against target).
    #[arg(long)]
    pub label: String,
    /// Points drawn: a random sample of the images the label is scored on (all of them when
    /// fewer). The accuracies in the titles use all of them.
    #[arg(long, default_value_t = 2000, value_parser = at_least_one)]
    pub points: usize,
    /// Seed of that sample.
    #[arg(long, default_value_t = 0)]
    pub sample_seed: u64,
    /// The maps to draw, one row of the figure each.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Map::Pca, Map::Tsne])]
    pub maps: Vec<Map>,
    /// The PNG to write (default: RUN_DIR/codes-LABEL.png for a run folder, codes-LABEL.png in
    /// the current folder for a model file).
    #[arg(long)]
    pub out: Option<OutputFile>,
}

/// A 2-D map of codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Map {
    /// The first two principal axes (their share of the variance on the axes).
    Pca,
    /// t-SNE started from the PCA map (perplexity 30): neighbourhoods, not distances.
    Tsne,
}

impl Map {
    fn title(self) -> &'static str {
        match self {
            Self::Pca => "PCA",
            Self::Tsne => "t-SNE",
        }
    }
}

/// The label `wanted` names: an exact name, or the one label it starts.
fn find_label<'a>(labels: &'a [Label], wanted: &str) -> Result<&'a Label> {
    if let Some(label) = labels.iter().find(|l| l.spec.name == wanted) {
        return Ok(label);
    }
    let names = || {
        labels
            .iter()
            .map(|l| format!("`{}`", l.spec.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matches: Vec<&Label> = labels
        .iter()
        .filter(|l| l.spec.name.starts_with(wanted))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => bail!(
            "this data has no label `{wanted}`; its labels are {}",
            names()
        ),
        _ => bail!(
            "`{wanted}` starts several labels ({}): give more of the name",
            matches
                .iter()
                .map(|l| format!("`{}`", l.spec.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Colours of the classes: the ten of matplotlib's `tab10` (what users of scikit-learn and
/// scanpy know), then plotters' 99-colour palette.
fn class_colour(k: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    match TAB10.get(k) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(k).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// One panel: a space's map.
struct Panel {
    space: Space,
    map: Map,
    coords: Vec<[f64; 2]>,
    /// PCA: the axes' shares of the variance.
    explained: Option<[f64; 2]>,
    row: SeparationRow,
}

pub fn run(args: CodesArgs) -> Result<()> {
    args.scoring.check()?;
    let ScoringArgs {
        ref data,
        count,
        folds,
        fold_seed,
        encoder,
    } = args.scoring;
    let model = args.model.load()?;
    let set = eval_set(&model, data, count)?;
    let label = find_label(&set.labels, &args.label)?;
    let (z, s) = encode_images(&model, set.images.len(), |i| set.images[i].clone(), encoder)?;
    let Some([row_s, row_z]) = label_rows(label, &z, &s, folds, fold_seed, encoder)? else {
        bail!(
            "`{}` has fewer than two classes on the images it is scored on: nothing to colour",
            label.spec.name
        );
    };
    // The drawn sample, in a random order so that no class is always drawn on top (the points
    // are opaque: a PNG of few colours stays small).
    let mut picked: Vec<(usize, usize)> = label
        .classes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .collect();
    let scored = picked.len();
    picked.shuffle(&mut StdRng::seed_from_u64(args.sample_seed));
    picked.truncate(args.points);
    let mut panels = Vec::new();
    for map in dedup(&args.maps) {
        for (space, codes, row) in [(Space::S, &s, &row_s), (Space::Z, &z, &row_z)] {
            let rows: Codes = picked.iter().map(|&(i, _)| codes[i].clone()).collect();
            let start = pca(&rows);
            let (coords, explained) = match map {
                Map::Pca => (start.coords, Some(start.explained)),
                Map::Tsne => match tsne(&rows, &start.coords) {
                    Some(coords) => (coords, None),
                    None => bail!(
                        "a t-SNE map needs at least {TSNE_MIN_ROWS} points, not {}: raise \
                         --points or --count, or ask for --maps pca",
                        rows.len()
                    ),
                },
            };
            panels.push(Panel {
                space,
                map,
                coords,
                explained,
                row: row.clone(),
            });
        }
    }
    let out = match &args.out {
        Some(out) => out.to_path_buf(),
        None => {
            let name = format!("codes-{}.png", slug(&label.spec.name));
            if args.model.checkpoint.is_dir() {
                args.model.checkpoint.join(name)
            } else {
                name.into()
            }
        }
    };
    let title = format!(
        "{}: codes of {} of {scored} {} images, coloured by `{}` (encoder in {} mode)",
        args.model.checkpoint.display(),
        picked.len(),
        data,
        label.spec.name,
        encoder.describe(),
    );
    let classes: Vec<usize> = picked.iter().map(|&(_, c)| c).collect();
    draw(&out, &title, &panels, &classes, label)?;
    for row in [&row_s, &row_z] {
        eprintln!(
            "`{}` read from {} at {:.3} ± {:.3} (majority class {:.3})",
            row.label, row.space, row.mean, row.std, row.chance
        );
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The maps in the order asked, each once.
fn dedup(maps: &[Map]) -> Vec<Map> {
    let mut out = Vec::new();
    for &m in maps {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

const PANEL: (u32, u32) = (800, 760);

fn draw(
    out: &std::path::Path,
    title: &str,
    panels: &[Panel],
    classes: &[usize],
    label: &Label,
) -> Result<()> {
    let rows = panels.len().div_ceil(2) as u32;
    let size = (2 * PANEL.0, rows * PANEL.1 + 50);
    let mut present: Vec<usize> = classes.to_vec();
    present.sort_unstable();
    present.dedup();
    save_figure(out, size, |root| {
        let root = root.titled(title, ("sans-serif", 22)).map_err(draw_error)?;
        let areas = root.split_evenly((rows as usize, 2));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel, classes, &present, label)?;
        }
        Ok(())
    })
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    classes: &[usize],
    present: &[usize],
    label: &Label,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let r = &panel.row;
    let caption = format!(
        "{} ({}): {} read at {:.3} ± {:.3}, majority {:.3} ({})",
        panel.space,
        panel.map.title(),
        r.label,
        r.mean,
        r.std,
        r.chance,
        match r.wanted {
            crate::eval::separation::Wanted::High => "want high",
            crate::eval::separation::Wanted::Chance => "want chance",
        }
    );
    let range = |axis: usize| {
        let (lo, hi) = panel
            .coords
            .iter()
            .map(|c| c[axis])
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            return -1.0..1.0;
        }
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad)..(hi + pad)
    };
    let axis_name = |k: usize| match (panel.map, panel.explained) {
        (Map::Pca, Some(e)) => format!("PC{} ({:.0}% of the variance)", k + 1, 100.0 * e[k]),
        _ => format!("{} {}", panel.map.title(), k + 1),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(range(0), range(1))
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(axis_name(0))
        .y_desc(axis_name(1))
        // No minor grid: it would hide the points.
        .light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(draw_error)?;
    let radius = if classes.len() > 1000 { 2 } else { 3 };
    chart
        .draw_series(
            panel
                .coords
                .iter()
                .zip(classes)
                .filter(|(c, _)| c[0].is_finite() && c[1].is_finite())
                .map(|(c, &k)| Circle::new((c[0], c[1]), radius, class_colour(k).filled())),
        )
        .map_err(draw_error)?;
    // The legend: one empty series per class present, named as the data names it.
    for &k in present {
        let colour = class_colour(k);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(draw_error)?
            .label(label.class_name(k))
            .legend(move |(x, y)| Circle::new((x + 6, y), 5, colour.filled()));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::file::LabelSpec;

    #[test]
    fn labels_by_name_or_start() {
        let label = |name: &str| Label {
            spec: LabelSpec::salient(name),
            classes: Vec::new(),
            names: Vec::new(),
        };
        let labels = [
            label("target"),
            label("x (4 bins)"),
            label("scale"),
            label("scale (6 levels)"),
        ];
        assert_eq!(find_label(&labels, "x").unwrap().spec.name, "x (4 bins)");
        assert_eq!(find_label(&labels, "scale").unwrap().spec.name, "scale");
        let err = find_label(&labels, "s").unwrap_err().to_string();
        assert!(
            err.contains("several labels") && err.contains("`scale (6 levels)`"),
            "{err}"
        );
        let err = find_label(&labels, "hue").unwrap_err().to_string();
        assert!(
            err.contains("no label `hue`") && err.contains("`target`"),
            "{err}"
        );
        assert_eq!(slug("x (4 bins)"), "x-4-bins");
        assert_eq!(class_colour(0), RGBColor(31, 119, 180));
    }
}
