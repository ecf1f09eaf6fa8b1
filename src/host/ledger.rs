//! What a run leaves behind if it is killed with SIGKILL, and who cleans it.
//!
//! Each run keeps a ledger, one small append-only file named after its pid:
//! its temp dirs and every segment whose creation it saw. A normal end
//! (success, failure, Ctrl-C) removes the ledger with everything else. A
//! run killed with SIGKILL cannot; the next run (or `shmharness clean`)
//! finds ledgers of dead pids and removes exactly what they list: never a
//! segment or a directory the ledger does not name, and only temp dirs
//! named `shmharness-*`.
//!
//! Where: `$XDG_RUNTIME_DIR/shmharness/runs`, else the cache dir's `runs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The ledger of this process, once a run started one.
static LEDGER: Mutex<Option<Ledger>> = Mutex::new(None);

struct Ledger {
    path: PathBuf,
    file: std::fs::File,
}

/// The directory of every run's ledger.
pub fn dir() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("shmharness"));
    runtime
        .or_else(crate::host::sys::cache_dir)
        .map(|d| d.join("runs"))
}

/// This process's start time (clock ticks since boot): with the pid, it
/// tells a live run from a new process that reused a dead run's pid.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, counted after the `(comm)` that may hold spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Start this run's ledger (idempotent). Failing to keep one is not fatal:
/// it only means a SIGKILL would leave debris for `clean` to miss.
pub fn open() {
    let mut ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    if ledger.is_some() {
        return;
    }
    let Some(dir) = dir() else { return };
    let pid = std::process::id();
    let path = dir.join(format!("{pid}.run"));
    let file = std::fs::create_dir_all(&dir).and_then(|_| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
    });
    if let Ok(mut file) = file {
        let _ = writeln!(file, "start {}", start_time(pid).unwrap_or(0));
        *ledger = Some(Ledger { path, file });
    }
}

fn append(kind: &str, value: &str) {
    let mut ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = ledger.as_mut() {
        let _ = writeln!(l.file, "{kind} {value}");
        let _ = l.file.flush();
    }
}

/// A temp dir this run made.
pub fn note_dir(dir: &Path) {
    append("dir", &dir.display().to_string());
}

/// A segment whose creation this run saw.
pub fn note_segment(name: &str) {
    append("seg", name);
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
    /// Role processes of dead runs still running (a holder whose stdin
    /// never closed): killed.
    pub processes: usize,
    pub dirs: Vec<PathBuf>,
    pub segments: Vec<String>,
}

/// Remove what dead runs left: for each ledger whose pid is gone (or now
/// another process), its listed temp dirs and still-existing segments.
pub fn sweep() -> Swept {
    let mut swept = Swept::default();
    let Some(dir) = dir() else { return swept };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return swept;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".run"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let started: Option<u64> = text
            .lines()
            .find_map(|l| l.strip_prefix("start "))
            .and_then(|t| t.parse().ok());
        let alive = pid == me || (start_time(pid).is_some() && start_time(pid) == started);
        if alive {
            continue;
        }
        swept.runs += 1;
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("dir ") {
                let d = PathBuf::from(d);
                let ours = d
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shmharness-"));
                if ours && d.is_dir() {
                    swept.processes += kill_users_of(&d);
                    if std::fs::remove_dir_all(&d).is_ok() {
                        swept.dirs.push(d);
                    }
                }
            } else if let Some(name) = line.strip_prefix("seg ")
                && name.starts_with("shmh")
                && crate::host::shm::exists(name)
                && crate::host::shm::unlink(name)
            {
                swept.segments.push(name.to_string());
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    swept
}

/// SIGKILL every process whose command line names `dir` (the dead run's
/// role script lives there): only processes that run this run's files.
fn kill_users_of(dir: &Path) -> usize {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            // SAFETY: kill has no memory-safety preconditions.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

impl Swept {
    /// One line for stderr, or `None` when there was nothing to do.
    pub fn line(&self) -> Option<String> {
        if self.dirs.is_empty() && self.segments.is_empty() {
            return None;
        }
        let procs = match self.processes {
            0 => String::new(),
            n => format!(", {}", crate::term::style::plural(n, "stray process")),
        };
        Some(format!(
            "note: removed what {} killed earlier left: {} and {}{procs}",
            crate::term::style::plural(self.runs, "run"),
            crate::term::style::plural(self.dirs.len(), "temp dir"),
            crate::term::style::plural(self.segments.len(), "segment")
        ))
    }
}
