//! Roles from a zygote (`--roles zygote`): each role process is forked from
//! a long-lived interpreter per (interpreter, overlay) that has already
//! imported what a role imports, instead of being a fresh interpreter that
//! pays that import again (most of a case's CPU; README, "Performance and
//! reliability").
//!
//! This is a [`World`] around the real one: the engine is unchanged. A
//! role's command (`python -B -s roles.py ROLE ...` with its environment)
//! is split into what makes its starting state (executable, flags, the
//! environment with the overlay on `PYTHONPATH`, the directory) and the
//! role's own arguments; one zygote serves each distinct starting state,
//! started the first time one is needed, with exactly that command but
//! `pyscenarios/zygote.py` in place of the role script (same directory, so
//! the same `sys.path[0]`). Its module doc says what the forked role sets
//! up to be in a fresh interpreter's state.
//!
//! The process tree is an exec'd role's: the zygote forks twice, so the
//! role is reparented to the harness (a child subreaper) and is the
//! harness's own child, leader of its own process group. The harness sends
//! the role's stdin, stdout and stderr pipes (and a go-ahead pipe) over a
//! unix socket, hears its pid, and takes it in with
//! [`Running::adopt`]: from then on it is read to EOF, reaped (exit status,
//! CPU time, the orphaned tracker's status by process group), timed out
//! and killed exactly as a child `proc` exec'd.
//!
//! Anything the zygote cannot do (PyPy, no `fork`, a failure to start or
//! to answer) falls back to exec for that starting state, with one note
//! per interpreter; the case never sees the difference.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::{Child, World};
use crate::host::proc::{Running, Spec};

pub mod equivalence;
mod wire;

/// The zygote's script, embedded like the role script.
pub const ZYGOTE_PY: &str = include_str!("../../../pyscenarios/zygote.py");

/// How role processes start (`--roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Roles {
    /// Every role is a fresh interpreter (`python -B -s roles.py ...`).
    #[default]
    Exec,
    /// Roles are forked from a zygote per (interpreter, overlay) that has
    /// already imported what a role imports; exec where it cannot start.
    Zygote,
}

/// Everything in a role's command but the role's own arguments: two roles
/// with the same key start from the same interpreter state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    program: PathBuf,
    /// The interpreter's flags: the arguments before the script.
    flags: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    dir: Option<PathBuf>,
}

enum State {
    New,
    Ready(Zygote),
    /// It could not start or stopped answering: exec from now on.
    Failed,
}

/// A zygote that said `ready`, and our end of its socket.
struct Zygote {
    process: Box<dyn Child>,
    conn: UnixStream,
    replies: BufReader<UnixStream>,
}

/// The world as `--roles` sees it: roles through zygotes (or exec), the
/// rest (segments, the ledger) from the world inside.
pub struct Zygotes<'w> {
    inner: &'w dyn World,
    mode: Roles,
    script: PathBuf,
    zygote_py: PathBuf,
    timeout: Duration,
    /// Executable -> interpreter id, for the notes.
    names: HashMap<PathBuf, String>,
    slots: Mutex<HashMap<Key, Arc<Mutex<State>>>>,
    /// Interpreters already named in a fallback note.
    noted: Mutex<BTreeSet<String>>,
    sockets: AtomicUsize,
}

impl<'w> Zygotes<'w> {
    /// `script`: the role script (the zygote goes next to it); `names`:
    /// each interpreter's executable and id.
    pub fn new(
        inner: &'w dyn World,
        mode: Roles,
        script: &Path,
        names: HashMap<PathBuf, String>,
        timeout: Duration,
    ) -> Zygotes<'w> {
        let zygote_py = script.with_file_name("zygote.py");
        let mut mode = mode;
        if mode == Roles::Zygote
            && let Err(e) = std::fs::write(&zygote_py, ZYGOTE_PY)
        {
            eprintln!(
                "note: --roles zygote: every role runs with exec (cannot write the zygote: {e})"
            );
            mode = Roles::Exec;
        }
        Zygotes {
            inner,
            mode,
            script: script.to_path_buf(),
            zygote_py,
            timeout,
            names,
            slots: Mutex::new(HashMap::new()),
            noted: Mutex::new(BTreeSet::new()),
            sockets: AtomicUsize::new(0),
        }
    }

    /// Stop every zygote and reap it, so its CPU time (and its
    /// intermediate children's) is in RUSAGE_CHILDREN when the run
    /// measures it. Closing the socket is the zygote's signal to exit.
    pub fn close(&self) {
        let slots: Vec<_> = self.lock_slots().drain().map(|(_, s)| s).collect();
        for slot in slots {
            let state = std::mem::replace(
                &mut *slot.lock().unwrap_or_else(|e| e.into_inner()),
                State::Failed,
            );
            if let State::Ready(z) = state {
                drop(z.replies);
                drop(z.conn);
                z.process.finish();
            }
        }
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Mutex<State>>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key and the role's arguments of a role command (`-B -s SCRIPT
    /// ARGS`); `None` for anything else, which is exec'd.
    fn split(&self, spec: &Spec) -> Option<(Key, Vec<String>)> {
        let at = spec.args.iter().position(|a| Path::new(a) == self.script)?;
        let flags = &spec.args[..at];
        if !flags.iter().all(|f| f.to_string_lossy().starts_with('-')) {
            return None;
        }
        let args = spec.args[at + 1..]
            .iter()
            .map(|a| a.to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        let key = Key {
            program: spec.program.clone(),
            flags: flags.to_vec(),
            env: spec.env.clone(),
            env_remove: spec.env_remove.clone(),
            dir: spec.dir.clone(),
        };
        Some((key, args))
    }

    /// The role forked by its zygote (started now if it is the first), or
    /// `None`: exec it.
    fn forked(
        &self,
        spec: &Spec,
        key: Key,
        args: &[String],
        timeout: Duration,
    ) -> io::Result<Option<Box<dyn Child>>> {
        if crate::host::proc::cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let slot = Arc::clone(
            self.lock_slots()
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Mutex::new(State::New))),
        );
        let mut state = slot.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::New) {
            *state = match self.launch(spec, &key) {
                Ok(z) => State::Ready(z),
                Err(why) => {
                    self.note(spec, &why);
                    State::Failed
                }
            };
        }
        let State::Ready(z) = &mut *state else {
            return Ok(None);
        };
        if crate::term::progress::verbose() {
            eprintln!(
                "  $ {} (forked by its zygote)",
                crate::term::style::printable(&spec.command_line())
            );
        }
        match z.fork(args, timeout) {
            Ok(running) => Ok(Some(Box::new(running))),
            Err(why) => {
                if let State::Ready(z) = std::mem::replace(&mut *state, State::Failed) {
                    drop(z.conn);
                    z.process.finish();
                }
                self.note(spec, &format!("its zygote stopped answering: {why}"));
                Ok(None)
            }
        }
    }

    /// Start the zygote for `key`: the role's command with the zygote in
    /// place of the script, and wait until it says `ready`.
    fn launch(&self, spec: &Spec, key: &Key) -> Result<Zygote, String> {
        if !crate::host::proc::become_subreaper() {
            return Err(
                "no child subreaper here (Linux only), so a forked role could not be our child"
                    .into(),
            );
        }
        let n = self.sockets.fetch_add(1, Ordering::SeqCst);
        let socket = self.zygote_py.with_file_name(format!("zygote-{n}.sock"));
        let listener = UnixListener::bind(&socket)
            .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
        let mut command = spec.clone();
        // Not PR_SET_PDEATHSIG: it fires when the *thread* that started the
        // process ends, and this pool worker may end while others still
        // fork roles from this zygote. The zygote ends when its socket
        // closes, which the harness's death does too; the roles it forks
        // set their own (roles.py).
        command.die_with_us = false;
        command.args = key.flags.clone();
        command.args.extend([
            self.zygote_py.clone().into_os_string(),
            socket.clone().into_os_string(),
            self.script.clone().into_os_string(),
        ]);
        let mut process = self
            .inner
            .spawn(&command, self.timeout)
            .map_err(|e| format!("cannot start it: {e}"))?;
        if process.wait_for_line(&|l| l == "ready").is_err() {
            let finished = process.finish();
            let said = finished
                .stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .map(|l| l.trim().trim_start_matches("zygote: "))
                .unwrap_or("it ended without a word");
            return Err(if finished.timed_out {
                format!("not ready in {:?}", self.timeout)
            } else {
                said.to_string()
            });
        }
        // It connected before it said `ready`: the connection is queued.
        let accepted = listener.accept();
        let _ = std::fs::remove_file(&socket);
        let conn = accepted
            .map(|(c, _)| c)
            .map_err(|e| format!("cannot accept its connection: {e}"))?;
        let replies = conn
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| conn.try_clone())
            .map_err(|e| e.to_string())?;
        Ok(Zygote {
            process,
            conn,
            replies: BufReader::new(replies),
        })
    }

    /// Say once per interpreter that its roles are exec'd, and why (not
    /// after Ctrl-C: the zygote died with everything else).
    fn note(&self, spec: &Spec, why: &str) {
        if crate::host::proc::cancelled() {
            return;
        }
        let name = self
            .names
            .get(&spec.program)
            .cloned()
            .unwrap_or_else(|| spec.program.display().to_string());
        if self
            .noted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone())
        {
            eprintln!(
                "note: --roles zygote: {name} runs its roles with exec: {}",
                crate::term::style::printable(why)
            );
        }
    }
}

impl Zygote {
    /// Ask for one role: send its arguments and pipes, hear its pid, take
    /// it in, then let it go.
    fn fork(&mut self, args: &[String], timeout: Duration) -> Result<Running, String> {
        let err = |e: io::Error| e.to_string();
        let (stdin_r, stdin_w) = io::pipe().map_err(err)?;
        let (stdout_r, stdout_w) = io::pipe().map_err(err)?;
        let (stderr_r, stderr_w) = io::pipe().map_err(err)?;
        let (go_r, mut go_w) = io::pipe().map_err(err)?;
        let line = serde_json::to_string(args).map_err(|e| e.to_string())? + "\n";
        let fds = [
            stdin_r.as_raw_fd(),
            stdout_w.as_raw_fd(),
            stderr_w.as_raw_fd(),
            go_r.as_raw_fd(),
        ];
        wire::send_with_fds(&self.conn, line.as_bytes(), &fds).map_err(err)?;
        // The role has its own copies now; ours would keep its pipes open.
        drop((stdin_r, stdout_w, stderr_w, go_r));
        let mut reply = String::new();
        self.replies.read_line(&mut reply).map_err(err)?;
        let pid = wire::pid_of(&reply)?;
        let running = Running::adopt(pid, stdin_w, stdout_r, stderr_r, timeout);
        // A role that died meanwhile (Ctrl-C) reads EOF instead: fine.
        let _ = go_w.write_all(b"g");
        Ok(running)
    }
}

impl World for Zygotes<'_> {
    fn spawn(&self, spec: &Spec, timeout: Duration) -> io::Result<Box<dyn Child>> {
        if self.mode == Roles::Zygote
            && let Some((key, args)) = self.split(spec)
            && let Some(child) = self.forked(spec, key, &args, timeout)?
        {
            return Ok(child);
        }
        self.inner.spawn(spec, timeout)
    }
    fn segment_exists(&self, name: &str) -> bool {
        self.inner.segment_exists(name)
    }
    fn unlink_segment(&self, name: &str) {
        self.inner.unlink_segment(name);
    }
    fn note_created(&self, name: &str) {
        self.inner.note_created(name);
    }
}

impl Drop for Zygotes<'_> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests;
