//! Where outputs go, written so that nothing but the named output changes.
//!
//! - `-` is stdout.
//! - A regular file, or a path that does not exist yet: written to a temp
//!   file beside it and renamed over it, so a reader never sees half.
//! - A symlink is followed: its target is written; the link stays a link.
//! - A FIFO, a character device, `/dev/stdout`: written in place (a rename
//!   would replace the device node or the `/dev/stdout` link itself).
//! - A directory, or a symlink to nowhere: refused before the run starts.
//!
//! Every destination is checked before any work, so a run never ends with
//! "cannot write" after minutes of cases.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {reason}")]
    Unwritable { path: String, reason: String },
    #[error("cannot write {path}: it is a directory (name a file)")]
    IsDirectory { path: String },
    #[error("cannot write {path}: it is a symlink to {target}, which does not exist")]
    DanglingLink { path: String, target: String },
    #[error("cannot write {path}: it exists and is not a directory")]
    NotADirectory { path: String },
    #[error("{path} exists and is not empty; pass --force to replace it")]
    NotEmpty { path: String },
    #[error(
        "cannot write {what} `{name}` as a file name ({why}); the input is not a shmharness results.json"
    )]
    BadName {
        what: &'static str,
        name: String,
        why: &'static str,
    },
}

fn unwritable(path: &Path, reason: impl ToString) -> OutputError {
    OutputError::Unwritable {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// How a file destination is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTarget {
    /// `-`
    Stdout,
    /// A regular file or a new path (a followed symlink's target): temp
    /// file + rename.
    Atomic(PathBuf),
    /// A FIFO, a device, `/dev/std*`: opened and written where it is.
    InPlace(PathBuf),
}

impl FileTarget {
    /// Decide how `path` is written, and check it can be, before any work.
    pub fn check(path: &Path) -> Result<FileTarget, OutputError> {
        // Our own stdout, however it is spelled: written through our handle,
        // so it interleaves correctly with what else we print there.
        if ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]
            .iter()
            .any(|p| path == Path::new(p))
        {
            return Ok(FileTarget::Stdout);
        }
        let shown = || path.display().to_string();
        // `/dev/stdout`, `/dev/fd/N`: an open file of ours (a terminal, a
        // pipe, or the file a shell redirected to). Write through it; a
        // rename would replace the link or orphan the shell's file.
        if ["/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/"]
            .iter()
            .any(|p| path.starts_with(p) || path.to_string_lossy().starts_with(p))
        {
            return Ok(FileTarget::InPlace(path.to_path_buf()));
        }
        let link = std::fs::symlink_metadata(path).ok();
        let meta = std::fs::metadata(path).ok();
        match (link, meta) {
            (None, _) => {
                let target = FileTarget::Atomic(path.to_path_buf());
                target.probe_dir()?;
                Ok(target)
            }
            (Some(l), None) if l.file_type().is_symlink() => Err(OutputError::DanglingLink {
                path: shown(),
                target: std::fs::read_link(path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default(),
            }),
            (Some(_), None) => Err(unwritable(path, "cannot read its metadata")),
            (Some(_), Some(m)) if m.is_dir() => Err(OutputError::IsDirectory { path: shown() }),
            (Some(l), Some(m)) if m.is_file() => {
                // Write the file itself; through a link, the link's target.
                let real = if l.file_type().is_symlink() {
                    std::fs::canonicalize(path).map_err(|e| unwritable(path, e))?
                } else {
                    path.to_path_buf()
                };
                let target = FileTarget::Atomic(real);
                target.probe_dir()?;
                Ok(target)
            }
            // FIFO, character or block device, socket: never renamed over.
            (Some(_), Some(_)) => Ok(FileTarget::InPlace(path.to_path_buf())),
        }
    }

    /// Fail now if a temp file cannot be made beside the target.
    fn probe_dir(&self) -> Result<(), OutputError> {
        if let FileTarget::Atomic(path) = self {
            temp_beside(path).map(drop)?;
        }
        Ok(())
    }

    pub fn write(&self, bytes: &[u8]) -> Result<(), OutputError> {
        match self {
            FileTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                match out.write_all(bytes).and_then(|_| out.flush()) {
                    // `| head`: the reader has what it wanted.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    r => r.map_err(|e| unwritable(Path::new("-"), e)),
                }
            }
            FileTarget::InPlace(path) => std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(|e| unwritable(path, e)),
            FileTarget::Atomic(path) => write_atomic(path, bytes),
        }
    }
}

/// Temp file beside `path`, then rename: a reader sees all or nothing. An
/// existing file keeps its permissions.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes).map_err(|e| unwritable(path, e))?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
    let _ = std::fs::set_permissions(tmp.path(), mode);
    tmp.persist(path).map_err(|e| unwritable(path, e.error))?;
    Ok(())
}

/// A temp file in `path`'s directory.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, OutputError> {
    let dir = parent_of(path);
    tempfile::NamedTempFile::new_in(&dir).map_err(|e| temp_error(path, &dir, &e))
}

/// Making a temp entry in `dir` for `path` failed: name the directory, not
/// the temp entry's random name.
fn temp_error(path: &Path, dir: &Path, e: &std::io::Error) -> OutputError {
    // tempfile's message is the OS's, then ` at path ".tmpXYZ"`.
    let msg = e.to_string();
    let os = msg.split(" at path ").next().unwrap_or(&msg);
    let reason = if dir.is_dir() {
        format!("cannot create a file in {}: {os}", dir.display())
    } else {
        format!("{} is not a directory that exists", dir.display())
    };
    unwritable(path, reason)
}

/// The directory a path lives in (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A bundle directory: where it really is (through a symlink), checked to
/// be missing, empty, or (`force`) replaceable.
pub fn check_bundle_dir(out: &Path, force: bool) -> Result<PathBuf, OutputError> {
    let shown = || out.display().to_string();
    let real = match std::fs::symlink_metadata(out) {
        Ok(l) if l.file_type().is_symlink() => match std::fs::canonicalize(out) {
            // The bundle goes where the link points; the link stays.
            Ok(real) => real,
            Err(_) => {
                return Err(OutputError::DanglingLink {
                    path: shown(),
                    target: std::fs::read_link(out)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default(),
                });
            }
        },
        _ => out.to_path_buf(),
    };
    if real.exists() {
        if !real.is_dir() {
            return Err(OutputError::NotADirectory { path: shown() });
        }
        let non_empty = std::fs::read_dir(&real)
            .map_err(|e| unwritable(out, e))?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(OutputError::NotEmpty { path: shown() });
        }
    }
    let parent = parent_of(&real);
    tempfile::Builder::new()
        .prefix(".shmharness-check-")
        .tempdir_in(&parent)
        .map(drop)
        .map_err(|e| temp_error(out, &parent, &e))?;
    Ok(real)
}

/// A name from data (an interpreter id, a variant, a process label) that
/// becomes a path component: never `.`/`..`, a separator, NUL, a control
/// character, or long.
pub fn safe_component<'a>(what: &'static str, name: &'a str) -> Result<&'a str, OutputError> {
    let why = if name.is_empty() {
        Some("empty")
    } else if name == "." || name == ".." {
        Some("a dot name")
    } else if name.contains('/') || name.contains('\\') {
        Some("it has a path separator")
    } else if name.chars().any(char::is_control) {
        Some("it has control characters")
    } else if name.len() > 100 {
        Some("longer than 100 bytes")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else {
        None
    };
    match why {
        Some(why) => Err(OutputError::BadName {
            what,
            name: crate::style::printable(name),
            why,
        }),
        None => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\0b",
            ".hidden",
            &"x".repeat(101),
        ] {
            assert!(safe_component("label", bad).is_err(), "{bad:?}");
        }
        for good in [
            "P1",
            "3.12.1@pyenv",
            "create-only+lenient-tracker",
            "patch:fix",
            "A*",
        ] {
            assert!(safe_component("label", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn targets_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.json");
        assert_eq!(
            FileTarget::check(&file).unwrap(),
            FileTarget::Atomic(file.clone())
        );
        assert!(matches!(
            FileTarget::check(dir.path()),
            Err(OutputError::IsDirectory { .. })
        ));
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(dir.path().join("missing"), &link).unwrap();
        assert!(matches!(
            FileTarget::check(&link),
            Err(OutputError::DanglingLink { .. })
        ));
        std::fs::write(&file, "old").unwrap();
        let good = dir.path().join("good.json");
        std::os::unix::fs::symlink(&file, &good).unwrap();
        let t = FileTarget::check(&good).unwrap();
        t.write(b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&good)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(
            FileTarget::check(Path::new("/dev/null")).unwrap(),
            FileTarget::InPlace("/dev/null".into())
        );
        assert_eq!(
            FileTarget::check(Path::new("-")).unwrap(),
            FileTarget::Stdout
        );
    }
}
