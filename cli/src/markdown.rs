//! The one writer of the Markdown tables the commands print and keep (`eval`, `compare`,
//! `lesion`): a header, the separator line and rows of already formatted cells, so that every
//! table has the same shape and a row cannot have more or fewer cells than its header.

use std::fmt;

/// A Markdown table built row by row.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: ToString>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// One row: as many cells as the header has columns.
    pub fn row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let cells: Vec<String> = cells.into_iter().map(|c| c.to_string()).collect();
        assert_eq!(
            cells.len(),
            self.header.len(),
            "a Markdown row has one cell per column"
        );
        self.rows.push(cells);
        self
    }
}

/// `| a | b |` lines: the header, `|---|---|`, the rows; each line ends with a newline.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line =
            |f: &mut fmt::Formatter<'_>, cells: &[String]| writeln!(f, "| {} |", cells.join(" | "));
        line(f, &self.header)?;
        writeln!(f, "|{}", "---|".repeat(self.header.len()))?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_separator_rows() {
        let mut table = Table::new(["space", "accuracy"]);
        table
            .row(["z", "0.500"])
            .row(["s", &format!("{:.3}", 0.25)]);
        assert_eq!(
            table.to_string(),
            "| space | accuracy |\n|---|---|\n| z | 0.500 |\n| s | 0.250 |\n"
        );
    }

    #[test]
    #[should_panic(expected = "one cell per column")]
    fn a_short_row_is_a_bug() {
        Table::new(["a", "b"]).row(["only one"]);
    }
}
