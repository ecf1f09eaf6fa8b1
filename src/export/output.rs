//! Where outputs go, written so that nothing but the named output changes.
//!
//! - `-` is stdout.
//! - A regular file, or a path that does not exist yet: written to a temp
//!   file beside it and renamed over it, so a reader never sees half.
//! - A symlink is followed: its target is written; the link stays a link.
//! - A FIFO, a character device, `/dev/stdout`: written in place (a rename
//!   would replace the device node or the `/dev/stdout` link itself).
//! - A regular file that is a mount point (`mount --bind a.json b.json`):
//!   rewritten in place; a rename over a mount point fails (EBUSY).
//! - A directory, a symlink to nowhere or a symlink loop: refused before
//!   the run starts.
//!
//! Every destination is resolved once, up front, to an absolute path whose
//! directory is real (so a later rename of the current directory changes
//! nothing), and checked before any work, so a run never ends with "cannot
//! write" after minutes of cases. Paths in messages are shown with control
//! characters (newlines too) escaped: an error is one line.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {reason}")]
    Unwritable { path: String, reason: String },
    #[error("--archive: {path} exists; use --force to replace it (with the bundle)")]
    ArchiveExists { path: String },
    #[error("cannot write {path}: it is a directory (name a file)")]
    IsDirectory { path: String },
    #[error("cannot write {path}: a file name cannot end in `/`")]
    TrailingSlash { path: String },
    #[error("cannot write {path}: it is a symlink to {target}, which does not exist")]
    DanglingLink { path: String, target: String },
    #[error("cannot write {path}: it is a symlink loop ({chain})")]
    SymlinkLoop { path: String, chain: String },
    #[error("cannot write {path}: it exists and is not a directory")]
    NotADirectory { path: String },
    #[error("{path} exists and is not empty; pass --force to replace it")]
    NotEmpty { path: String },
    #[error(
        "refusing to replace {what} {path} with the bundle (it is replaced as a whole); name a new folder for it"
    )]
    CurrentDir { what: &'static str, path: String },
    #[error(
        "cannot write {path}: it is a mount point (a bundle replaces its folder, and a mount point cannot be replaced); name a folder inside it"
    )]
    MountPoint { path: String },
    #[error("{first} and {second} name the same file; give each output its own")]
    SameFile { first: String, second: String },
    #[error("{first} and {second} both write to stdout; send one of them to a file")]
    StdoutTwice { first: String, second: String },
    #[error(
        "{output} and --format {format} both write to stdout; send {flag} to a file, or leave out --format (the table then goes to stderr)"
    )]
    StdoutAndFormat {
        output: String,
        flag: String,
        format: String,
    },
    #[error(
        "{output} is inside the bundle {bundle}, which is replaced as a whole; the bundle has results.json and junit.xml already"
    )]
    InsideBundle { output: String, bundle: String },
    #[error(
        "cannot write {path}: {reason}; putting the old {path} back failed too ({back}): it is now at {old}, and the new bundle at {new}"
    )]
    RollbackFailed {
        path: String,
        reason: String,
        back: String,
        old: String,
        new: String,
    },
    #[error(
        "cannot write {what} `{name}` as a file name ({why}); the input is not a shmharness results.json"
    )]
    BadName {
        what: &'static str,
        name: String,
        why: &'static str,
    },
}

/// A path as an error message shows it: control characters, newlines and
/// tabs included, escaped (`\n`), so the message stays one line.
pub fn show(path: &Path) -> String {
    crate::term::style::one_line(&path.display().to_string())
}

pub fn unwritable(path: &Path, reason: impl ToString) -> OutputError {
    OutputError::Unwritable {
        path: show(path),
        reason: reason.to_string(),
    }
}

/// How a file destination is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTarget {
    /// `-`
    Stdout,
    /// A regular file or a new path (a followed symlink's target): temp
    /// file + rename. Absolute.
    Atomic(PathBuf),
    /// A FIFO, a device, `/dev/std*`: opened and written where it is.
    InPlace(PathBuf),
    /// A regular file that is a mount point (a bind-mounted file): a
    /// rename over it fails, so it is truncated and written where it is.
    Mounted(PathBuf),
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
        // `/dev/stdout`, `/dev/fd/N`: an open file of ours (a terminal, a
        // pipe, or the file a shell redirected to). Write through it; a
        // rename would replace the link or orphan the shell's file.
        if ["/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/"]
            .iter()
            .any(|p| path.starts_with(p) || path.to_string_lossy().starts_with(p))
        {
            return Ok(FileTarget::InPlace(path.to_path_buf()));
        }
        let named = locate(path)?;
        let link = match std::fs::symlink_metadata(&named) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if ends_in_slash(path) {
                    return Err(OutputError::TrailingSlash { path: show(path) });
                }
                let target = FileTarget::Atomic(named);
                target.probe(path, false)?;
                return Ok(target);
            }
            Err(e) => return Err(unwritable(path, e)),
        };
        let is_link = link.file_type().is_symlink();
        let meta = if is_link {
            std::fs::metadata(&named).map_err(|e| link_error(path, &named, &e))?
        } else {
            link
        };
        if meta.is_dir() {
            return Err(OutputError::IsDirectory { path: show(path) });
        }
        if ends_in_slash(path) {
            return Err(OutputError::TrailingSlash { path: show(path) });
        }
        if !meta.is_file() {
            // FIFO, character or block device, socket: never renamed over.
            return Ok(FileTarget::InPlace(named));
        }
        // Write the file itself; through a link, the link's target.
        let real = if is_link {
            std::fs::canonicalize(&named).map_err(|e| unwritable(path, e))?
        } else {
            named
        };
        let target = if is_mount_point(&real) {
            FileTarget::Mounted(real)
        } else {
            FileTarget::Atomic(real)
        };
        target.probe(path, is_link)?;
        Ok(target)
    }

    /// Fail now if the target cannot be written: a temp file beside an
    /// atomic target; a mounted file opened for writing (not truncated).
    /// Errors name `user`, the path as given (and its directory as given,
    /// unless it is reached `through_link`).
    fn probe(&self, user: &Path, through_link: bool) -> Result<(), OutputError> {
        match self {
            FileTarget::Atomic(path) => {
                let dir = parent_of(path);
                let shown_dir = if through_link {
                    dir.clone()
                } else {
                    parent_of(user)
                };
                tempfile::NamedTempFile::new_in(&dir)
                    .map(drop)
                    .map_err(|e| temp_error(user, &dir, &shown_dir, &e))
            }
            FileTarget::Mounted(path) => std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map(drop)
                .map_err(|e| unwritable(user, e)),
            FileTarget::Stdout | FileTarget::InPlace(_) => Ok(()),
        }
    }

    /// The file this target writes, for telling two outputs apart (`None`
    /// for stdout).
    pub fn identity(&self) -> Option<PathBuf> {
        match self {
            FileTarget::Stdout => None,
            FileTarget::Atomic(p) | FileTarget::Mounted(p) => Some(p.clone()),
            FileTarget::InPlace(p) => Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
        }
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
            FileTarget::Mounted(path) => std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
                .map_err(|e| unwritable(path, e)),
            FileTarget::Atomic(path) => write_atomic(path, bytes),
        }
    }
}

/// `path` ends in `/` (`out/`): it names a directory.
fn ends_in_slash(path: &Path) -> bool {
    path.as_os_str().as_encoded_bytes().ends_with(b"/")
}

/// Where `path` is, once and for all: absolute, its directory resolved by
/// the OS (symlinks and `..`), its last component kept as named (a link is
/// not followed here). A trailing `/` and `.` components are dropped;
/// ending in `..` (or `/`), it is the directory itself, resolved.
pub fn locate(path: &Path) -> Result<PathBuf, OutputError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| unwritable(path, format!("the current directory is gone ({e})")))?
            .join(path)
    };
    let abs: PathBuf = abs.components().collect();
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|real| real.join(name))
            .map_err(|e| dir_error(path, &e)),
        _ => std::fs::canonicalize(&abs).map_err(|e| dir_error(path, &e)),
    }
}

/// The directory of `path` cannot be resolved: say which, and why.
fn dir_error(path: &Path, e: &std::io::Error) -> OutputError {
    let dir = show(&parent_of(path));
    let reason = if e.raw_os_error() == Some(libc::ELOOP) {
        format!("{dir} is a symlink loop")
    } else if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) {
        format!("{dir} is not a directory that exists")
    } else {
        format!("cannot reach {dir}: {e}")
    };
    unwritable(path, reason)
}

/// A symlink that cannot be followed: to nowhere, or round in a loop.
fn link_error(path: &Path, named: &Path, e: &std::io::Error) -> OutputError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        OutputError::SymlinkLoop {
            path: show(path),
            chain: link_chain(path, named),
        }
    } else if e.kind() == std::io::ErrorKind::NotFound {
        OutputError::DanglingLink {
            path: show(path),
            target: std::fs::read_link(named)
                .map(|t| show(&t))
                .unwrap_or_default(),
        }
    } else {
        unwritable(path, e)
    }
}

/// `loopa -> loopb -> loopa`: the links from `named` (spelled `path`) until
/// one repeats (at most 8 shown).
fn link_chain(path: &Path, named: &Path) -> String {
    let mut chain = vec![show(path)];
    let mut seen = vec![named.to_path_buf()];
    let mut at = named.to_path_buf();
    while let Ok(target) = std::fs::read_link(&at) {
        chain.push(show(&target));
        at = parent_of(&at).join(&target).components().collect();
        if seen.contains(&at) {
            return chain.join(" -> ");
        }
        if chain.len() > 8 {
            break;
        }
        seen.push(at.clone());
    }
    chain.push("...".into());
    chain.join(" -> ")
}

/// Whether `path` (real, existing) is a mount point: a mounted
/// filesystem's root, or a file or folder bind-mounted there. Its mount id
/// (statx, Linux 5.8+) differs from its directory's; without mount ids,
/// its device does. (Devices alone mislead: a btrfs subvolume has its own,
/// and so may a file in an overlayfs lower layer.) `/` is one.
pub fn is_mount_point(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return true;
    };
    #[cfg(target_os = "linux")]
    if let (Some(a), Some(b)) = (mount_id(path), mount_id(dir)) {
        return a != b;
    }
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), std::fs::metadata(dir)) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

/// statx(2): the mount id of `path`, where the kernel gives one.
#[cfg(target_os = "linux")]
fn mount_id(path: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statx only writes the zeroed plain-data struct it is given;
    // `c` is a valid NUL-terminated path.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_MNT_ID, &mut buf) };
    (rc == 0 && buf.stx_mask & libc::STATX_MNT_ID != 0).then_some(buf.stx_mnt_id)
}

/// Temp file beside `path`, then rename: a reader sees all or nothing. An
/// existing file keeps its permissions.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent_of(path);
    let mut tmp =
        tempfile::NamedTempFile::new_in(&dir).map_err(|e| temp_error(path, &dir, &dir, &e))?;
    tmp.write_all(bytes).map_err(|e| unwritable(path, e))?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
    let _ = std::fs::set_permissions(tmp.path(), mode);
    tmp.persist(path).map_err(|e| unwritable(path, e.error))?;
    Ok(())
}

/// Making a temp entry in `dir` for `path` failed: name the directory (as
/// `shown_dir`, how the user spelled it), not the temp entry's random name.
fn temp_error(path: &Path, dir: &Path, shown_dir: &Path, e: &std::io::Error) -> OutputError {
    // tempfile's message is the OS's, then ` at path ".tmpXYZ"`.
    let msg = e.to_string();
    let os = msg.split(" at path ").next().unwrap_or(&msg);
    let reason = if dir.is_dir() {
        format!("cannot create a file in {}: {os}", show(shown_dir))
    } else {
        format!("{} is not a directory that exists", show(shown_dir))
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

/// A bundle directory: where it really is (absolute, through a symlink),
/// checked to be missing, empty, or (`force`) replaceable. Never the
/// current directory or one that holds it (it is renamed aside, and every
/// relative path with it), never a mount point (it cannot be renamed).
pub fn check_bundle_dir(out: &Path, force: bool) -> Result<PathBuf, OutputError> {
    let named = locate(out)?;
    let (real, through_link) = match std::fs::symlink_metadata(&named) {
        // The bundle goes where the link points; the link stays.
        Ok(l) if l.file_type().is_symlink() => (
            std::fs::canonicalize(&named).map_err(|e| link_error(out, &named, &e))?,
            true,
        ),
        _ => (named, false),
    };
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize);
    if let Ok(cwd) = cwd
        && cwd.starts_with(&real)
    {
        return Err(OutputError::CurrentDir {
            what: if cwd == real {
                "the current directory"
            } else {
                "the folder holding the current directory"
            },
            path: show(out),
        });
    }
    match std::fs::symlink_metadata(&real) {
        Ok(m) if !m.is_dir() => return Err(OutputError::NotADirectory { path: show(out) }),
        Ok(_) => {
            if is_mount_point(&real) {
                return Err(OutputError::MountPoint { path: show(out) });
            }
            let non_empty = std::fs::read_dir(&real)
                .map_err(|e| unwritable(out, e))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(OutputError::NotEmpty { path: show(out) });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(unwritable(out, e)),
    }
    let parent = parent_of(&real);
    tempfile::Builder::new()
        .prefix(".shmharness-check-")
        .tempdir_in(&parent)
        .map(drop)
        .map_err(|e| {
            let shown_dir = if through_link {
                parent.clone()
            } else {
                parent_of(out)
            };
            temp_error(out, &parent, &shown_dir, &e)
        })?;
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
            name: crate::term::style::printable(name),
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

    #[test]
    fn a_path_is_located_once_absolute_without_its_trailing_slash() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("sub")).unwrap();
        let at = |p: &str| locate(&real.join(p)).unwrap();
        assert_eq!(at("sub/"), real.join("sub"));
        assert_eq!(at("./sub/./x"), real.join("sub/x"));
        assert_eq!(at("sub/../x"), real.join("x"));
        assert_eq!(at("sub/.."), real);
        // The last component is kept as named, even when it is a link.
        std::os::unix::fs::symlink("sub", real.join("link")).unwrap();
        assert_eq!(at("link/"), real.join("link"));
        // Relative: against the current directory, now.
        let cwd = std::fs::canonicalize(".").unwrap();
        assert_eq!(locate(Path::new("x.json")).unwrap(), cwd.join("x.json"));
        assert!(locate(Path::new("x.json")).unwrap().is_absolute());
    }

    #[test]
    fn a_loop_a_trailing_slash_and_control_characters() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("loopa"), dir.path().join("loopb"));
        std::os::unix::fs::symlink("loopb", &a).unwrap();
        std::os::unix::fs::symlink("loopa", &b).unwrap();
        let err = FileTarget::check(&a).unwrap_err().to_string();
        assert!(
            err.ends_with(&format!(
                "loopa: it is a symlink loop ({} -> loopb -> loopa)",
                a.display()
            )),
            "{err}"
        );
        let err = check_bundle_dir(&b, true).unwrap_err().to_string();
        assert!(err.contains("symlink loop"), "{err}");
        let slash = dir.path().join("new.json/");
        assert!(matches!(
            FileTarget::check(&slash),
            Err(OutputError::TrailingSlash { .. })
        ));
        assert!(!dir.path().join("new.json").exists());
        assert_eq!(show(Path::new("a\nb\tc\x1bd")), "a\\nb\\tc\\u{1b}d");
        let err = FileTarget::check(Path::new("/nonexistent-shmh\ndir/x.json"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn the_current_directory_and_mount_points_are_not_bundles() {
        // The tests' current directory, and `/`, which holds it.
        for cwd in [".", "./", "/"] {
            assert!(
                matches!(
                    check_bundle_dir(Path::new(cwd), true),
                    Err(OutputError::CurrentDir { .. })
                ),
                "{cwd}"
            );
        }
        assert!(is_mount_point(Path::new("/")));
        assert!(is_mount_point(Path::new("/proc")));
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        assert!(!is_mount_point(&real));
        std::fs::write(real.join("f"), "").unwrap();
        assert!(!is_mount_point(&real.join("f")));
        // A folder in a temp dir is fine, and comes back absolute.
        assert_eq!(
            check_bundle_dir(&real.join("b/"), false).unwrap(),
            real.join("b")
        );
    }
}
