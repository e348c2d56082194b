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

/// `--json`: `value` as one pretty-printed JSON document on stdout, newline-terminated (the
/// only thing the command prints there; notes and progress go to stderr).
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    use std::io::Write;
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder, flushed to the disk,
/// then renamed over `path`: `path` holds either its old content or all of the new, and no
/// partial file is left behind if anything fails. On Linux the temporary file has no name
/// while it is written (`O_TMPFILE`), so that not even Ctrl-C or `kill -9` in the middle of
/// a long write leaves one; elsewhere (or on file systems without unnamed files) it is a named
/// temporary file, removed on every error the process survives. Files get the usual
/// permissions (0666 less the umask), not a temporary file's 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(target_os = "linux")]
    let written = unnamed::write(folder, path, bytes);
    #[cfg(not(target_os = "linux"))]
    let written = Ok(false);
    let written = written.and_then(|done| match done {
        true => Ok(()),
        false => write_named(folder, path, bytes),
    });
    // The OS's reason alone: tempfile's errors also name the temporary file.
    written.map_err(|e| {
        anyhow::anyhow!(
            "could not write {}: {}",
            path.display(),
            std::io::Error::from(e.kind())
        )
    })
}

fn write_named(folder: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::io::Write;
    use std::path::Path;

    use rustix::fs::{self, AtFlags, Mode, OFlags, CWD};
    use rustix::io::Errno;

    /// The `O_TMPFILE` route; `Ok(false)` when the file system or kernel does not offer it.
    pub fn write(folder: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let fd = match fs::open(folder, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)?;
        file.sync_all()?;
        // A name beside the target, then a rename over it: only the instant between the two
        // could leave a stray file. Linking through /proc needs no privilege (AT_EMPTY_PATH
        // does); without /proc the named route runs instead.
        use std::os::fd::AsRawFd;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = folder.join(format!(".{name}.{}.{nanos}.partial", std::process::id()));
        let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
        match fs::linkat(CWD, proc.as_str(), CWD, &tmp, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => {}
            Err(Errno::NOENT | Errno::PERM | Errno::ACCESS) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        Ok(true)
    }
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
        assert_usual_permissions(&path);
    }

    /// A normal file's permissions (0666 less the umask), not a temporary file's 0600.
    fn assert_usual_permissions(path: &std::path::Path) {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::PermissionsExt;
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let umask = status
                .lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .map(|m| u32::from_str_radix(m.trim(), 8).unwrap())
                .unwrap();
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o666 & !umask, "mode {mode:o}, umask {umask:o}");
        }
    }

    #[test]
    fn the_named_route_writes_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        super::write_named(dir.path(), &path, b"named").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"named");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_usual_permissions(&path);
    }
}
