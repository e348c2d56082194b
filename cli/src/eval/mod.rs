//! `dinfogan eval`: the paper's quantitative protocol: how well a logistic regression reads each
//! label from the common codes z and from the salient codes s (section 5, Tables 1-3), and the
//! FactorVAE disentanglement score of the salient space (Kim and Mnih 2018; Table 9).

pub mod classifier;
pub mod compare;
pub mod factorvae;
pub mod leak;
pub mod lesion;
pub mod separation;
pub mod swap;
pub mod table;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use serde::Serialize;

use crate::data::DataSpec;
use crate::io::{print_json, write_atomic};
use crate::run::RunDir;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Accuracy of a logistic regression (5-fold cross-validation) reading each label from z and from s.
    Separation(separation::SeparationArgs),
    /// Best / average / worst separation over several runs (seeds), as the paper's Tables 1 and 2.
    Table(table::TableArgs),
    /// Several models (Double InfoGAN and the baselines, several seeds each) side by side, in the
    /// layout of the paper's Table 2, with one sheet of their reconstructions and swaps.
    Compare(compare::CompareArgs),
    /// The FactorVAE score of the salient codes on a grouped set (`data build dsprites-mnist-groups`).
    Factorvae(factorvae::FactorVaeArgs),
    /// How much of the codes of generated images G(z, s) comes from z and how much from s.
    Leak(leak::LeakArgs),
    /// How well the healthy counterpart G(Qz(y), 0) finds each target image's lesion (a dataset
    /// with segmentation masks, from `data build brats`): ROC AUC and Dice of |y - G(Qz(y), 0)|.
    Lesion(lesion::LesionArgs),
    /// Where the salient code puts the target's salient object, and at what size, on data whose
    /// object is known (the built-in sprite, dSprites-MNIST): the difference G(z, s_y) - G(z, 0)
    /// on the target's own z and on a background's, against the true sprite.
    Swap(swap::SwapArgs),
}

pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Factorvae(args) => factorvae::factorvae_command(args),
        EvalCommand::Separation(args) => separation::separation_command(args),
        EvalCommand::Table(args) => table::table_command(args),
        EvalCommand::Compare(args) => compare::compare_command(args),
        EvalCommand::Leak(args) => leak::leak_command(args),
        EvalCommand::Lesion(args) => lesion::lesion_command(args),
        EvalCommand::Swap(args) => swap::swap_command(args),
    }
}

/// Shows a command's result on stdout: its text (Markdown), or with `--json` the report it was
/// written from, as one JSON document.
pub(crate) fn show<T: Serialize>(json: bool, report: &T, text: &str) -> Result<()> {
    if json {
        print_json(report)
    } else {
        print!("{text}");
        Ok(())
    }
}

/// [`show`], then the text kept at `out` when given (`--out` of the commands with one file).
pub(crate) fn show_and_keep<T: Serialize>(
    json: bool,
    report: &T,
    text: &str,
    out: Option<&std::path::Path>,
) -> Result<()> {
    show(json, report, text)?;
    if let Some(out) = out {
        write_atomic(out, text.as_bytes())?;
    }
    Ok(())
}

/// [`show`], then the Markdown and the CSV kept at PREFIX.md and PREFIX.csv when `--out PREFIX`
/// is given (the commands whose result is a table).
pub(crate) fn show_and_keep_table<T: Serialize>(
    json: bool,
    report: &T,
    markdown: &str,
    csv: &[u8],
    prefix: Option<&std::path::Path>,
) -> Result<()> {
    show(json, report, markdown)?;
    if let Some(prefix) = prefix {
        write_atomic(&prefix.with_extension("md"), markdown.as_bytes())?;
        write_atomic(&prefix.with_extension("csv"), csv)?;
    }
    Ok(())
}

/// Rows as CSV (a header from the field names).
pub(crate) fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("could not write the table: {e}"))
}

/// The training data of the run at `checkpoint`, when it is a dataset file (with masks or
/// not: reading it says so).
pub(crate) fn run_training_file(checkpoint: &std::path::Path) -> Result<PathBuf> {
    if !checkpoint.is_dir() {
        bail!(
            "{} is a model file, which does not say what it was trained on",
            checkpoint.display()
        );
    }
    match RunDir::open(checkpoint)?.load_meta()?.data {
        DataSpec::File(path) => Ok(path),
        data => bail!(
            "the run in {} was not trained on a dataset file ({data})",
            checkpoint.display()
        ),
    }
}
