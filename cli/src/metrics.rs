//! `metrics.csv` of a run folder: one row per training step (the step, images per second, then
//! every loss term of the run's method, named by [`LossTerm::name`]), written by `train` a whole
//! line at a time and read by `plot` (also while the run goes on).

use std::path::Path;

use anyhow::{bail, Context, Result};
use dinfogan::{LossTerm, LossValues};

/// `metrics.csv`'s first two columns; the loss terms follow, named by [`LossTerm::name`].
pub const STEP_COLUMN: &str = "step";
pub const IMAGES_PER_SECOND_COLUMN: &str = "images_per_second";

/// The writer of a run's metrics.
pub struct MetricsWriter {
    writer: csv::Writer<std::fs::File>,
}

impl MetricsWriter {
    /// The metrics CSV with a column per term of the run's method, with a header for a new run; on
    /// resume, rows past the checkpoint (from steps done after it and then lost) are dropped.
    pub fn open(path: &Path, terms: &[LossTerm], start_step: u64) -> Result<Self> {
        let header: Vec<String> = [STEP_COLUMN, IMAGES_PER_SECOND_COLUMN]
            .iter()
            .map(|s| s.to_string())
            .chain(terms.iter().map(|term| term.name().to_string()))
            .collect();
        let mut kept = Vec::new();
        if start_step > 0 && path.exists() {
            let mut reader = csv::Reader::from_path(path)?;
            for row in reader.records() {
                let row = row?;
                if row
                    .get(0)
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|s| s <= start_step)
                {
                    kept.push(row);
                }
            }
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("could not write {}", path.display()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(&header)?;
        for row in kept {
            writer.write_record(&row)?;
        }
        Ok(Self { writer })
    }

    /// The row of step `step` (counted from 1), flushed: whole lines on disk at every step, so
    /// that `dinfogan plot` and `tail` read a live run.
    pub fn write(&mut self, step: u64, images_per_second: f64, values: &LossValues) -> Result<()> {
        self.writer.write_record(
            std::iter::once(step.to_string())
                .chain(std::iter::once(format!("{images_per_second:.2}")))
                .chain(values.iter().map(|(_, v)| format!("{v:.6}"))),
        )?;
        self.writer.flush()?;
        Ok(())
    }
}

/// One column of metrics.csv.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    pub values: Vec<f64>,
}

/// The steps and every other column of metrics.csv.
pub fn read(path: &Path) -> Result<(Vec<f64>, Vec<Column>)> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let names: Vec<String> = reader
        .headers()
        .with_context(|| format!("{} has no header line", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    if names.first().map(String::as_str) != Some(STEP_COLUMN) {
        bail!(
            "{} is not a metrics file of `dinfogan train`",
            path.display()
        );
    }
    let mut columns: Vec<Column> = names[1..]
        .iter()
        .map(|name| Column {
            name: name.clone(),
            values: Vec::new(),
        })
        .collect();
    let mut steps = Vec::new();
    let records: Vec<_> = reader.records().collect();
    let last = records.len().saturating_sub(1);
    for (line, record) in records.into_iter().enumerate() {
        let record = match record {
            Ok(record) if record.len() == names.len() => record,
            // A run still training (or killed) may have written half of its last line.
            _ if line == last => break,
            Ok(_) => bail!(
                "{} line {}: wrong number of fields",
                path.display(),
                line + 2
            ),
            Err(e) => {
                return Err(e).with_context(|| format!("{} line {}", path.display(), line + 2))
            }
        };
        let number = |i: usize| -> Result<f64> {
            record
                .get(i)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{} line {}: not a number", path.display(), line + 2))
        };
        steps.push(number(0)?);
        for (i, column) in columns.iter_mut().enumerate() {
            column.values.push(number(i + 1)?);
        }
    }
    Ok((steps, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_written_last_line_is_left_out_and_a_broken_one_inside_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let head = "step,images_per_second,g_total\n1,10.0,2.5\n2,11.0,2.25\n";
        std::fs::write(&path, format!("{head}3,1")).unwrap();
        let (steps, columns) = read(&path).unwrap();
        assert_eq!(steps, vec![1.0, 2.0]);
        assert_eq!(columns[1].values, vec![2.5, 2.25]);
        std::fs::write(
            &path,
            "step,images_per_second,g_total\n1,10.0\n2,11.0,2.25\n",
        )
        .unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
