//! Child processes: each one in its own process group, with a deadline, and
//! its output read to EOF.
//!
//! Why EOF and not `wait()`: a Python process that touched shared memory has a
//! resource-tracker helper that inherits its stdout and stderr and prints its
//! warnings *after* the process itself has exited. Both pipes reach EOF only
//! when every holder (the process, its tracker, a multiprocessing child) is
//! gone, so "both pipes at EOF and the leader reaped" is the exact moment the
//! process family has said everything. No sleeps, no polling.
//!
//! Why process groups: on a deadline (or Ctrl-C) the whole family, tracker
//! included, is killed with one `killpg`, so nothing is left behind.
//!
//! Children are started with `duct`: it owns the spawn, the environment, the
//! thread-safe wait on the leader. Three small hand-written pieces sit on
//! top, because duct has no way to say them: the pipes
//! are ours (duct's `reader()` merges or captures, but a holding creator
//! needs a stdin we write to line by line and a stdout we read line by line
//! *while* it runs); the kill is `killpg` on the whole group (duct's `kill`
//! signals only its direct child, never the tracker); and the reaping of
//! the group's orphans (`reap_group`, below).
//!
//! Why a child subreaper: a role's resource tracker outlives the role. When
//! the role exits, the tracker is orphaned; without a subreaper it is
//! reparented to init, and its CPU time never reaches our
//! `getrusage(RUSAGE_CHILDREN)`, so the run under-reports its own cost (by
//! about a third: a tracker is one interpreter start per process). With
//! `PR_SET_CHILD_SUBREAPER` the orphans come to us, and each `Running`
//! reaps its own group's orphans after its leader (see `reap_group`): only
//! by process group, never `waitpid(-1)`, so no other `Child`'s exit status
//! is ever stolen.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, PipeWriter, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// What to start: a program, its arguments, its environment, its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Variables set for the child (after `env_remove`).
    pub env: Vec<(OsString, OsString)>,
    /// Variables of ours the child must not see.
    pub env_remove: Vec<OsString>,
    pub dir: Option<PathBuf>,
    /// SIGKILL the child when the harness dies (see `die_with_us`). Only
    /// for a program known to run (an interpreter that answered its
    /// probe): what it takes makes std fork and `execvp`, which runs a
    /// file with no `#!` line through /bin/sh, where `posix_spawn` refuses
    /// it, so never for a probe's candidate.
    pub die_with_us: bool,
}

impl Spec {
    pub fn new(program: impl AsRef<Path>) -> Spec {
        Spec {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            dir: None,
            die_with_us: false,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Spec {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Spec {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Set `key` for the child; a key set again takes the new value.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Spec {
        let key = key.as_ref();
        self.env.retain(|(k, _)| k != key);
        self.env
            .push((key.to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Spec {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// `PYTHONPATH=/tmp/x /usr/bin/python3 -B roles.py creator ...`: what
    /// `--verbose` prints, shell-quoted where needed.
    pub fn command_line(&self) -> String {
        let quote = |s: &OsStr| {
            let s = s.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:+@,%".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        };
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(v)));
        let words =
            std::iter::once(quote(self.program.as_os_str())).chain(self.args.iter().map(|a| {
                let text = a.to_string_lossy();
                // The probe passes a whole script with -c: show its size.
                if text.contains('\n') {
                    format!("<{} lines>", text.lines().count())
                } else {
                    quote(a)
                }
            }));
        env.chain(words).collect::<Vec<_>>().join(" ")
    }
}

/// Most bytes kept of one stream; the rest is read and dropped so the child
/// never blocks on a full pipe.
pub const CAPTURE_LIMIT: usize = 1 << 20;

/// After a group is killed, how long to wait for the pipes to close before
/// giving up on a process that escaped the group.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Process groups that are alive right now, so a signal can kill them all.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Kill every live process group and refuse to start new children.
/// Called from the signal thread.
pub fn cancel_all() {
    CANCELLED.store(true, Ordering::SeqCst);
    let groups = LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    for &pgid in groups.iter() {
        kill_group(pgid, libc::SIGKILL);
    }
}

pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(i32),
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::Exited(c) => write!(f, "exit {c}"),
            Termination::Signaled(s) => write!(f, "killed by signal {s}"),
        }
    }
}

impl Termination {
    fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Exited(-1),
        }
    }

    pub fn code(self) -> Option<i32> {
        match self {
            Termination::Exited(c) => Some(c),
            Termination::Signaled(_) => None,
        }
    }

    pub fn signal(self) -> Option<i32> {
        match self {
            Termination::Signaled(s) => Some(s),
            Termination::Exited(_) => None,
        }
    }
}

/// Everything a finished child said and how it ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub termination: Termination,
    /// Orphans of its group that we reaped (pid, how each ended): its
    /// resource tracker among them, when we are the subreaper.
    pub orphans: Vec<(i32, Termination)>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub duration: Duration,
}

enum Msg {
    Line(String),
    StdoutEof,
    Stderr(Vec<u8>),
    Exited(io::Result<ExitStatus>),
    /// Every orphan of the group that came to us has been reaped.
    GroupReaped(Vec<(i32, Termination)>),
}

/// Make this process the reaper of its orphaned descendants (Linux), so the
/// resource trackers' CPU time is counted in RUSAGE_CHILDREN and no tracker
/// can outlive the harness unseen. Returns whether it took effect.
pub fn become_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a process flag.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Reap every child of ours left in process group `pgid` once its leader
/// is reaped: the orphaned trackers (they are ours when we are a
/// subreaper). Blocks until the group has no child of ours left.
///
/// Safe against pid reuse: while any member remains, the kernel keeps the
/// number `pgid` reserved, so a process whose pid equals `pgid` can only be
/// the leader of a *new* group that reused the number after ours emptied:
/// it belongs to another `Running`, and is left alone (peeked with
/// `WNOWAIT`, never reaped here).
fn reap_group(pgid: i32) -> Vec<(i32, Termination)> {
    let mut reaped = Vec::new();
    loop {
        // SAFETY: waitid writes into the zeroed siginfo we pass.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_PGID,
                pgid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            );
            if rc != 0 {
                // ECHILD: no child of ours left in the group (EINTR: retry).
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return reaped;
            }
            info.si_pid()
        };
        if pid == pgid || pid <= 0 {
            return reaped;
        }
        // SAFETY: reaps exactly the zombie just peeked at.
        let status = unsafe {
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            status
        };
        reaped.push((pid, Termination::from_status(ExitStatus::from_raw(status))));
    }
}

/// Wait for our child `pid` (by pid only: no other child's status is taken).
fn wait_pid(pid: i32) -> io::Result<ExitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only into `status`.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Why waiting for a line stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineWait {
    Eof,
    Timeout,
}

/// A running child. Dropping it without `finish` kills its group.
pub struct Running {
    pid: i32,
    stdin: Option<PipeWriter>,
    rx: mpsc::Receiver<Msg>,
    stdout: Vec<String>,
    stdout_bytes: usize,
    stdout_eof: bool,
    stderr: Option<Vec<u8>>,
    status: Option<io::Result<ExitStatus>>,
    group_reaped: bool,
    /// The group's orphans we reaped (resource trackers, a forkserver),
    /// with how each ended.
    orphans: Vec<(i32, Termination)>,
    started: Instant,
    deadline: Instant,
    timed_out: bool,
    finished: bool,
}

/// The child as duct runs it: its own process group, our pipes, its
/// environment and directory, and no error for a non-zero exit (an exit
/// status is an observation here).
fn expression(
    spec: &Spec,
    stdin: io::PipeReader,
    stdout: io::PipeWriter,
    stderr: io::PipeWriter,
) -> duct::Expression {
    configured(
        spec,
        duct::cmd(&spec.program, &spec.args)
            .stdin_file(stdin)
            .stdout_file(stdout)
            .stderr_file(stderr),
    )
}

/// `expr` in its own process group (and, if `spec` asks, dying with us),
/// with `spec`'s environment and directory, and no error for a non-zero
/// exit.
fn configured(spec: &Spec, mut expr: duct::Expression) -> duct::Expression {
    let die = spec.die_with_us;
    expr = expr.unchecked().before_spawn(move |cmd| {
        cmd.process_group(0);
        if die {
            die_with_us(cmd);
        }
        Ok(())
    });
    // duct applies the outermost call first and the innermost last: `env`
    // (inner) must come after `env_remove` (outer), so a variable both
    // removed and set is set.
    for (key, value) in &spec.env {
        expr = expr.env(key, value);
    }
    for key in &spec.env_remove {
        expr = expr.env_remove(key);
    }
    if let Some(dir) = &spec.dir {
        expr = expr.dir(dir);
    }
    expr
}

/// The child gets SIGKILL when the thread that started it ends (the
/// threads that start children outlive them), so a harness killed with
/// SIGKILL takes its role processes with it: none of them can go on to
/// create a segment that no ledger lists (Linux's `PR_SET_PDEATHSIG`, set
/// in the child before exec). If we died before the child could ask, its
/// parent is already someone else, and it exits at once.
fn die_with_us(cmd: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: runs in the forked child before exec and only makes
        // async-signal-safe calls (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Threads that turn the child's stdout lines, its stderr, its exit and
/// its group's orphans into messages on one channel: the running child
/// waits on that channel, never on a clock.
fn watch(
    wait: impl FnOnce() -> io::Result<ExitStatus> + Send + 'static,
    pid: i32,
    stdout: io::PipeReader,
    stderr: io::PipeReader,
) -> mpsc::Receiver<Msg> {
    let (tx, rx) = mpsc::channel();
    let tx_out = tx.clone();
    let live = crate::term::progress::events();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    // `-vv`: each line as it arrives, not when the engine
                    // next looks at this process.
                    if live {
                        eprintln!("    [{pid}] {}", crate::term::style::one_line(&line));
                    }
                    if tx_out.send(Msg::Line(line)).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx_out.send(Msg::StdoutEof);
    });
    let tx_err = tx.clone();
    thread::spawn(move || {
        let _ = tx_err.send(Msg::Stderr(read_bounded(stderr)));
    });
    thread::spawn(move || {
        let _ = tx.send(Msg::Exited(wait()));
        // The leader is reaped: every member of the group left is an
        // orphan (ours if we are a subreaper).
        let _ = tx.send(Msg::GroupReaped(reap_group(pid)));
    });
    rx
}

/// Run a short tool to its end (git): stdin empty, stdout and stderr
/// captured whole, as bytes (a diff keeps its trailing spaces and `\r`s).
/// `Ok(None)`: it was still running at `timeout`, and its group is killed.
pub fn capture(spec: &Spec, timeout: Duration) -> io::Result<Option<std::process::Output>> {
    if cancelled() {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    let expr = configured(
        spec,
        duct::cmd(&spec.program, &spec.args)
            .stdin_null()
            .stdout_capture()
            .stderr_capture(),
    );
    let handle = expr.start()?;
    let pgid = handle.pids()[0] as i32;
    show_command(spec, pgid);
    match handle.wait_timeout(timeout)? {
        Some(output) => Ok(Some(output.clone())),
        None => {
            kill_group(pgid, libc::SIGKILL);
            let _ = handle.wait();
            Ok(None)
        }
    }
}

/// `-v`: the command line of every process started, after its pid (which
/// `-vv` puts before each of its events).
fn show_command(spec: &Spec, pid: i32) {
    if crate::term::progress::verbose() {
        eprintln!(
            "  $ [{pid}] {}",
            crate::term::style::printable(&spec.command_line())
        );
    }
}

impl Running {
    /// Start `spec` in a new process group with piped stdio. `timeout`
    /// bounds the whole life of the child, including the wait for its pipes.
    pub fn spawn(spec: &Spec, timeout: Duration) -> io::Result<Running> {
        if cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let (stdin_r, stdin_w) = io::pipe()?;
        let (stdout_r, stdout_w) = io::pipe()?;
        let (stderr_r, stderr_w) = io::pipe()?;
        let expr = expression(spec, stdin_r, stdout_w, stderr_w);
        // Register the group under the lock that cancel_all takes, so a
        // signal arriving now either sees this group or stops the spawn.
        let mut live = LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        if cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let handle = Arc::new(expr.start()?);
        // The expression holds our copies of the child's pipe ends; drop
        // them now, or the pipes never reach EOF.
        drop(expr);
        let pid = handle.pids()[0] as i32;
        live.insert(pid);
        drop(live);
        show_command(spec, pid);
        let rx = watch(
            move || handle.wait().map(|out| out.status),
            pid,
            stdout_r,
            stderr_r,
        );
        Ok(Running::watching(pid, stdin_w, rx, timeout))
    }

    /// Take in a child that another process forked for us (a zygote, see
    /// `run::zygote`): it is already our child (we are its subreaper), the
    /// leader of its own process group, and waits for its go-ahead, so
    /// nothing it does escapes the deadline or Ctrl-C. From here on it is
    /// driven, reaped and killed exactly as a child `spawn` started.
    pub fn adopt(
        pid: i32,
        stdin: PipeWriter,
        stdout: io::PipeReader,
        stderr: io::PipeReader,
        timeout: Duration,
    ) -> Running {
        // As in `spawn`: a signal that arrives now either sees this group
        // or has already set `cancelled`, and then the group is killed here.
        let mut live = LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        live.insert(pid);
        if cancelled() {
            kill_group(pid, libc::SIGKILL);
        }
        drop(live);
        let rx = watch(move || wait_pid(pid), pid, stdout, stderr);
        Running::watching(pid, stdin, rx, timeout)
    }

    fn watching(
        pid: i32,
        stdin: PipeWriter,
        rx: mpsc::Receiver<Msg>,
        timeout: Duration,
    ) -> Running {
        let started = Instant::now();
        Running {
            pid,
            stdin: Some(stdin),
            rx,
            stdout: Vec::new(),
            stdout_bytes: 0,
            stdout_eof: false,
            stderr: None,
            status: None,
            group_reaped: false,
            orphans: Vec::new(),
            started,
            deadline: started + timeout,
            timed_out: false,
            finished: false,
        }
    }

    /// Start `spec` and wait for it to end (read to EOF, group reaped).
    pub fn run(spec: &Spec, timeout: Duration) -> io::Result<Finished> {
        Running::spawn(spec, timeout).map(Running::finish)
    }

    /// Write one command line to the child's stdin.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        match self.stdin.as_mut() {
            Some(stdin) => {
                stdin.write_all(line.as_bytes())?;
                stdin.write_all(b"\n")?;
                stdin.flush()
            }
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed")),
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Send a signal to the leader only (not its group): used to simulate a
    /// crash while the resource tracker lives on.
    pub fn signal_leader(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the leader is not
        // reaped before `finish`, so the pid still names it.
        unsafe {
            libc::kill(self.pid, signal);
        }
    }

    /// Wait until a stdout line satisfies `want` and return it. Lines seen
    /// on the way are kept for the transcript.
    pub fn wait_for_line(&mut self, want: impl Fn(&str) -> bool) -> Result<String, LineWait> {
        let start = self.stdout.len();
        loop {
            if let Some(line) = self.stdout[start..].iter().find(|l| want(l)) {
                return Ok(line.clone());
            }
            if self.stdout_eof {
                return Err(LineWait::Eof);
            }
            if !self.recv_until(self.deadline) {
                self.kill_on_deadline();
                return Err(LineWait::Timeout);
            }
        }
    }

    /// Close stdin, read both pipes to EOF and reap the leader, killing the
    /// group if the deadline passes first.
    pub fn finish(mut self) -> Finished {
        self.close_stdin();
        while !self.done() {
            if !self.recv_until(self.deadline) {
                self.kill_on_deadline();
                break;
            }
        }
        // After a kill, give the pipes a bounded time to close.
        let grace = Instant::now() + KILL_GRACE;
        while !self.done() && self.recv_until(grace) {}
        // The orphans closed the pipes as they exited; wait (bounded) until
        // they are reaped too, so their CPU time is in RUSAGE_CHILDREN when
        // the run measures it. Microseconds in practice.
        if self.done() {
            while !self.group_reaped && self.recv_until(grace) {}
        }
        self.finished = true;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.pid);
        let termination = match self.status.take() {
            Some(Ok(status)) => Termination::from_status(status),
            _ => Termination::Signaled(libc::SIGKILL),
        };
        Finished {
            termination,
            orphans: std::mem::take(&mut self.orphans),
            stdout: self.stdout.join("\n") + if self.stdout.is_empty() { "" } else { "\n" },
            stderr: String::from_utf8_lossy(&self.stderr.take().unwrap_or_default()).into_owned(),
            timed_out: self.timed_out,
            duration: self.started.elapsed(),
        }
    }

    fn done(&self) -> bool {
        self.stdout_eof && self.stderr.is_some() && self.status.is_some()
    }

    /// Receive one message; false if `until` passed (or every sender is gone).
    fn recv_until(&mut self, until: Instant) -> bool {
        let wait = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(wait) {
            Ok(Msg::Line(line)) => {
                self.stdout_bytes += line.len() + 1;
                if self.stdout_bytes <= CAPTURE_LIMIT {
                    self.stdout.push(line);
                }
                true
            }
            Ok(Msg::StdoutEof) => {
                self.stdout_eof = true;
                true
            }
            Ok(Msg::Stderr(bytes)) => {
                self.stderr = Some(bytes);
                true
            }
            Ok(Msg::Exited(status)) => {
                self.status = Some(status);
                true
            }
            Ok(Msg::GroupReaped(orphans)) => {
                self.orphans = orphans;
                self.group_reaped = true;
                true
            }
            Err(_) => false,
        }
    }

    fn kill_on_deadline(&mut self) {
        if !self.timed_out {
            self.timed_out = !cancelled();
            kill_group(self.pid, libc::SIGKILL);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            kill_group(self.pid, libc::SIGKILL);
            LIVE_GROUPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.pid);
        }
    }
}

/// Read a stream to EOF, keeping at most CAPTURE_LIMIT bytes.
fn read_bounded(mut stream: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = CAPTURE_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_set_wins_over_its_removal_and_the_last_value_wins() {
        // A variable of ours the shell does not make up itself.
        let ours = std::env::vars()
            .map(|(k, _)| k)
            .find(|k| {
                k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !["PATH", "PWD", "OLDPWD", "SHLVL", "IFS", "_"].contains(&k.as_str())
            })
            .expect("the test has an environment");
        let mut spec = Spec::new("/bin/sh");
        spec.args(["-c", &format!("echo \"$A|$B|${{{ours}-unset}}\"")]);
        spec.env_remove = vec!["A".into(), ours.into()];
        spec.env("A", "set").env("B", "first").env("B", "last");
        let out = capture(&spec, Duration::from_secs(30)).unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "set|last|unset\n");
    }
}
