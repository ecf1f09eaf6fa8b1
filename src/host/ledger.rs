//! What a run leaves behind if it is killed with SIGKILL, and who cleans it.
//!
//! Each run keeps a ledger, one small append-only file: its temp dirs (and
//! a bundle's staging dirs, an overlay's build dir) and every segment it or
//! one of its role processes is about to create (a role appends the name
//! *before* its `shm_open`, see roles.py). A normal end (success, failure,
//! Ctrl-C) removes the ledger with everything else. A run killed with
//! SIGKILL cannot; the next run (or `shmharness clean`) removes what the
//! ledgers of dead runs list.
//!
//! Trust, because this runs as root in CI containers:
//! - A ledger is read only from a directory that belongs to this user and
//!   that nobody else can write (`runs`, made 0700; every directory above
//!   it belongs to this user or root), and only if the file is a regular
//!   file (opened with `O_NOFOLLOW|O_NONBLOCK`: no symlink, no FIFO) of this
//!   user's, writable by nobody else. Anything else is ignored, with a note.
//! - A ledger is written with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600.
//! - A run holds `flock(LOCK_EX)` on its ledger for its whole life, so a
//!   ledger is dead only when that lock can be taken: no pid or start time
//!   is compared, so a live run in another PID namespace stays live.
//! - A listed directory is removed only if its name is one shmharness
//!   gives, it sits directly in the directory the run recorded, reached
//!   with no symlink, that directory belongs to this user (writable by
//!   nobody else) or is sticky, and the directory itself belongs to this
//!   user and is the very one the run made (device and inode). It is
//!   removed through file descriptors only.
//! - A listed segment is unlinked only if its name has the harness's form
//!   (`shm::is_harness_name`) and it belongs to this user.
//! - No process is ever chosen by its name or command line: role processes
//!   die with the harness (`PR_SET_PDEATHSIG`, see `proc`).
//!
//! Where: `$XDG_RUNTIME_DIR/shmharness/runs`, else (or when that is not
//! this user's alone) the cache dir's `runs`.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::host::sys;

/// The first line of every ledger this version writes; a file without it
/// is left alone.
const HEADER: &str = "shmharness-ledger 2";

/// A ledger longer than this is read only this far.
const MAX_LEN: u64 = 64 << 20;

/// The ledger of this process, once a run started one.
static LEDGER: Mutex<Option<Ledger>> = Mutex::new(None);

struct Ledger {
    path: PathBuf,
    /// Holds `LOCK_EX` until this process ends.
    file: std::fs::File,
}

/// Where ledgers may live, best first.
fn places() -> Vec<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("shmharness").join("runs"));
    runtime
        .into_iter()
        .chain(sys::cache_dir().map(|d| d.join("runs")))
        .collect()
}

/// Make `runs` (`<base>/shmharness/runs`) and its parent 0700 if missing,
/// and check that only this user can change what is in it: both belong to
/// this user and are writable by nobody else, and nobody but this user or
/// root can rename anything above them. Says why not.
fn trusted(runs: &Path) -> Result<(), String> {
    let (Some(top), Some(base)) = (runs.parent(), runs.parent().and_then(Path::parent)) else {
        return Err(format!("{} has no parent", runs.display()));
    };
    if let Some(why) = sys::others_can_write(base) {
        return Err(why);
    }
    if !base.is_dir() && std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|r| base == r) {
        return Err(format!("{} does not exist", base.display()));
    }
    std::fs::create_dir_all(base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    for dir in [top, runs] {
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(format!("cannot create {}: {e}", dir.display()));
            }
            _ => sys::private_dir(dir)?,
        }
    }
    // Ledgers say which temp dirs a run had: nobody else's business (an
    // older version made this 0755).
    let _ = std::fs::set_permissions(runs, std::fs::Permissions::from_mode(0o700));
    Ok(())
}

/// Print `line` on stderr, once per process for each `flag`.
fn note_once(flag: &AtomicBool, line: &str) {
    if !flag.swap(true, Ordering::SeqCst) {
        eprintln!("note: {}", crate::term::style::printable(line));
    }
}

/// The ledger directories this user alone can change, best first; a place
/// that is not is named in a note (once) and skipped.
fn dirs() -> Vec<PathBuf> {
    static NOTED: AtomicBool = AtomicBool::new(false);
    let (ok, refused): (Vec<_>, Vec<_>) = places()
        .into_iter()
        .map(|p| {
            let why = trusted(&p).err();
            (p, why)
        })
        .partition(|(_, why)| why.is_none());
    let ok: Vec<PathBuf> = ok.into_iter().map(|(p, _)| p).collect();
    for (place, why) in refused {
        let instead = match ok.first() {
            Some(d) => format!("using {} instead", d.display()),
            None => "this run keeps no ledger, so `clean` could not clean up after a SIGKILL"
                .to_string(),
        };
        note_once(
            &NOTED,
            &format!(
                "ignoring the run ledgers in {}: {}; {instead}",
                place.display(),
                why.unwrap_or_default()
            ),
        );
    }
    ok
}

/// `flock` on `file`: `LOCK_EX`, waiting for it unless `wait` is false.
fn lock(file: &std::fs::File, wait: bool) -> bool {
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock on an open fd has no memory-safety preconditions.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return true;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Start this run's ledger (idempotent). Failing to keep one is not fatal:
/// it only means a SIGKILL would leave debris for `clean` to miss.
pub fn open() {
    let mut ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    // Unit tests never keep one: it would go to the user's own dirs.
    if ledger.is_none() && !cfg!(test) {
        *ledger = dirs().first().and_then(|d| create(d));
    }
}

/// A new ledger in `dir`, locked, its header written.
fn create(dir: &Path) -> Option<Ledger> {
    let pid = std::process::id();
    for _ in 0..8 {
        let path = dir.join(format!("{pid}-{:012x}.run", sys::random48()));
        let file = match std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        };
        if !lock(&file, true) {
            return None;
        }
        // A sweep that took the lock before us found it empty and removed
        // it: start again under a new name.
        if file.metadata().map_or(true, |m| m.nlink() == 0) {
            continue;
        }
        let mut ledger = Ledger { path, file };
        ledger.write(&format!("{HEADER}\npid {pid}\n"));
        return Some(ledger);
    }
    None
}

impl Ledger {
    /// One write(2) per call: roles append lines to the same file.
    fn write(&mut self, text: &str) {
        let _ = self.file.write_all(text.as_bytes());
    }
}

fn append(line: &str) {
    let mut ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = ledger.as_mut() {
        l.write(&format!("{line}\n"));
    }
}

/// This run's ledger, for the role processes to append the segments they
/// are about to create (`SHMHARNESS_LEDGER`).
pub fn path() -> Option<PathBuf> {
    let ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    ledger.as_ref().map(|l| l.path.clone())
}

/// Bytes as lowercase hex, and back: paths in a ledger may hold spaces.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A directory this run made (a temp dir, a build dir, a bundle's staging
/// dir): where it sits, its name, and which directory it is.
pub fn note_dir(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    // The real path of where it sits: a sweep finds it with no symlink.
    let root = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
    append(&format!(
        "tmp {} {} {} {}",
        meta.dev(),
        meta.ino(),
        hex(root.as_os_str().as_bytes()),
        hex(name.as_bytes())
    ));
}

/// A segment whose creation this run saw.
pub fn note_segment(name: &str) {
    if !name.is_empty() && !name.contains(char::is_whitespace) {
        append(&format!("seg {name}"));
    }
}

/// The run ended and cleaned up after itself: its ledger goes too.
pub fn close() {
    if let Some(l) = LEDGER.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = std::fs::remove_file(&l.path);
    }
}

/// What the ledgers of dead runs listed, and what was removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs: usize,
    pub dirs: Vec<PathBuf>,
    pub segments: Vec<String>,
}

/// One line of a ledger.
#[derive(Debug, PartialEq, Eq)]
enum Record {
    /// A directory: device and inode, the real path it sits in, its name.
    Dir {
        dev: u64,
        ino: u64,
        root: PathBuf,
        name: OsString,
    },
    Segment(String),
}

/// The records of a ledger this version wrote; `None` for anything else.
fn parse(text: &str) -> Option<Vec<Record>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    Some(
        lines
            .filter_map(|line| {
                let mut words = line.split(' ');
                match (words.next()?, words.next()?) {
                    ("seg", name) => Some(Record::Segment(name.to_string())),
                    ("tmp", dev) => Some(Record::Dir {
                        dev: dev.parse().ok()?,
                        ino: words.next()?.parse().ok()?,
                        root: PathBuf::from(OsString::from_vec(unhex(words.next()?)?)),
                        name: OsString::from_vec(unhex(words.next()?)?),
                    }),
                    _ => None,
                }
            })
            .collect(),
    )
}

/// Remove what dead runs left: for each ledger no live run holds, the
/// directories and segments it lists that pass every check above.
pub fn sweep() -> Swept {
    let mut swept = Swept::default();
    for dir in dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if crate::host::proc::cancelled() {
                return swept;
            }
            if entry.file_name().as_bytes().ends_with(b".run") {
                sweep_ledger(&entry.path(), &mut swept);
            }
        }
    }
    swept
}

fn sweep_ledger(path: &Path, swept: &mut Swept) {
    let Some((file, text)) = dead_ledger(path) else {
        return;
    };
    let records = if text.is_empty() {
        // Created, but its run died before writing a word.
        Vec::new()
    } else {
        match parse(&text) {
            Some(records) => records,
            None => return,
        }
    };
    swept.runs += usize::from(!records.is_empty());
    for record in records {
        match record {
            Record::Dir {
                dev,
                ino,
                root,
                name,
            } => {
                if remove_dir(&root, &name, dev, ino) {
                    swept.dirs.push(root.join(name));
                }
            }
            Record::Segment(name) => {
                if !swept.segments.contains(&name) && remove_segment(&name) {
                    swept.segments.push(name);
                }
            }
        }
    }
    // Removed while still locked: a run starting now cannot take it over.
    let _ = std::fs::remove_file(path);
    drop(file);
}

/// The ledger at `path` with its text, if it is a regular file of this
/// user's, writable by nobody else, that no live run holds (its lock is
/// taken, and held by the file returned). A FIFO, a symlink or a device is
/// never opened for reading; a file of someone else's gets a note.
fn dead_ledger(path: &Path) -> Option<(std::fs::File, String)> {
    static NOTED: AtomicBool = AtomicBool::new(false);
    let seen = std::fs::symlink_metadata(path).ok()?;
    if !seen.is_file() {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.dev() != seen.dev() || meta.ino() != seen.ino() {
        return None;
    }
    if meta.uid() != sys::uid() || meta.mode() & 0o022 != 0 {
        note_once(
            &NOTED,
            &format!(
                "ignoring the run ledger {}: it belongs to uid {} (mode {}), and only this user's (uid {}), writable by nobody else, are read",
                path.display(),
                meta.uid(),
                sys::mode_text(meta.mode()),
                sys::uid()
            ),
        );
        return None;
    }
    if !lock(&file, false) {
        return None;
    }
    let mut text = String::new();
    (&file).take(MAX_LEN).read_to_string(&mut text).ok()?;
    Some((file, text))
}

/// Names shmharness gives the directories it makes: `shmharness-*` (temp,
/// build and discarded cache dirs) and a bundle's `.NAME.tmp-*`/`.NAME.old-*`.
fn made_by_us(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let bundle = name.starts_with('.') && (name.contains(".tmp-") || name.contains(".old-"));
    !name.contains('/') && (name.starts_with("shmharness-") || bundle)
}

/// Remove the directory `name` in `root` if it is the one a run made there
/// (see the module doc for every check).
fn remove_dir(root: &Path, name: &OsStr, dev: u64, ino: u64) -> bool {
    if !made_by_us(name) || !root.is_absolute() {
        return false;
    }
    // No symlink on the way: the real path is the recorded one.
    if std::fs::canonicalize(root).ok().as_deref() != Some(root) {
        return false;
    }
    let Ok(top) = sys::open_dir_at(None, root.as_os_str()) else {
        return false;
    };
    let Ok(st) = sys::fstat(&top) else {
        return false;
    };
    let me = sys::uid();
    let sticky = st.st_mode & libc::S_ISVTX as libc::mode_t != 0;
    let only_mine = st.st_uid == me && st.st_mode & 0o022 == 0;
    if !only_mine && !(sticky && (st.st_uid == me || st.st_uid == 0)) {
        return false;
    }
    let the_one = |d: &libc::stat| d.st_uid == me && sys::dev_ino(d) == (dev, ino);
    sys::remove_tree_at(&top, name, &the_one).is_ok()
}

/// Unlink `name` if it has the harness's form and belongs to this user.
fn remove_segment(name: &str) -> bool {
    crate::host::shm::is_harness_name(name)
        && crate::host::shm::owner(name) == Some(sys::uid())
        && crate::host::shm::unlink(name)
}

impl Swept {
    /// One line for stderr, or `None` when there was nothing to do.
    pub fn line(&self) -> Option<String> {
        if self.dirs.is_empty() && self.segments.is_empty() {
            return None;
        }
        Some(format!(
            "note: removed what {} killed earlier left: {} and {}",
            crate::term::style::plural(self.runs, "run"),
            crate::term::style::plural(self.dirs.len(), "temp dir"),
            crate::term::style::plural(self.segments.len(), "segment")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_reads_back_what_was_written_and_nothing_else() {
        let dir = Path::new("/tmp/a dir\nwith a newline");
        let text = format!(
            "{HEADER}\npid 7\ntmp 1 2 {} {}\nseg shmh0123456789ab_1\nkill 1 2\ntmp x 2 00 00\n",
            hex(dir.as_os_str().as_bytes()),
            hex(b"shmharness-x")
        );
        assert_eq!(
            parse(&text).unwrap(),
            [
                Record::Dir {
                    dev: 1,
                    ino: 2,
                    root: dir.to_path_buf(),
                    name: "shmharness-x".into()
                },
                Record::Segment("shmh0123456789ab_1".into())
            ]
        );
        // An older ledger (pid and start time, plain paths) is not read.
        assert_eq!(parse("start 123\ndir /tmp/shmharness-x\n"), None);
    }

    #[test]
    fn only_names_shmharness_gives_its_directories_count_as_its() {
        for ours in [
            "shmharness-abc",
            "shmharness-build-x",
            ".out.tmp-x1",
            ".b.old-zz",
        ] {
            assert!(made_by_us(OsStr::new(ours)), "{ours}");
        }
        for theirs in [
            "data",
            "shmharnessx",
            ".out",
            "..",
            "a/shmharness-x",
            "tmp-x",
        ] {
            assert!(!made_by_us(OsStr::new(theirs)), "{theirs}");
        }
    }
}
