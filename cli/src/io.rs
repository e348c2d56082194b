//! Host-side helpers every command shares: a tensor's values on the host, and files written
//! atomically. Their own module, so that data, images and training need not import each other.

use std::path::Path;

use anyhow::Result;
use burn::prelude::*;

/// A tensor's values on the host (a blocking read: native only).
pub fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("could not read a tensor: {e:?}"))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename: `path`
/// holds either its old content or all of the new, and the temporary file is removed if
/// anything fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(folder)?;
        tmp.write_all(bytes)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    // The OS's reason alone: tempfile's errors also name the temporary file.
    write().map_err(|e| {
        anyhow::anyhow!(
            "could not write {}: {}",
            path.display(),
            std::io::Error::from(e.kind())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::write_atomic;

    #[test]
    fn atomic_writes_leave_the_file_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let err = write_atomic(&dir.path().join("missing/out.bin"), b"x").unwrap_err();
        assert!(format!("{err:#}").contains("could not write"), "{err:#}");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.bin")]);
    }
}
