//! `dinfogan eval compare RUN...`: Double InfoGAN and the baselines side by side, in the layout
//! of the paper's Table 2: a row per model (method and latent sizes), for each label and space
//! the best, average and worst accuracy over that model's runs (seeds), and how many of its runs
//! diverged; and one sheet of the same test images reconstructed and swapped by every model
//! (the paper's Figs. 3, 5 and 8).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::Domain;
use dinfogan::{InferenceModel, Method};
use serde::Serialize;

use super::separation::{Space, Wanted};
use super::{
    best_average_worst, to_csv, FactorVaeSets, ReferenceOptions, RunAccuracies, SeparationOptions,
};
use crate::args::{at_least_one, OutputFile};
use crate::data::Data;
use crate::images;
use crate::run::RunDir;
use crate::tools::load_model;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders (or exported model files) of any methods, e.g. three seeds of each: runs of
    /// the same method and latent sizes are one model.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: SeparationOptions,
    /// Also write one sheet of the same test images reconstructed and swapped by every model
    /// (its first run that finished) to this PNG.
    #[arg(long)]
    pub sheet: Option<OutputFile>,
    /// Background and target images on the sheet.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub columns: usize,
    /// Also score each run's salient codes by FactorVAE on this grouped set (from `dinfogan
    /// data build dsprites-mnist-groups`): a column of held-out scores.
    #[arg(long)]
    pub factorvae: Option<PathBuf>,
    #[command(flatten)]
    pub reference: ReferenceOptions,
}

/// A model of the comparison: runs of one method with the same latent sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Model {
    method: Method,
    common_dim: usize,
    salient_dim: usize,
}

impl Model {
    fn of(model: &InferenceModel) -> Self {
        Self {
            method: model.method(),
            common_dim: model.config().common_dim,
            salient_dim: model.config().salient_dim,
        }
    }

    fn label(self) -> String {
        format!(
            "{} (L = {}, M = {})",
            self.method.label(),
            self.common_dim,
            self.salient_dim
        )
    }
}

/// What the runs of one model gave.
#[derive(Debug, Default)]
struct Results {
    /// Runs evaluated (they finished, or were stopped by the user).
    finished: Vec<PathBuf>,
    /// Runs that stopped on a non-finite loss.
    diverged: usize,
    /// The finished runs' accuracies.
    accuracies: RunAccuracies,
    /// The finished runs' FactorVAE scores on held-out groups (with `--factorvae`).
    factorvae: Vec<f64>,
}

/// The CSV's label of the FactorVAE score (of the salient codes, on held-out groups).
const FACTORVAE_LABEL: &str = "FactorVAE (held-out groups)";

/// One line of the CSV: one model, one label, one space.
#[derive(Debug, Serialize)]
struct CompareRow {
    model: String,
    method: Method,
    space: Space,
    label: String,
    best: f64,
    average: f64,
    worst: f64,
    runs: usize,
    diverged: usize,
    desired: Wanted,
}

pub fn compare_command(args: CompareArgs) -> Result<()> {
    args.options.check()?;
    let factorvae = match &args.factorvae {
        Some(groups) => Some(FactorVaeSets::open(groups, &args.reference)?),
        None => None,
    };
    let cpu = crate::backend::select(crate::backend::Backend::Cpu)?.device;
    let mut models: BTreeMap<Model, Results> = BTreeMap::new();
    // (space, label) in the order the first evaluated run gave them.
    let mut order: Vec<(Space, String)> = Vec::new();
    for run in &args.runs {
        if run.is_dir() {
            let dir = RunDir::at(run);
            if let Some(divergence) = dir.divergence()? {
                let config = dir.config()?;
                let model = Model {
                    method: config.method,
                    common_dim: config.model.common_dim,
                    salient_dim: config.model.salient_dim,
                };
                eprintln!(
                    "{}: diverged at step {} ({} = {}), counted as such",
                    run.display(),
                    divergence.step,
                    divergence.term,
                    divergence.value
                );
                models.entry(model).or_default().diverged += 1;
                continue;
            }
        }
        let model = load_model(run, &cpu)?;
        eprintln!("evaluating {} ({})", run.display(), model.method().label());
        let results = models.entry(Model::of(&model)).or_default();
        results.accuracies.add(args.options.table(&model)?);
        if let Some(sets) = &factorvae {
            results.factorvae.push(sets.score(&model)?.held_out);
        }
        for key in &results.accuracies.order {
            if !order.contains(key) {
                order.push(key.clone());
            }
        }
        results.finished.push(run.clone());
    }

    let mut markdown = format!(
        "Separation: best / average / worst accuracy over the runs of each model ({} runs)\n\n| model | runs | diverged |",
        args.runs.len()
    );
    for (space, label) in &order {
        let wanted = models
            .values()
            .find_map(|r| r.accuracies.by_label.get(&(*space, label.clone())))
            .map(|(w, _)| *w)
            .expect("an ordered key has results");
        markdown += &format!(" {label} from {space} {} |", wanted.arrow());
    }
    if factorvae.is_some() {
        markdown += &format!(" {FACTORVAE_LABEL} {} |", Wanted::High.arrow());
    }
    markdown += "\n|---|---|---|";
    markdown += &"---|".repeat(order.len() + usize::from(factorvae.is_some()));
    markdown += "\n";
    let mut rows = Vec::new();
    for (model, results) in &models {
        markdown += &format!(
            "| {} | {} | {} |",
            model.label(),
            results.finished.len() + results.diverged,
            results.diverged
        );
        for key in &order {
            let Some((wanted, means)) = results.accuracies.by_label.get(key) else {
                markdown += " – |";
                continue;
            };
            let (best, average, worst) = best_average_worst(*wanted, means);
            markdown += &format!(" {best:.3} / {average:.3} / {worst:.3} |");
            rows.push(CompareRow {
                model: model.label(),
                method: model.method,
                space: key.0,
                label: key.1.clone(),
                best,
                average,
                worst,
                runs: means.len(),
                diverged: results.diverged,
                desired: *wanted,
            });
        }
        if factorvae.is_some() {
            if results.factorvae.is_empty() {
                markdown += " – |";
            } else {
                let (best, average, worst) = best_average_worst(Wanted::High, &results.factorvae);
                markdown += &format!(" {best:.3} / {average:.3} / {worst:.3} |");
                rows.push(CompareRow {
                    model: model.label(),
                    method: model.method,
                    space: Space::S,
                    label: FACTORVAE_LABEL.into(),
                    best,
                    average,
                    worst,
                    runs: results.factorvae.len(),
                    diverged: results.diverged,
                    desired: Wanted::High,
                });
            }
        }
        markdown += "\n";
    }
    args.options.report(&markdown, &to_csv(&rows)?)?;

    if let Some(path) = &args.sheet {
        let first: Vec<(Model, PathBuf)> = models
            .iter()
            .filter_map(|(m, r)| r.finished.first().map(|p| (*m, p.clone())))
            .collect();
        comparison_sheet(&args, &first, path, &cpu)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The sheet: the real background and target images, then for each model G(z_x, 0),
/// G(z_y, s_y), G(z_x, s_y) and G(z_y, 0), each row labelled. Models without a generator (cPCA)
/// are named in one row saying so.
fn comparison_sheet(
    args: &CompareArgs,
    models: &[(Model, PathBuf)],
    path: &std::path::Path,
    device: &Device,
) -> Result<()> {
    let Some((_, first)) = models.first() else {
        anyhow::bail!("no run finished: there is nothing to draw");
    };
    let config = load_model(first, device)?.config().clone();
    let (side, c) = (config.image_size, config.channels);
    // The held-out images `eval separation` scores (a dataset file: its first images).
    let data = Data::open(
        &args.options.data,
        side,
        c,
        super::separation::BUILTIN_EVAL_SEED,
    )?;
    let n = args
        .columns
        .min(data.len(Domain::Background))
        .min(data.len(Domain::Target));
    let pixels = |domain| -> Vec<f32> { (0..n).flat_map(|i| data.image(domain, i)).collect() };
    let (bg, t) = (pixels(Domain::Background), pixels(Domain::Target));
    let tensor = |values: &[f32]| {
        Tensor::<4>::from_data(TensorData::new(values.to_vec(), [n, c, side, side]), device)
    };
    let mut rows = vec![
        (
            "x: background".to_string(),
            images::tensor_to_rgb(tensor(&bg))?,
        ),
        ("y: target".to_string(), images::tensor_to_rgb(tensor(&t))?),
    ];
    for (model, run) in models {
        let loaded = load_model(run, device)?;
        if !loaded.generates() {
            rows.push((
                format!("{}: no generator", model.method.label()),
                Vec::new(),
            ));
            continue;
        }
        let drawn = images::tensor_to_rgb(loaded.swap_and_reconstruct(tensor(&bg), tensor(&t))?)?;
        let name = model.method.label();
        for (k, what) in ["G(z_x, 0)", "G(z_y, s_y)", "G(z_x, s_y)", "G(z_y, 0)"]
            .iter()
            .enumerate()
        {
            rows.push((
                format!("{name}: {what}"),
                drawn[k * n..(k + 1) * n].to_vec(),
            ));
        }
    }
    let scale = if side <= 32 { 2 } else { 1 };
    let sheet = crate::plot::labelled_rows(&rows, scale)?;
    images::save_png(&sheet, path, 1)
}
