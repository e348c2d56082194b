//! `dinfogan eval table RUN...`: best / average / worst separation over several runs (seeds), as
//! the paper's Tables 1 and 2; its rows and their accumulation are also `eval compare`'s.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dinfogan::Method;
use serde::Serialize;

use super::separation::{SeparationOptions, SeparationRow, SeparationSetup, Space, Wanted};
use super::to_csv;
use crate::markdown;
use crate::model::load_model;

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Run folders (or exported model files), e.g. one per seed.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: SeparationOptions,
}

/// One label read from one space over several runs: the best, average and worst of their mean
/// accuracies, "best" for the desired direction (highest where high is wanted, lowest where
/// chance is). The row of `eval table`, and of `eval compare`, which says whose runs they are
/// (the fields it alone fills are left out of the CSV and JSON of `eval table`).
#[derive(Debug, Clone, Serialize)]
pub struct SpreadRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    pub space: Space,
    pub label: String,
    pub best: f64,
    pub average: f64,
    pub worst: f64,
    /// The runs the figures are over.
    pub runs: usize,
    /// The model's runs that diverged (not in the figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<usize>,
    pub desired: Wanted,
}

impl SpreadRow {
    /// The row of `means`, one per run (at least one).
    pub fn of(space: Space, label: String, desired: Wanted, means: &[f64]) -> Self {
        let (lo, hi) = means
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &m| (lo.min(m), hi.max(m)));
        let (best, worst) = match desired {
            Wanted::High => (hi, lo),
            Wanted::Chance => (lo, hi),
        };
        Self {
            model: None,
            method: None,
            space,
            label,
            best,
            average: means.iter().sum::<f64>() / means.len() as f64,
            worst,
            runs: means.len(),
            diverged: None,
            desired,
        }
    }

    /// The same row, said to be of `model`'s runs.
    pub fn of_model(self, model: &str, method: Method, diverged: usize) -> Self {
        Self {
            model: Some(model.to_string()),
            method: Some(method),
            diverged: Some(diverged),
            ..self
        }
    }

    /// `best / average / worst`, as `eval compare`'s cells.
    pub fn cell(&self) -> String {
        format!("{:.3} / {:.3} / {:.3}", self.best, self.average, self.worst)
    }
}

/// The accuracies of several runs, label by label: (space, label) -> (desired direction, each
/// run's mean accuracy), in the order the first run gave them.
#[derive(Debug, Default)]
pub struct RunAccuracies {
    pub order: Vec<(Space, String)>,
    pub by_label: HashMap<(Space, String), (Wanted, Vec<f64>)>,
}

impl RunAccuracies {
    /// One run's table.
    pub fn add(&mut self, rows: Vec<SeparationRow>) {
        for row in rows {
            let key = (row.space, row.label);
            if !self.by_label.contains_key(&key) {
                self.order.push(key.clone());
            }
            self.by_label
                .entry(key)
                .or_insert((row.wanted, Vec::new()))
                .1
                .push(row.mean);
        }
    }

    /// The row of one label and space, if any run had it.
    pub fn row(&self, key: &(Space, String)) -> Option<SpreadRow> {
        let (wanted, means) = self.by_label.get(key)?;
        Some(SpreadRow::of(key.0, key.1.clone(), *wanted, means))
    }
}

pub fn table_command(args: TableArgs) -> Result<()> {
    args.options.check()?;
    let mut results = RunAccuracies::default();
    for run in &args.runs {
        let cpu = crate::backend::select(crate::backend::Backend::Cpu)?.device;
        let model = load_model(run, &cpu)?;
        eprintln!("evaluating {}", run.display());
        results.add(args.options.table(&model)?);
    }
    let report = TableReport {
        runs: args.runs.iter().map(|r| r.display().to_string()).collect(),
        setup: args.options.setup(),
        rows: results
            .order
            .iter()
            .filter_map(|key| results.row(key))
            .collect(),
    };
    args.options
        .report(&report.markdown(), &to_csv(&report.rows)?, &report)
}

/// `eval table`: the rows and what they were computed on (`--json` prints it as it is).
#[derive(Debug, Serialize)]
struct TableReport {
    runs: Vec<String>,
    #[serde(flatten)]
    setup: SeparationSetup,
    rows: Vec<SpreadRow>,
}

impl TableReport {
    fn markdown(&self) -> String {
        let mut table =
            markdown::Table::new(["space", "label", "best", "average", "worst", "desired"]);
        for r in &self.rows {
            table.row([
                r.space.to_string(),
                r.label.clone(),
                format!("{:.3}", r.best),
                format!("{:.3}", r.average),
                format!("{:.3}", r.worst),
                r.desired.arrow().to_string(),
            ]);
        }
        format!("Separation over {} runs\n\n{table}", self.runs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_is_the_desired_end() {
        let high = SpreadRow::of(Space::S, "x".into(), Wanted::High, &[0.5, 0.9, 0.7]);
        assert_eq!((high.best, high.worst, high.runs), (0.9, 0.5, 3));
        assert!((high.average - 0.7).abs() < 1e-12);
        let chance = SpreadRow::of(Space::Z, "x".into(), Wanted::Chance, &[0.5, 0.9, 0.7]);
        assert_eq!((chance.best, chance.worst), (0.5, 0.9));
        assert_eq!(chance.cell(), "0.500 / 0.700 / 0.900");
    }

    /// `eval table`'s CSV has no model columns; `eval compare`'s has them, in this order.
    #[test]
    fn csv_columns_of_both_commands() {
        let row = SpreadRow::of(Space::Z, "x".into(), Wanted::Chance, &[0.25]);
        let table = String::from_utf8(to_csv(std::slice::from_ref(&row)).unwrap()).unwrap();
        assert_eq!(
            table.lines().next().unwrap(),
            "space,label,best,average,worst,runs,desired"
        );
        let compare = row.of_model("double-infogan", Method::DoubleInfogan, 1);
        let compare = String::from_utf8(to_csv(&[compare]).unwrap()).unwrap();
        assert_eq!(
            compare.lines().next().unwrap(),
            "model,method,space,label,best,average,worst,runs,diverged,desired"
        );
    }
}
