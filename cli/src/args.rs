//! Command-line values checked when the command line is read, so that a mistake ends with a
//! sentence before any work starts.

use std::path::{Path, PathBuf};

/// The end of the sentence for an `OutputFile` whose folder is missing (the documented
/// commands' test accepts it: their folders are made by the commands before them).
pub const MISSING_FOLDER: &str = "does not exist: create it first, or write elsewhere";

/// A file a command will write. Its folder must exist: checked when the command line is read,
/// so a mistyped `--out` ends before any work starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile(PathBuf);

impl std::str::FromStr for OutputFile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let path = PathBuf::from(text);
        if text.is_empty() || path.file_name().is_none() {
            return Err(format!("{text:?} is not a file name"));
        }
        if path.is_dir() {
            return Err(format!("{text} is a folder: name a file in it"));
        }
        match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => {
                Err(format!("the folder {} {MISSING_FOLDER}", folder.display()))
            }
            _ => Ok(Self(path)),
        }
    }
}

impl std::ops::Deref for OutputFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for OutputFile {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

/// `--model`: the core's list of methods, shown by `--help` and in clap's error for a typo.
pub fn method_parser() -> impl clap::builder::TypedValueParser<Value = dinfogan::Method> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(dinfogan::Method::ALL.map(dinfogan::Method::name))
        .map(|name| name.parse::<dinfogan::Method>().expect("a listed method"))
}

/// A count that must be at least 1 (`--count`, `--rows`, ...).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_and_counts_are_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("grid.png");
        assert!(inside.to_str().unwrap().parse::<OutputFile>().is_ok());
        assert!(
            "grid.png".parse::<OutputFile>().is_ok(),
            "the current folder"
        );
        let missing = dir.path().join("no").join("grid.png");
        let error = missing.to_str().unwrap().parse::<OutputFile>().unwrap_err();
        assert!(error.contains("does not exist"), "{error}");
        let error = dir
            .path()
            .to_str()
            .unwrap()
            .parse::<OutputFile>()
            .unwrap_err();
        assert!(error.contains("is a folder"), "{error}");
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert!(at_least_one("-1").is_err());
    }
}
