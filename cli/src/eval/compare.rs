//! `dinfogan eval compare RUN...`: Double InfoGAN and the baselines side by side, in the layout
//! of the paper's Table 2: a row per model (a configuration: its seeds), for each label and space
//! the best, average and worst accuracy over that model's runs (seeds), and how many of its runs
//! diverged; and one sheet of the same test images reconstructed and swapped by every model
//! (the paper's Figs. 3, 5 and 8).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use burn::prelude::*;
use clap::Args;
use dinfogan::builtin::Domain;
use dinfogan::{InferenceModel, Method, TrainConfig};
use serde::Serialize;

use super::factorvae::{FactorVaeSets, ReferenceOptions};
use super::separation::{SeparationOptions, SeparationSetup, Space, Wanted};
use super::table::{RunAccuracies, SpreadRow};
use super::to_csv;
use crate::args::{at_least_one, OutputFile};
use crate::data::Data;
use crate::images;
use crate::markdown;
use crate::model::load_model;
use crate::run::RunDir;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run folders (or exported model files) of any methods, e.g. three seeds of each: runs of
    /// the same configuration (seeds aside) are one model, named by its method, its latent
    /// sizes and the settings in which it differs from the other models of its method.
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

/// A model of the comparison: the runs (seeds) of one configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Model {
    method: Method,
    common_dim: usize,
    salient_dim: usize,
    /// Every setting the runs were trained with, flattened (`loss.info_common` -> `2.0`): runs
    /// that differ in any of them are different models. A model file keeps only its network's
    /// settings and the salient prior, so it is its own model beside the run it came from.
    settings: BTreeMap<String, String>,
    /// Whether the runs are exported model files (which record fewer settings).
    file: bool,
}

impl Model {
    /// The model of a run folder, from its configuration (its seed and steps are not part of
    /// it: seeds and stopped runs of one configuration are one model).
    fn of_run(config: &TrainConfig) -> Result<Self> {
        Ok(Self {
            method: config.method,
            common_dim: config.model.common_dim,
            salient_dim: config.model.salient_dim,
            settings: flatten(&serde_json::to_value(config)?),
            file: false,
        })
    }

    /// The model of an exported model file, from what its header says.
    fn of_file(model: &InferenceModel) -> Result<Self> {
        let known = serde_json::json!({
            "method": model.method(),
            "model": model.config(),
            "salient_prior": model.salient_prior(),
        });
        Ok(Self {
            method: model.method(),
            common_dim: model.config().common_dim,
            salient_dim: model.config().salient_dim,
            settings: flatten(&known),
            file: true,
        })
    }
}

/// `{"loss": {"image": 0.2}}` as `loss.image` -> `0.2`.
fn flatten(value: &serde_json::Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, value) in fields {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            serde_json::Value::String(text) => {
                out.insert(prefix.to_string(), text.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// Each model's name: its method and latent sizes, then the settings in which it differs from
/// another model of the same method (those every such model records), e.g. `Double InfoGAN
/// (L = 16, M = 6; salient_prior = uniform)`.
fn labels<'a>(models: impl IntoIterator<Item = &'a Model>) -> BTreeMap<Model, String> {
    let models: Vec<&Model> = models.into_iter().collect();
    models
        .iter()
        .map(|&model| {
            let same_method: Vec<&&Model> =
                models.iter().filter(|m| m.method == model.method).collect();
            let mut differing: Vec<String> = model
                .settings
                .iter()
                .filter(|(key, value)| {
                    // A key another model lacks sets this one apart when both are run
                    // folders (they record every setting they have, an optional one only when
                    // set), not when one is a model file (which records fewer settings).
                    !matches!(key.as_str(), "model.common_dim" | "model.salient_dim")
                        && same_method
                            .iter()
                            .all(|m| m.settings.contains_key(*key) || (!m.file && !model.file))
                        && same_method
                            .iter()
                            .any(|m| m.settings.get(*key) != Some(*value))
                })
                .map(|(key, value)| format!("{key} = {value}"))
                .collect();
            if model.file && same_method.iter().any(|m| !m.file) {
                differing.push("model files".into());
            }
            let mut label = format!(
                "{} (L = {}, M = {}",
                model.method.label(),
                model.common_dim,
                model.salient_dim
            );
            if !differing.is_empty() {
                label += &format!("; {}", differing.join(", "));
            }
            label += ")";
            (model.clone(), label)
        })
        .collect()
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

/// A separation column of the table: a label read from a space.
#[derive(Debug, Serialize)]
struct CompareColumn {
    space: Space,
    label: String,
    desired: Wanted,
}

/// A model of the table: its runs (seeds), diverged ones included.
#[derive(Debug, Serialize)]
struct CompareModel {
    model: String,
    method: Method,
    runs: usize,
    diverged: usize,
}

/// `eval compare`: the models, the columns and the rows of the table, with what they were
/// computed on; the Markdown and `--json` come from it.
#[derive(Debug, Serialize)]
struct CompareReport {
    runs: Vec<String>,
    #[serde(flatten)]
    setup: SeparationSetup,
    /// The grouped set of the FactorVAE column (`--factorvae`).
    factorvae: Option<String>,
    columns: Vec<CompareColumn>,
    models: Vec<CompareModel>,
    /// One per model and column it has a result for (the rows of the CSV); the FactorVAE
    /// score's label is "FactorVAE (held-out groups)".
    rows: Vec<SpreadRow>,
}

impl CompareReport {
    fn markdown(&self) -> String {
        // (space, label) of each cell, the FactorVAE score last.
        let mut cells: Vec<(Space, &str)> = self
            .columns
            .iter()
            .map(|c| (c.space, c.label.as_str()))
            .collect();
        let mut header: Vec<String> = ["model", "runs", "diverged"].map(String::from).into();
        header.extend(
            self.columns
                .iter()
                .map(|c| format!("{} from {} {}", c.label, c.space, c.desired.arrow())),
        );
        if self.factorvae.is_some() {
            header.push(format!("{FACTORVAE_LABEL} {}", Wanted::High.arrow()));
            cells.push((Space::S, FACTORVAE_LABEL));
        }
        let mut table = markdown::Table::new(header);
        for model in &self.models {
            let mut row = vec![
                model.model.clone(),
                model.runs.to_string(),
                model.diverged.to_string(),
            ];
            row.extend(cells.iter().map(|(space, label)| {
                self.rows
                    .iter()
                    .find(|r| {
                        r.model.as_deref() == Some(model.model.as_str())
                            && r.space == *space
                            && r.label == *label
                    })
                    .map_or("–".to_string(), SpreadRow::cell)
            }));
            table.row(row);
        }
        format!(
            "Separation: best / average / worst accuracy over the runs of each model ({} runs)\n\n{table}",
            self.runs.len()
        )
    }
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
                let model = Model::of_run(&dir.config()?)?;
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
        // A run folder's model is its configuration; a model file's, what its header says.
        let key = if run.is_dir() {
            Model::of_run(&RunDir::at(run).config()?)?
        } else {
            Model::of_file(&model)?
        };
        let results = models.entry(key).or_default();
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

    let names = labels(models.keys());
    let columns: Vec<CompareColumn> = order
        .iter()
        .map(|(space, label)| CompareColumn {
            space: *space,
            label: label.clone(),
            desired: models
                .values()
                .find_map(|r| r.accuracies.by_label.get(&(*space, label.clone())))
                .map(|(w, _)| *w)
                .expect("an ordered key has results"),
        })
        .collect();
    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    for (model, results) in &models {
        summaries.push(CompareModel {
            model: names[model].clone(),
            method: model.method,
            runs: results.finished.len() + results.diverged,
            diverged: results.diverged,
        });
        let name = &names[model];
        for key in &order {
            if let Some(row) = results.accuracies.row(key) {
                rows.push(row.of_model(name, model.method, results.diverged));
            }
        }
        if factorvae.is_some() && !results.factorvae.is_empty() {
            let row = SpreadRow::of(
                Space::S,
                FACTORVAE_LABEL.into(),
                Wanted::High,
                &results.factorvae,
            );
            rows.push(row.of_model(name, model.method, results.diverged));
        }
    }
    let report = CompareReport {
        runs: args.runs.iter().map(|r| r.display().to_string()).collect(),
        setup: args.options.setup(),
        factorvae: args.factorvae.as_ref().map(|p| p.display().to_string()),
        columns,
        models: summaries,
        rows,
    };
    args.options
        .report(&report.markdown(), &to_csv(&report.rows)?, &report)?;

    if let Some(path) = &args.sheet {
        let first: Vec<(String, PathBuf)> = models
            .iter()
            .filter_map(|(m, r)| r.finished.first().map(|p| (names[m].clone(), p.clone())))
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
    models: &[(String, PathBuf)],
    path: &std::path::Path,
    device: &Device,
) -> Result<()> {
    let Some((_, first)) = models.first() else {
        anyhow::bail!("no run finished: there is nothing to draw");
    };
    let config = load_model(first, device)?.config().clone();
    let (side, c) = (config.image_size, config.channels);
    // The held-out images `eval separation` scores (a dataset file: a fixed sample across it).
    let data = Data::open(
        &args.options.scoring.data,
        side,
        c,
        super::separation::BUILTIN_EVAL_SEED,
    )?;
    let n = args
        .columns
        .min(data.len(Domain::Background))
        .min(data.len(Domain::Target));
    let pixels = |domain| -> Vec<f32> {
        let picked = crate::data::sample_in_order(data.len(domain), Some(n), 0);
        picked.iter().flat_map(|&i| data.image(domain, i)).collect()
    };
    let (bg, t) = (pixels(Domain::Background), pixels(Domain::Target));
    let tensor = |values: &[f32]| dinfogan::pixels::batch(values.to_vec(), n, c, side, device);
    let mut rows = vec![
        (
            "x: background".to_string(),
            images::tensor_to_rgb(tensor(&bg)?)?,
        ),
        ("y: target".to_string(), images::tensor_to_rgb(tensor(&t)?)?),
    ];
    for (name, run) in models {
        let loaded = load_model(run, device)?;
        if !loaded.generates() {
            rows.push((format!("{name}: no generator"), Vec::new()));
            continue;
        }
        let drawn = images::tensor_to_rgb(loaded.swap_and_reconstruct(tensor(&bg)?, tensor(&t)?)?)?;
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
    let sheet = crate::draw::labelled_rows(&rows, images::sheet_scale(side))?;
    images::save_png(&sheet, path, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_named_by_what_sets_it_apart_from_its_method_s_other_models() {
        let preset = TrainConfig::default();
        let mut uniform = preset.clone();
        uniform.salient_prior = dinfogan::SalientPrior::Uniform;
        let mut vae = preset.clone();
        vae.method = Method::MmCvae;
        vae.optim.lr_generator = 1.0; // unlike the prior, not a setting Double InfoGAN differs in
        let mut models: Vec<Model> = [&preset, &uniform, &vae]
            .into_iter()
            .map(|c| Model::of_run(c).unwrap())
            .collect();
        // A model file records its network and prior only: those keys decide its name.
        let file = Model {
            settings: models[1]
                .settings
                .iter()
                .filter(|(k, _)| k.starts_with("model.") || *k == "salient_prior")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            file: true,
            ..models[1].clone()
        };
        models.push(file.clone());
        let names = labels(&models);
        assert_eq!(
            names[&models[0]],
            "Double InfoGAN (L = 95, M = 15; salient_prior = normal)"
        );
        assert_eq!(
            names[&models[1]],
            "Double InfoGAN (L = 95, M = 15; salient_prior = uniform)"
        );
        assert_eq!(names[&models[2]], "MM-cVAE (L = 95, M = 15)");
        assert_eq!(
            names[&file],
            "Double InfoGAN (L = 95, M = 15; salient_prior = uniform, model files)"
        );
        assert_ne!(models[1], file, "a file is a model of its own");
        // An optional setting only one run sets (absent from the others' records) names it.
        let mut encoder = preset.clone();
        encoder.loss.info_common_encoder = Some(5.0);
        let runs: Vec<Model> = [&preset, &encoder]
            .into_iter()
            .map(|c| Model::of_run(c).unwrap())
            .collect();
        let names = labels(&runs);
        assert_eq!(names[&runs[0]], "Double InfoGAN (L = 95, M = 15)");
        assert_eq!(
            names[&runs[1]],
            "Double InfoGAN (L = 95, M = 15; loss.info_common_encoder = 5.0)"
        );
        assert_eq!(
            flatten(&serde_json::json!({"loss": {"image": 0.2}, "method": "cvae"})),
            BTreeMap::from([
                ("loss.image".to_string(), "0.2".to_string()),
                ("method".to_string(), "cvae".to_string()),
            ])
        );
    }
}
