//! Run one scenario: start the role processes in the order its steps say,
//! wait on their events and on EOF (never on a clock), and record what each
//! process did and whether the segment existed after it.
//!
//! The engine reaches the machine only through [`World`]: processes and
//! segments. The real world is `proc` and `shm`; unit tests drive the same
//! engine with canned transcripts (see `tests` below), as hyperfine's
//! `MockExecutor` does for its benchmarks.

use std::path::Path;
use std::time::Duration;

use crate::contract::ProcessObservation;
use crate::host::proc::{Finished, LineWait, Running, Spec};
use crate::scenario::catalogue::{Command, Params, Proc, Role, Scenario, Step};
use crate::scenario::observe;
use crate::scenario::protocol::{self, Event};
pub use crate::scenario::{CaseError, CaseObservation};

/// Bytes the creator writes and every reader checks.
pub const SEGMENT_SIZE: usize = 4096;

/// A started process, as the engine drives it.
pub trait Child: Send {
    /// Write one command line to its stdin.
    fn send(&mut self, line: &str) -> std::io::Result<()>;
    fn close_stdin(&mut self);
    /// Signal the leader only (its resource tracker lives on).
    fn signal_leader(&self, signal: i32);
    /// Wait until a stdout line satisfies `want`.
    fn wait_for_line(&mut self, want: &dyn Fn(&str) -> bool) -> Result<String, LineWait>;
    /// Read to EOF and reap (killing the group at the deadline).
    fn finish(self: Box<Self>) -> Finished;
}

/// Where processes and segments come from.
pub trait World: Sync {
    fn spawn(&self, spec: &Spec, timeout: Duration) -> std::io::Result<Box<dyn Child>>;
    fn segment_exists(&self, name: &str) -> bool;
    fn unlink_segment(&self, name: &str);
    /// The creator said it created `name`: it is this run's to clean up,
    /// even after a SIGKILL of the harness (see `ledger`).
    fn note_created(&self, _name: &str) {}
}

/// This machine: real processes (`proc`), real segments (`shm`).
pub struct RealWorld;

impl Child for Running {
    fn send(&mut self, line: &str) -> std::io::Result<()> {
        Running::send(self, line)
    }
    fn close_stdin(&mut self) {
        Running::close_stdin(self)
    }
    fn signal_leader(&self, signal: i32) {
        Running::signal_leader(self, signal)
    }
    fn wait_for_line(&mut self, want: &dyn Fn(&str) -> bool) -> Result<String, LineWait> {
        Running::wait_for_line(self, want)
    }
    fn finish(self: Box<Self>) -> Finished {
        Running::finish(*self)
    }
}

impl World for RealWorld {
    fn spawn(&self, spec: &Spec, timeout: Duration) -> std::io::Result<Box<dyn Child>> {
        Ok(Box::new(Running::spawn(spec, timeout)?))
    }
    fn segment_exists(&self, name: &str) -> bool {
        crate::host::shm::exists(name)
    }
    fn unlink_segment(&self, name: &str) {
        crate::host::shm::unlink(name);
    }
    fn note_created(&self, name: &str) {
        crate::host::ledger::note_segment(name);
    }
}

/// Everything a case needs to run.
pub struct Context<'a> {
    pub python: &'a Path,
    pub script: &'a Path,
    /// Directory to put on PYTHONPATH (the overlay), if any.
    pub overlay: Option<&'a Path>,
    /// The installed package, to check a stock run really used it.
    pub stock_package: &'a Path,
    /// How attachers attach (`roles.py --mode`).
    pub usage: crate::contract::Usage,
    /// How multiprocessing children start (scenarios that start one).
    pub start_method: Option<crate::contract::StartMethod>,
    /// The interpreter's trackers report their exit status (3.13+).
    pub tracker_codes: bool,
    pub timeout: Duration,
    pub params: Params,
}

struct Live {
    proc: Proc,
    running: Box<dyn Child>,
}

/// Exceptions a machine can cause whatever the code (`OSError` and its
/// subclasses: no space, no memory, too many files, a permission), as
/// opposed to ones only code causes (`NameError`, `TypeError`, ...).
fn from_the_machine(exception: &str) -> bool {
    matches!(
        exception,
        "OSError"
            | "IOError"
            | "EnvironmentError"
            | "BlockingIOError"
            | "ChildProcessError"
            | "ConnectionError"
            | "BrokenPipeError"
            | "ConnectionAbortedError"
            | "ConnectionRefusedError"
            | "ConnectionResetError"
            | "FileExistsError"
            | "FileNotFoundError"
            | "InterruptedError"
            | "IsADirectoryError"
            | "NotADirectoryError"
            | "PermissionError"
            | "ProcessLookupError"
            | "TimeoutError"
            | "MemoryError"
            | "KeyboardInterrupt"
            | "SystemExit"
    )
}

/// Run `scenario` with segment `segment` in `world`.
pub fn run(
    scenario: &Scenario,
    segment: &str,
    ctx: &Context,
    world: &dyn World,
) -> CaseObservation {
    let mut case = CaseObservation {
        segment: segment.to_string(),
        processes: Vec::new(),
        created: false,
        made: Vec::new(),
        segment_leaked: false,
        error: None,
    };
    let mut run = Run {
        segment,
        ctx,
        world,
        case: &mut case,
        live: Vec::new(),
        halted: false,
        protocol_error: None,
    };
    run.steps(scenario);
    let protocol_error = run.protocol_error.take();
    conclude(&mut case, scenario, ctx, protocol_error);
    remove_what_it_made(&mut case, world);
    case
}

/// The case's processes in the order the scenario starts them (P1, P2,
/// ...), not the order they ended; whether it created anything; and, when
/// nothing stopped it, whether what it read can be trusted.
fn conclude(
    case: &mut CaseObservation,
    scenario: &Scenario,
    ctx: &Context,
    protocol_error: Option<CaseError>,
) {
    let order: Vec<String> = (scenario.steps)(&ctx.params)
        .into_iter()
        .flat_map(|step| match step {
            Step::Start(procs) | Step::Run(procs) => procs.into_iter().map(|p| p.label).collect(),
            _ => Vec::new(),
        })
        .collect();
    case.processes
        .sort_by_key(|p| order.iter().position(|l| *l == p.label));
    case.created = case.processes.iter().any(|p| {
        p.events
            .iter()
            .any(|e| matches!(e, Event::Created { .. } | Event::Opened { .. }))
    });
    if case.error.is_none() {
        case.error = timeout(case, ctx)
            .or_else(|| killed_from_outside(case))
            .or_else(|| overlay_error(case, ctx))
            .or_else(|| tracker_disagrees(case))
            .or(protocol_error);
    }
}

/// Only a segment whose creation this case saw is ours to remove; a name
/// that exists without a `created` event belongs to someone else.
fn remove_what_it_made(case: &mut CaseObservation, world: &dyn World) {
    if !case.created {
        return;
    }
    for name in case.made.clone() {
        if world.segment_exists(&name) {
            case.segment_leaked = true;
            world.unlink_segment(&name);
        }
    }
}

/// One case in progress.
struct Run<'a, 'c> {
    segment: &'a str,
    ctx: &'a Context<'a>,
    world: &'a dyn World,
    case: &'c mut CaseObservation,
    /// The processes still running, in the order they started.
    live: Vec<Live>,
    /// The scenario cannot go on, and that is an outcome (see
    /// `creator_failed`).
    halted: bool,
    /// The first process whose stdout broke the event protocol.
    protocol_error: Option<CaseError>,
}

impl Run<'_, '_> {
    /// Every step in order, until one fails, the case halts or a signal
    /// arrives; then whatever still runs is finished (killed on its
    /// deadline at worst).
    fn steps(&mut self, scenario: &Scenario) {
        for step in (scenario.steps)(&self.ctx.params) {
            if crate::host::proc::cancelled() {
                self.case.error = Some(CaseError::Interrupted);
                break;
            }
            if let Err(e) = self.step(step) {
                self.case.error = Some(e);
                break;
            }
            if self.halted {
                break;
            }
        }
        for l in std::mem::take(&mut self.live) {
            self.finish_one(l);
        }
        // A signal may have killed this case's processes in its last step.
        if crate::host::proc::cancelled() && self.case.error.is_none() {
            self.case.error = Some(CaseError::Interrupted);
        }
    }

    fn step(&mut self, step: Step) -> Result<(), CaseError> {
        match step {
            Step::Start(procs) => self.start(procs),
            Step::Run(procs) => self.run_all(procs),
            Step::Tell(label, command) => {
                self.tell(&label, command);
                Ok(())
            }
            Step::Finish(labels, command) => {
                self.finish(&labels, command);
                Ok(())
            }
            Step::Crash(label) => {
                self.crash(&label);
                Ok(())
            }
        }
    }

    /// Start holders, then wait for each to be ready; one that ends
    /// instead is finished and recorded.
    fn start(&mut self, procs: Vec<Proc>) -> Result<(), CaseError> {
        let first_new = self.live.len();
        for proc in procs {
            let running = self.spawn(&proc)?;
            self.live.push(Live { proc, running });
        }
        let mut i = first_new;
        while i < self.live.len() {
            let ready = self.live[i]
                .running
                .wait_for_line(&|l| protocol::is(l, "ready") || protocol::is(l, "holding"));
            match ready {
                Ok(_) => {
                    let role = self.live[i].proc.role;
                    if role.creates() {
                        for name in role.segments(self.segment) {
                            self.world.note_created(&name);
                            self.case.made.push(name);
                        }
                    }
                    i += 1;
                }
                Err(why) => {
                    let l = self.live.remove(i);
                    self.not_ready(l, why)?;
                    if self.halted {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// A holder that ended (or hung) instead of getting ready.
    fn not_ready(&mut self, l: Live, why: LineWait) -> Result<(), CaseError> {
        let label = l.proc.label.clone();
        let creator = l.proc.role.creates();
        self.finish_one(l);
        // A creator that never got ready may still have made its segment
        // (its shm_open said so before the code under test raised, or
        // hung): this case saw that, so the segment is its to remove.
        if creator {
            self.note_opened(&label);
        }
        if why == LineWait::Timeout {
            return Err(CaseError::NotReady {
                label,
                timeout: self.ctx.timeout,
            });
        }
        // No segment of ours: nothing after this may attach, or it would
        // attach to (and, on stock, destroy) a segment someone else owns.
        if creator {
            match self.creator_failed(&label) {
                Some(e) => return Err(e),
                // Its own code raised: that is what the case observed;
                // nothing more can run.
                None => self.halted = true,
            }
        }
        Ok(())
    }

    /// Start processes together and read every one to EOF.
    fn run_all(&mut self, procs: Vec<Proc>) -> Result<(), CaseError> {
        let started: Vec<Live> = procs
            .into_iter()
            .map(|proc| self.spawn(&proc).map(|running| Live { proc, running }))
            .collect::<Result<_, _>>()?;
        for l in started {
            self.finish_one(l);
        }
        Ok(())
    }

    /// Tell a holder to do something and wait until it says it has; a
    /// holder that already ended has nothing to do.
    fn tell(&mut self, label: &str, command: Command) {
        let Some(at) = self.position(label) else {
            return;
        };
        let word = command_line(command, self.ctx);
        let running = &mut self.live[at].running;
        let done = running.send(&word).is_ok()
            && running
                .wait_for_line(&|l| {
                    matches!(protocol::parse_line(l),
                        Some(Ok(Event::Done { command: c })) if c == command.word())
                })
                .is_ok();
        if !done {
            // The holder died doing it; its transcript says why.
            let l = self.live.remove(at);
            self.finish_one(l);
        }
    }

    /// Optionally send a last command, close the holders' stdin, and read
    /// them to EOF.
    fn finish(&mut self, labels: &[String], command: Option<Command>) {
        let mut finishing = Vec::new();
        for label in labels {
            let Some(at) = self.position(label) else {
                continue;
            };
            let mut l = self.live.remove(at);
            if let Some(c) = command {
                let _ = l.running.send(&command_line(c, self.ctx));
            }
            l.running.close_stdin();
            finishing.push(l);
        }
        for l in finishing {
            self.finish_one(l);
        }
    }

    /// SIGKILL a holder's leader (its tracker lives on) and read it to EOF.
    fn crash(&mut self, label: &str) {
        let Some(at) = self.position(label) else {
            return;
        };
        let l = self.live.remove(at);
        l.running.signal_leader(libc::SIGKILL);
        self.finish_one(l);
        if let Some(p) = self.case.processes.last_mut() {
            p.killed_by_harness = true;
        }
    }

    /// Where a holder is; `None` if it already ended (its end is recorded,
    /// and later steps that address it have nothing to do).
    fn position(&self, label: &str) -> Option<usize> {
        self.live.iter().position(|l| l.proc.label == label)
    }

    /// The segments a creator's exclusive shm_open made (its `opened`
    /// events), though it never got ready: this case saw them created.
    fn note_opened(&mut self, label: &str) {
        let opened: Vec<String> = self
            .case
            .processes
            .iter()
            .filter(|p| p.label == label)
            .flat_map(|p| &p.events)
            .filter_map(|e| match e {
                Event::Opened { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        for name in opened {
            if !self.case.made.contains(&name) {
                self.world.note_created(&name);
                self.case.made.push(name);
            }
        }
    }

    /// Why a creator ended without getting ready: a name clash (retried
    /// under a new name), a failure of the machine (no space in /dev/shm, a
    /// signal, no word at all), or `None`: the code under test raised
    /// something no machine causes (a `NameError` in a candidate's
    /// `__init__`), which is an outcome to judge, not a reason to give up.
    fn creator_failed(&self, label: &str) -> Option<CaseError> {
        let p = self.case.processes.iter().rfind(|p| p.label == label);
        Some(match p.and_then(|p| p.exception.as_deref()) {
            Some("FileExistsError") => CaseError::NameClash {
                name: self.segment.to_string(),
            },
            Some(e) if !from_the_machine(e) => return None,
            _ => CaseError::NotCreated {
                label: label.to_string(),
                why: p
                    .and_then(|p| p.stderr.lines().rfind(|l| !l.trim().is_empty()))
                    .unwrap_or("it ended without a word")
                    .trim()
                    .to_string(),
            },
        })
    }

    fn spawn(&self, proc: &Proc) -> Result<Box<dyn Child>, CaseError> {
        let ctx = self.ctx;
        let mut cmd = crate::host::python::command(ctx.python, ctx.overlay);
        cmd.arg("-B").arg("-s").arg(ctx.script);
        // Each role names the pid of the tracker it starts (roles.py).
        cmd.env("SHMHARNESS_TRACKER_EVENTS", "1");
        // A role dies with the harness, and appends the segment it is
        // about to create to the run's ledger first (roles.py): a SIGKILL
        // of the harness can neither leave it running nor hide a segment.
        cmd.die_with_us = true;
        if let Some(ledger) = crate::host::ledger::path() {
            cmd.env("SHMHARNESS_LEDGER", ledger);
        }
        let size = SEGMENT_SIZE.to_string();
        let segment = self.segment;
        match proc.role {
            Role::Creator { list } => {
                cmd.args(["creator", segment, &size]);
                if list {
                    cmd.arg("--shareable-list");
                }
            }
            Role::Manager => {
                cmd.args(["manager", segment, &size, "--mode", ctx.usage.name()]);
                if let Some(m) = ctx.start_method {
                    cmd.args(["--start-method", m.name()]);
                }
            }
            Role::Hanger => {
                cmd.args(["hanger", segment, &size]);
            }
            Role::Attacher { unlink, hold, list } => {
                cmd.args(["attacher", segment, &size, "--mode", ctx.usage.name()]);
                if list {
                    cmd.arg("--shareable-list");
                }
                if unlink {
                    cmd.arg("--unlink");
                }
                if hold {
                    cmd.arg("--hold");
                }
            }
        }
        self.world.spawn(&cmd, ctx.timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted {
                CaseError::Interrupted
            } else {
                CaseError::Spawn {
                    label: proc.label.clone(),
                    python: ctx.python.display().to_string(),
                    reason: e.to_string(),
                }
            }
        })
    }

    fn finish_one(&mut self, l: Live) {
        let finished = l.running.finish();
        let (p, protocol_error) = observe::process(
            &l.proc,
            finished,
            &self.ctx.script_name(),
            self.ctx.tracker_codes,
        );
        if let Some(error) = protocol_error {
            self.protocol_error.get_or_insert(CaseError::Protocol {
                label: l.proc.label.clone(),
                error,
            });
        }
        // Whether the case's segment (every segment a creator made) still
        // exists once this process has ended.
        let segment_after = if self.case.made.is_empty() {
            self.world.segment_exists(self.segment)
        } else {
            self.case.made.iter().any(|n| self.world.segment_exists(n))
        };
        self.case
            .processes
            .push(ProcessObservation { segment_after, ..p });
        if crate::term::progress::verbose() {
            let p = self.case.processes.last().expect("just pushed");
            eprintln!("    {} {}: {}", p.label, p.role, p.ended());
        }
    }
}

impl Context<'_> {
    fn script_name(&self) -> String {
        self.script
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What the stdlib in effect offers (`roles.py apis`, run as a role is:
/// same interpreter, flags and overlay), or why it could not be asked.
pub fn apis(
    python: &Path,
    script: &Path,
    overlay: Option<&Path>,
    timeout: Duration,
    world: &dyn World,
) -> Result<Event, String> {
    let mut cmd = crate::host::python::command(python, overlay);
    cmd.arg("-B").arg("-s").arg(script).arg("apis");
    // A role's environment (it changes nothing for `apis`), so a role's
    // zygote can answer it too (`--roles zygote`).
    cmd.env("SHMHARNESS_TRACKER_EVENTS", "1");
    let finished = world
        .spawn(&cmd, timeout)
        .map_err(|e| format!("cannot ask {} for its APIs: {e}", python.display()))?
        .finish();
    let (events, _) = protocol::events(&finished.stdout);
    events
        .into_iter()
        .find(|e| matches!(e, Event::Apis { .. }))
        .ok_or_else(|| {
            let last = finished
                .stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("no answer");
            format!(
                "cannot tell which APIs {} offers: {}",
                python.display(),
                last.trim()
            )
        })
}

/// The line a holder is told: `spawn-child default unlink --start-method fork`.
fn command_line(command: Command, ctx: &Context) -> String {
    let method = ctx
        .start_method
        .map(|m| format!(" --start-method {m}"))
        .unwrap_or_default();
    let mode = ctx.usage.name();
    match command {
        Command::SpawnChild { unlink } | Command::ObjectChild { unlink } => {
            let unlink = if unlink { " unlink" } else { "" };
            format!("{} {mode}{unlink}{method}", command.word())
        }
        Command::RawFork => format!("{} {mode}", command.word()),
        _ => command.word().to_string(),
    }
}

/// A tracker whose exit status says it cleaned up leaks (1, 2; gh-104090)
/// while no leak warning reached the transcript: what was read is not the
/// whole story, so no verdict can rest on it.
fn tracker_disagrees(case: &CaseObservation) -> Option<CaseError> {
    case.processes
        .iter()
        .find_map(|p| match p.tracker_exit_code {
            Some(code @ (1 | 2)) if p.leak_warnings == 0 => Some(CaseError::TrackerDisagrees {
                label: p.label.clone(),
                code,
            }),
            _ => None,
        })
}

/// A process killed at the deadline: the case says nothing about Python.
/// Blame the one that hung: a holder (P1) waiting for it times out too.
fn timeout(case: &CaseObservation, ctx: &Context) -> Option<CaseError> {
    let timed_out = || case.processes.iter().filter(|p| p.timed_out);
    timed_out()
        .find(|p| !p.role.creates())
        .or_else(|| timed_out().next())
        .map(|p| CaseError::Timeout {
            label: p.label.clone(),
            timeout: ctx.timeout,
        })
}

/// A role killed by a signal the scenario did not send (`kill -9` from
/// outside, the OOM killer): what followed says nothing about Python. Only
/// `creator-crashes` kills on purpose, and it marks the process it killed.
fn killed_from_outside(case: &CaseObservation) -> Option<CaseError> {
    case.processes
        .iter()
        .find(|p| p.signal.is_some() && !p.killed_by_harness && !p.timed_out)
        .map(|p| CaseError::KilledFromOutside {
            label: p.label.clone(),
            signal: p.signal.unwrap_or_default(),
        })
}

/// A patched variant must import the overlay, a stock one the installed
/// package; anything else means the run did not test what it claims.
fn overlay_error(case: &CaseObservation, ctx: &Context) -> Option<CaseError> {
    let expected = match ctx.overlay {
        Some(dir) => dir.to_path_buf(),
        None => ctx.stock_package.to_path_buf(),
    };
    case.processes.iter().find_map(|p| {
        let file = p.multiprocessing.as_deref()?;
        let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.into());
        (!real.starts_with(&expected)).then(|| CaseError::OverlayNotInEffect {
            label: p.label.clone(),
            file: file.to_string(),
            expected: expected.display().to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    //! The engine driven by canned transcripts: no Python, no segments.
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::contract::ScenarioId;
    use crate::host::proc::Termination;
    use crate::scenario::catalogue;

    /// What one canned process prints and how it ends, and what it does to
    /// the segment.
    #[derive(Clone, Default)]
    struct Canned {
        stdout: Vec<String>,
        stderr: String,
        code: i32,
        timed_out: bool,
        /// Orphans reaped: (pid, exit code).
        orphans: Vec<(i32, i32)>,
        /// The segment exists after this process ends (`None`: unchanged).
        segment_after: Option<bool>,
        /// Killed by this signal instead of exiting with `code`.
        killed_by: Option<i32>,
        /// Its stdout ends without EOF: waiting for a line times out.
        hangs: bool,
        /// Spawning it fails with this.
        spawn_error: Option<std::io::ErrorKind>,
    }

    struct FakeChild {
        canned: Canned,
        seen: usize,
        world: *const FakeWorld,
        /// `#N role --flags`: the Nth spawned, as the log names it.
        name: String,
        /// The signal its leader got, if any: it ends by it.
        signal: std::sync::Mutex<Option<i32>>,
    }

    impl FakeChild {
        fn log(&self, what: &str) {
            // SAFETY: see `unsafe impl Send` below.
            let world = unsafe { &*self.world };
            world
                .log
                .lock()
                .unwrap()
                .push(format!("{what} {}", self.name));
        }
    }

    // SAFETY: the world outlives every child in these single-threaded tests.
    unsafe impl Send for FakeChild {}

    impl Child for FakeChild {
        fn send(&mut self, line: &str) -> std::io::Result<()> {
            self.log(&format!("send `{line}` to"));
            Ok(())
        }
        fn close_stdin(&mut self) {
            self.log("close");
        }
        fn signal_leader(&self, signal: i32) {
            self.log(&format!("signal {signal} to"));
            *self.signal.lock().unwrap() = Some(signal);
        }
        fn wait_for_line(&mut self, want: &dyn Fn(&str) -> bool) -> Result<String, LineWait> {
            while self.seen < self.canned.stdout.len() {
                let line = self.canned.stdout[self.seen].clone();
                self.seen += 1;
                if want(&line) {
                    return Ok(line);
                }
            }
            Err(if self.canned.hangs {
                LineWait::Timeout
            } else {
                LineWait::Eof
            })
        }
        fn finish(self: Box<Self>) -> Finished {
            self.log("finish");
            // SAFETY: see `unsafe impl Send` above.
            let world = unsafe { &*self.world };
            if let Some(exists) = self.canned.segment_after {
                *world.segment.lock().unwrap() = exists;
            }
            let signal = *self.signal.lock().unwrap();
            Finished {
                termination: match (signal, self.canned.killed_by) {
                    (Some(signal), _) | (None, Some(signal)) => Termination::Signaled(signal),
                    (None, None) => Termination::Exited(self.canned.code),
                },
                orphans: self
                    .canned
                    .orphans
                    .iter()
                    .map(|&(pid, code)| (pid, Termination::Exited(code)))
                    .collect(),
                stdout: self.canned.stdout.join("\n") + "\n",
                stderr: self.canned.stderr.clone(),
                timed_out: self.canned.timed_out,
                duration: Duration::ZERO,
            }
        }
    }

    struct FakeWorld {
        queue: Mutex<VecDeque<Canned>>,
        segment: Mutex<bool>,
        unlinked: Mutex<Vec<String>>,
        /// What the engine did, in order: `spawn #1 creator`, `send
        /// `unlink` to #1 creator`, `close #1 creator`, `signal 9 to ...`,
        /// `finish ...`.
        log: Mutex<Vec<String>>,
        /// Every command line spawned.
        specs: Mutex<Vec<Spec>>,
        /// Names the engine said it created.
        noted: Mutex<Vec<String>>,
    }

    impl FakeWorld {
        fn new(procs: Vec<Canned>, segment_exists: bool) -> FakeWorld {
            FakeWorld {
                queue: Mutex::new(procs.into()),
                segment: Mutex::new(segment_exists),
                unlinked: Mutex::new(Vec::new()),
                log: Mutex::new(Vec::new()),
                specs: Mutex::new(Vec::new()),
                noted: Mutex::new(Vec::new()),
            }
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    impl World for FakeWorld {
        fn spawn(&self, spec: &Spec, _timeout: Duration) -> std::io::Result<Box<dyn Child>> {
            let canned = self
                .queue
                .lock()
                .unwrap()
                .pop_front()
                .expect("a canned process");
            if let Some(kind) = canned.spawn_error {
                return Err(kind.into());
            }
            let mut specs = self.specs.lock().unwrap();
            specs.push(spec.clone());
            // `roles.py ROLE NAME SIZE [--mode M] [--flags]`: the role and
            // the flags that tell processes of one role apart.
            let args: Vec<String> = spec
                .args
                .iter()
                .map(|a| a.to_string_lossy().into())
                .collect();
            let flags = args
                .iter()
                .filter(|a| ["--hold", "--unlink", "--shareable-list"].contains(&a.as_str()));
            let name = std::iter::once(format!("#{} {}", specs.len(), args[3]))
                .chain(flags.cloned())
                .collect::<Vec<_>>()
                .join(" ");
            self.log.lock().unwrap().push(format!("spawn {name}"));
            Ok(Box::new(FakeChild {
                canned,
                seen: 0,
                world: self,
                name,
                signal: Mutex::new(None),
            }))
        }
        fn segment_exists(&self, _name: &str) -> bool {
            *self.segment.lock().unwrap()
        }
        fn unlink_segment(&self, name: &str) {
            self.unlinked.lock().unwrap().push(name.to_string());
            *self.segment.lock().unwrap() = false;
        }
        fn note_created(&self, name: &str) {
            self.noted.lock().unwrap().push(name.to_string());
        }
    }

    const STOCK: &str = "/stock/multiprocessing";

    fn events(names: &[&str]) -> Vec<String> {
        let mut out = vec![format!(
            r#"{{"event": "start", "multiprocessing": "{STOCK}/__init__.py", "pid": 1}}"#
        )];
        for n in names {
            out.push(match *n {
                "read" => r#"{"data_ok": true, "event": "read"}"#.to_string(),
                "done-unlink" => r#"{"command": "unlink", "event": "done"}"#.to_string(),
                e => format!(r#"{{"event": "{e}"}}"#),
            });
        }
        out
    }

    const LEAK: &str = "/x/resource_tracker.py:216: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown\n  warnings.warn(\n";
    const ENOENT_TB: &str = "Traceback (most recent call last):\n  File \"/w/roles.py\", line 160, in <module>\n    main(sys.argv[1:])\n  File \"/stock/multiprocessing/shared_memory.py\", line 103, in __init__\n    self._fd = _posixshmem.shm_open(\nFileNotFoundError: [Errno 2] No such file or directory: '/n'\n";

    fn context() -> Context<'static> {
        Context {
            python: Path::new("/usr/bin/python3"),
            script: Path::new("/w/roles.py"),
            overlay: None,
            stock_package: Path::new(STOCK),
            usage: crate::contract::Usage::Default,
            start_method: None,
            tracker_codes: true,
            timeout: Duration::from_secs(5),
            params: Params::default(),
        }
    }

    fn three_process_stock() -> Vec<Canned> {
        vec![
            // P1: creates, holds, then (told to unlink) fails: gone already.
            Canned {
                stdout: events(&["created", "ready"]),
                stderr: format!(
                    "{ENOENT_TB}{LEAK}/x/resource_tracker.py:229: UserWarning: resource_tracker: '/n': [Errno 2] No such file or directory: '/n'\n"
                ),
                code: 1,
                segment_after: Some(false),
                ..Canned::default()
            },
            // P2: attaches, reads, exits; its tracker destroys the segment.
            Canned {
                stdout: events(&["attached", "read"]),
                stderr: LEAK.to_string(),
                segment_after: Some(false),
                ..Canned::default()
            },
            // P3: the segment is gone.
            Canned {
                stdout: events(&[]),
                stderr: ENOENT_TB.to_string(),
                code: 1,
                ..Canned::default()
            },
        ]
    }

    /// Run three-process in `world` with the default context.
    fn three_process(segment: &str, world: &FakeWorld) -> CaseObservation {
        run(
            catalogue::find(ScenarioId::ThreeProcess),
            segment,
            &context(),
            world,
        )
    }

    #[test]
    fn three_process_transcripts_give_the_seeds_symptoms() {
        let world = FakeWorld::new(three_process_stock(), true);
        let case = three_process("shmhx_1", &world);
        assert_eq!(case.error, None);
        assert!(case.created);
        let labels: Vec<&str> = case.processes.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["P1", "P2", "P3"]);
        let keys: Vec<String> = crate::scenario::symptoms::of(&case)
            .into_iter()
            .map(|s| s.key)
            .collect();
        // The seed's transcript, read back as the seed describes it.
        assert_eq!(
            keys,
            [
                "P1 FileNotFoundError",
                "P1 leak warning",
                "P1 tracker error",
                "P2 leak warning",
                "P3 FileNotFoundError",
            ]
        );
        assert!(!case.processes[1].segment_after);
    }

    #[test]
    fn a_name_clash_is_an_error_and_the_foreign_segment_is_left_alone() {
        let clash = Canned {
            stdout: events(&[]),
            stderr: "Traceback (most recent call last):\n  File \"/w/roles.py\", line 160, in <module>\n    main(sys.argv[1:])\nFileExistsError: [Errno 17] File exists: '/n'\n".into(),
            code: 1,
            ..Canned::default()
        };
        let world = FakeWorld::new(vec![clash], true);
        let case = three_process("shmhx_2", &world);
        assert!(
            matches!(case.error, Some(CaseError::NameClash { .. })),
            "{:?}",
            case.error
        );
        assert!(!case.created);
        assert!(!case.segment_leaked);
        assert!(
            world.unlinked.lock().unwrap().is_empty(),
            "unlinked a foreign segment"
        );
        assert!(*world.segment.lock().unwrap());
    }

    /// A creator that ended without `created`, its stderr ending in `last`.
    fn creator_raising(last: &str) -> Canned {
        Canned {
            stdout: events(&[]),
            stderr: format!(
                "Traceback (most recent call last):\n  File \"/w/roles.py\", line 160, in <module>\n    main(sys.argv[1:])\n{last}\n"
            ),
            code: 1,
            ..Canned::default()
        }
    }

    #[test]
    fn a_creator_that_raises_from_code_is_an_outcome_and_the_machine_an_error() {
        // A candidate's typo in __init__: the case ran, and that is what it
        // did; nothing attaches after it.
        let world = FakeWorld::new(
            vec![creator_raising(
                "NameError: name 'craete' is not defined. Did you mean: 'create'?",
            )],
            false,
        );
        let case = three_process("shmhx_9", &world);
        assert_eq!(case.error, None);
        assert!(!case.created);
        assert_eq!(case.processes.len(), 1, "nothing ran after P1");
        let keys: Vec<String> = crate::scenario::symptoms::of(&case)
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(keys, ["P1 NameError"]);
        // Its shm_open had made the segment before __init__ raised: the
        // case saw it created, so it is removed (and counted as leaked).
        let mut opened = creator_raising("NameError: name 'craete' is not defined");
        opened
            .stdout
            .push(r#"{"event": "opened", "name": "shmhx_9"}"#.into());
        let world = FakeWorld::new(vec![opened], true);
        let case = three_process("shmhx_9", &world);
        assert_eq!(case.error, None);
        assert!(case.created && case.segment_leaked);
        assert_eq!(*world.unlinked.lock().unwrap(), ["shmhx_9"]);
        // No space in /dev/shm: the machine's doing, no verdict.
        let world = FakeWorld::new(
            vec![creator_raising(
                "OSError: [Errno 28] No space left on device: '/shmhx_9'",
            )],
            false,
        );
        let case = three_process("shmhx_9", &world);
        assert!(
            matches!(case.error, Some(CaseError::NotCreated { ref why, .. }) if why.contains("No space")),
            "{:?}",
            case.error
        );
    }

    #[test]
    fn a_process_killed_at_the_deadline_makes_the_case_an_error() {
        let mut procs = three_process_stock();
        procs[1].timed_out = true;
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_3", &world);
        assert!(matches!(case.error, Some(CaseError::Timeout { ref label, .. }) if label == "P2"));
    }

    #[test]
    fn a_stock_run_that_imported_another_multiprocessing_is_an_error() {
        let mut procs = three_process_stock();
        procs[2].stdout[0] =
            r#"{"event": "start", "multiprocessing": "/elsewhere/multiprocessing/__init__.py", "pid": 3}"#
                .into();
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_4", &world);
        assert!(
            matches!(case.error, Some(CaseError::OverlayNotInEffect { ref label, .. }) if label == "P3")
        );
    }

    #[test]
    fn a_segment_our_creator_made_and_nobody_removed_is_leaked_and_removed() {
        // creator-exits-without-unlink under a variant that leaks it.
        let p1 = Canned {
            stdout: events(&["created", "ready"]),
            segment_after: Some(true),
            ..Canned::default()
        };
        let world = FakeWorld::new(vec![p1], false);
        let case = run(
            catalogue::find(ScenarioId::CreatorExitsWithoutUnlink),
            "shmhx_5",
            &context(),
            &world,
        );
        assert!(case.segment_leaked);
        assert_eq!(*world.unlinked.lock().unwrap(), ["shmhx_5"]);
    }

    #[test]
    fn tracker_exit_codes_are_matched_by_pid_and_checked_against_warnings() {
        let mut procs = three_process_stock();
        procs[1]
            .stdout
            .push(r#"{"event": "tracker", "pid": 4242, "who": "attacher"}"#.into());
        procs[1].orphans = vec![(4241, 0), (4242, 1)];
        let world = FakeWorld::new(procs.clone(), true);
        let case = three_process("shmhx_6", &world);
        assert_eq!(case.error, None);
        assert_eq!(case.processes[1].tracker_exit_code, Some(1));
        assert_eq!(
            case.processes[2].tracker_exit_code, None,
            "no tracker of its own"
        );
        // The same status without the warning it implies: an error.
        procs[1].stderr.clear();
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_7", &world);
        assert!(
            matches!(case.error, Some(CaseError::TrackerDisagrees { ref label, code: 1 }) if label == "P2"),
            "{:?}",
            case.error
        );
    }

    #[test]
    fn a_role_killed_from_outside_is_an_error_and_a_crash_the_scenario_sends_is_not() {
        // P2 dies by SIGKILL that no step sent (the OOM killer, say).
        let mut procs = three_process_stock();
        procs[1].killed_by = Some(libc::SIGKILL);
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_8", &world);
        assert!(
            matches!(case.error, Some(CaseError::KilledFromOutside { ref label, signal: 9 }) if label == "P2"),
            "{:?}",
            case.error
        );
        // creator-crashes kills P1 itself: an outcome, not an error.
        let p1 = Canned {
            stdout: events(&["created", "ready"]),
            killed_by: Some(libc::SIGKILL),
            segment_after: Some(false),
            ..Canned::default()
        };
        let world = FakeWorld::new(vec![p1], true);
        let case = run(
            catalogue::find(ScenarioId::CreatorCrashes),
            "shmhx_9",
            &context(),
            &world,
        );
        assert_eq!(case.error, None);
        assert!(case.processes[0].killed_by_harness);
    }

    /// A holder's transcript: `events`, then `done` for each of `done`.
    fn holder(names: &[&str], done: &[&str]) -> Canned {
        let mut stdout = events(names);
        stdout.extend(
            done.iter()
                .map(|c| format!(r#"{{"command": "{c}", "event": "done"}}"#)),
        );
        Canned {
            stdout,
            ..Canned::default()
        }
    }

    fn run_in(id: ScenarioId, ctx: &Context, world: &FakeWorld) -> CaseObservation {
        run(catalogue::find(id), "shmhx", ctx, world)
    }

    fn labels(case: &CaseObservation) -> Vec<&str> {
        case.processes.iter().map(|p| p.label.as_str()).collect()
    }

    fn keys(case: &CaseObservation) -> Vec<String> {
        crate::scenario::symptoms::of(case)
            .into_iter()
            .map(|s| s.key)
            .collect()
    }

    #[test]
    fn many_attachers_starts_the_late_ones_after_the_first_have_finished() {
        // Half hold together; only once they all ended do the rest run,
        // one by one, then R, then P1 unlinks.
        let attacher = holder(&["attached", "read"], &[]);
        let procs = vec![
            holder(&["created", "ready"], &["unlink"]),
            holder(&["attached", "read", "holding"], &[]),
            holder(&["attached", "read", "holding"], &[]),
            attacher.clone(),
            attacher.clone(),
            Canned {
                segment_after: Some(true),
                ..attacher
            },
        ];
        let mut procs = procs;
        procs[0].segment_after = Some(false);
        let world = FakeWorld::new(procs, true);
        let case = run_in(ScenarioId::ManyAttachers, &context(), &world);
        assert_eq!(
            world.log(),
            [
                "spawn #1 creator",
                "spawn #2 attacher --hold",
                "spawn #3 attacher --hold",
                "close #2 attacher --hold",
                "close #3 attacher --hold",
                "finish #2 attacher --hold",
                "finish #3 attacher --hold",
                "spawn #4 attacher",
                "finish #4 attacher",
                "spawn #5 attacher",
                "finish #5 attacher",
                "spawn #6 attacher",
                "finish #6 attacher",
                "send `unlink` to #1 creator",
                "close #1 creator",
                "finish #1 creator",
            ]
        );
        // Listed in the order the scenario starts them, not as they ended.
        assert_eq!(labels(&case), ["P1", "A1", "A2", "B1", "B2", "R"]);
        let after: Vec<bool> = case.processes.iter().map(|p| p.segment_after).collect();
        assert_eq!(after, [false, true, true, true, true, true]);
        let groups: Vec<&str> = case.processes.iter().map(|p| p.group.as_str()).collect();
        assert_eq!(groups, ["P1", "A*", "A*", "B*", "B*", "R"]);
        assert_eq!(*world.noted.lock().unwrap(), ["shmhx"]);
        assert_eq!(
            (case.error, case.created, case.segment_leaked),
            (None, true, false)
        );
    }

    #[test]
    fn a_holder_that_ends_instead_of_holding_does_not_stop_the_others() {
        let mut gone = holder(&[], &[]);
        gone.stderr = ENOENT_TB.to_string();
        gone.code = 1;
        let world = FakeWorld::new(
            vec![
                holder(&["created", "ready"], &["unlink"]),
                gone,
                holder(&["attached", "read", "holding"], &[]),
                holder(&["attached", "read"], &[]),
                holder(&["attached", "read"], &[]),
            ],
            true,
        );
        let ctx = Context {
            params: Params { attachers: 3 },
            ..context()
        };
        let case = run_in(ScenarioId::ManyAttachers, &ctx, &world);
        assert_eq!(
            world.log()[..7],
            [
                "spawn #1 creator",
                "spawn #2 attacher --hold",
                "spawn #3 attacher --hold",
                "finish #2 attacher --hold",
                "close #3 attacher --hold",
                "finish #3 attacher --hold",
                "spawn #4 attacher",
            ]
        );
        assert_eq!(labels(&case), ["P1", "A1", "A2", "B1", "R"]);
        assert_eq!(case.error, None);
        assert!(keys(&case).contains(&"A* FileNotFoundError".to_string()));
    }

    #[test]
    fn creator_crashes_kills_the_creators_leader_with_sigkill() {
        let mut p1 = holder(&["created", "ready"], &[]);
        // Its tracker outlives it and removes the segment.
        p1.segment_after = Some(false);
        let world = FakeWorld::new(vec![p1], true);
        let case = run_in(ScenarioId::CreatorCrashes, &context(), &world);
        assert_eq!(
            world.log(),
            [
                "spawn #1 creator",
                "signal 9 to #1 creator",
                "finish #1 creator"
            ]
        );
        let p = &case.processes[0];
        assert_eq!((p.signal, p.killed_by_harness), (Some(libc::SIGKILL), true));
        // The harness's own kill is no symptom of Python's.
        assert_eq!(keys(&case), Vec::<String>::new());
        assert_eq!((case.error, case.segment_leaked), (None, false));
    }

    #[test]
    fn a_tracker_traceback_is_the_trackers_and_a_childs_the_childs() {
        // family-object under spawn: the child fails unpickling (its first
        // frame is `<string>` at module level, not roles.py), and the
        // tracker raises on an UNREGISTER it never saw.
        let mut p1 = holder(&["created", "ready"], &["object-child", "check", "unlink"]);
        p1.stderr = "\
Traceback (most recent call last):
  File \"<string>\", line 1, in <module>
  File \"/x/multiprocessing/spawn.py\", line 122, in spawn_main
    exitcode = _main(fd, parent_sentinel)
FileNotFoundError: [Errno 2] No such file or directory: '/shmhx'
Traceback (most recent call last):
  File \"/x/multiprocessing/resource_tracker.py\", line 239, in main
    cache[rtype].remove(name)
KeyError: '/shmhx'
"
        .into();
        p1.segment_after = Some(false);
        let world = FakeWorld::new(vec![p1], true);
        let case = run_in(ScenarioId::FamilyObject, &context(), &world);
        assert_eq!(
            keys(&case),
            ["P1 child FileNotFoundError", "P1 tracker KeyError"]
        );
        assert_eq!(case.processes[0].exception, None);
    }

    #[test]
    fn holders_are_told_each_command_with_the_mode_and_start_method() {
        let ctx = Context {
            usage: crate::contract::Usage::TrackFalse,
            start_method: Some(crate::contract::StartMethod::Spawn),
            ..context()
        };
        for (id, commands) in [
            (
                ScenarioId::Family,
                &[
                    "spawn-child track-false --start-method spawn",
                    "check",
                    "unlink",
                ][..],
            ),
            (
                ScenarioId::FamilyAttacherUnlinks,
                &[
                    "spawn-child track-false unlink --start-method spawn",
                    "close",
                ],
            ),
            (
                ScenarioId::FamilyObjectUnlinks,
                &[
                    "object-child track-false unlink --start-method spawn",
                    "close",
                ],
            ),
            (
                ScenarioId::RawFork,
                &["raw-fork track-false", "check", "unlink"],
            ),
            (ScenarioId::Manager, &["child", "check", "shutdown"]),
        ] {
            let words: Vec<&str> = commands
                .iter()
                .map(|c| c.split(' ').next().unwrap())
                .collect();
            let world = FakeWorld::new(vec![holder(&["created", "ready"], &words)], true);
            run_in(id, &ctx, &world);
            let sent: Vec<String> = world
                .log()
                .into_iter()
                .filter_map(|l| Some(l.strip_prefix("send `")?.split('`').next()?.to_string()))
                .collect();
            assert_eq!(sent, commands, "{id}");
        }
    }

    #[test]
    fn a_holder_that_dies_on_a_command_is_finished_and_left_alone() {
        let mut p1 = holder(&["created", "ready"], &[]);
        p1.code = 1;
        let world = FakeWorld::new(vec![p1], true);
        let case = run_in(ScenarioId::Family, &context(), &world);
        assert_eq!(
            world.log(),
            [
                "spawn #1 creator",
                "send `spawn-child default` to #1 creator",
                "finish #1 creator",
            ]
        );
        assert_eq!(labels(&case), ["P1"]);
    }

    #[test]
    fn each_role_is_started_with_its_arguments() {
        // As `--verbose` shows them: variables set, program, arguments.
        let lines = |id, ctx: &Context| {
            let procs = vec![holder(&["created", "ready"], &["check", "unlink"]); 6];
            let world = FakeWorld::new(procs, true);
            run_in(id, ctx, &world);
            let specs = world.specs.lock().unwrap().clone();
            specs.iter().map(Spec::command_line).collect::<Vec<_>>()
        };
        let pre = "SHMHARNESS_TRACKER_EVENTS=1 /usr/bin/python3 -B -s /w/roles.py";
        let ctx = context();
        assert_eq!(
            lines(ScenarioId::AttacherUnlinks, &ctx),
            [
                format!("{pre} creator shmhx 4096"),
                format!("{pre} attacher shmhx 4096 --mode default --unlink"),
            ]
        );
        assert_eq!(
            lines(ScenarioId::ShareableList, &ctx)[..2],
            [
                format!("{pre} creator shmhx 4096 --shareable-list"),
                format!("{pre} attacher shmhx 4096 --mode default --shareable-list"),
            ]
        );
        assert_eq!(
            lines(ScenarioId::Hang, &ctx)[1],
            format!("{pre} hanger shmhx 4096")
        );
        // The overlay goes first on PYTHONPATH.
        let ctx = Context {
            usage: crate::contract::Usage::Unregister,
            start_method: Some(crate::contract::StartMethod::Forkserver),
            overlay: Some(Path::new("/overlay")),
            ..context()
        };
        assert_eq!(
            lines(ScenarioId::Manager, &ctx),
            [format!(
                "PYTHONPATH=/overlay {pre} manager shmhx 4096 --mode unregister --start-method forkserver"
            )]
        );
    }

    #[test]
    fn a_creator_that_never_gets_ready_or_never_starts_is_an_error() {
        let hung = Canned {
            stdout: events(&["created"]),
            hangs: true,
            ..Canned::default()
        };
        let world = FakeWorld::new(vec![hung], true);
        let case = three_process("shmhx_8", &world);
        assert_eq!(
            case.error,
            Some(CaseError::NotReady {
                label: "P1".into(),
                timeout: Duration::from_secs(5)
            })
        );
        assert_eq!(world.log(), ["spawn #1 creator", "finish #1 creator"]);
        for (kind, error) in [
            (
                std::io::ErrorKind::NotFound,
                CaseError::Spawn {
                    label: "P1".into(),
                    python: "/usr/bin/python3".into(),
                    reason: std::io::Error::from(std::io::ErrorKind::NotFound).to_string(),
                },
            ),
            (std::io::ErrorKind::Interrupted, CaseError::Interrupted),
        ] {
            let cannot = Canned {
                spawn_error: Some(kind),
                ..Canned::default()
            };
            let world = FakeWorld::new(vec![cannot], false);
            assert_eq!(three_process("shmhx_9", &world).error, Some(error));
            assert!(world.log().is_empty());
        }
    }

    #[test]
    fn of_two_that_timed_out_the_attacher_is_blamed() {
        let mut procs = three_process_stock();
        procs[0].timed_out = true;
        procs[1].timed_out = true;
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_10", &world);
        assert!(
            matches!(case.error, Some(CaseError::Timeout { ref label, .. }) if label == "P2"),
            "{:?}",
            case.error
        );
        // Alone, the creator is.
        let mut procs = three_process_stock();
        procs[0].timed_out = true;
        let world = FakeWorld::new(procs, true);
        let case = three_process("shmhx_11", &world);
        assert!(
            matches!(case.error, Some(CaseError::Timeout { ref label, .. }) if label == "P1"),
            "{:?}",
            case.error
        );
    }

    #[test]
    fn a_patched_run_must_import_the_overlay() {
        let ctx = Context {
            overlay: Some(Path::new("/overlay")),
            ..context()
        };
        let world = FakeWorld::new(three_process_stock(), true);
        let case = run(catalogue::find(ScenarioId::ThreeProcess), "s", &ctx, &world);
        assert_eq!(
            case.error,
            Some(CaseError::OverlayNotInEffect {
                label: "P1".into(),
                file: format!("{STOCK}/__init__.py"),
                expected: "/overlay".into(),
            })
        );
        let mut procs = three_process_stock();
        for p in &mut procs {
            p.stdout[0] = p.stdout[0].replace(STOCK, "/overlay/multiprocessing");
        }
        let world = FakeWorld::new(procs, true);
        let case = run(catalogue::find(ScenarioId::ThreeProcess), "s", &ctx, &world);
        assert_eq!(case.error, None);
    }

    /// roles.py's part played by `sh`: the creator makes the segment as a
    /// file in /dev/shm (what shm_open makes on Linux), exclusively, and
    /// answers each stdin command until EOF; an attacher reads it, or
    /// removes it with `--unlink`; a holder (`--hold`) waits for EOF and
    /// then meets the other holder at a FIFO beside the script, so the two
    /// end only if their stdins were closed together. Enough to drive the
    /// engine through real processes.
    const FAKE_ROLES: &str = r#"role=$4 name=$5 here=$(dirname "$0")
echo "{\"event\": \"start\", \"multiprocessing\": \"/stock/multiprocessing/__init__.py\", \"pid\": $$}"
case $role in
creator)
    if [ -e "/dev/shm/$name" ]; then
        printf 'Traceback (most recent call last):\n  File "/w/roles.py", line 1, in <module>\nFileExistsError: [Errno 17] File exists\n' >&2
        exit 1
    fi
    : > "/dev/shm/$name"
    echo '{"event": "created"}'
    echo '{"event": "ready"}'
    while read -r cmd rest; do
        if [ "$cmd" = unlink ]; then rm -f "/dev/shm/$name"; fi
        echo "{\"command\": \"$cmd\", \"event\": \"done\"}"
    done
    ;;
attacher)
    echo '{"event": "attached"}'
    echo '{"data_ok": true, "event": "read"}'
    for a in "$@"; do
        if [ "$a" = --unlink ]; then rm -f "/dev/shm/$name"; fi
        if [ "$a" = --hold ]; then
            echo '{"event": "holding"}'
            cat > /dev/null
            if mkdir "$here/first" 2> /dev/null; then echo > "$here/release"; else cat "$here/release" > /dev/null; fi
        fi
    done
    ;;
esac
exit 0"#;

    /// A segment name of this test process, removed on drop whatever the
    /// test did.
    struct Segment(String);

    impl Segment {
        fn new(n: usize) -> Segment {
            Segment(format!("shmhunit{}_{n}", std::process::id()))
        }
        fn exists(&self) -> bool {
            Path::new("/dev/shm").join(&self.0).exists()
        }
    }

    impl Drop for Segment {
        fn drop(&mut self) {
            crate::host::shm::unlink(&self.0);
        }
    }

    /// `id` run by real processes of FAKE_ROLES (three attachers for
    /// many-attachers: two hold).
    fn real(id: ScenarioId, segment: &Segment) -> CaseObservation {
        let dir = tempfile::tempdir().unwrap();
        let python = crate::contract::fixtures::script(&dir.path().join("python3"), FAKE_ROLES);
        let fifo = std::ffi::CString::new(dir.path().join("release").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let ctx = Context {
            python: &python,
            // Generous for sh; a mutant that never closes a stdin or never
            // kills waits for it (five such tests on two test threads end
            // within bench/mutants' 60 s).
            timeout: Duration::from_secs(10),
            params: Params { attachers: 3 },
            ..context()
        };
        run(catalogue::find(id), &segment.0, &ctx, &RealWorld)
    }

    fn done(p: &ProcessObservation) -> Vec<&str> {
        p.events
            .iter()
            .filter_map(|e| match e {
                Event::Done { command } => Some(command.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn real_processes_are_told_commands_and_their_segment_is_checked() {
        let seg = Segment::new(1);
        let case = real(ScenarioId::AttacherUnlinks, &seg);
        assert_eq!(case.error, None);
        assert_eq!(labels(&case), ["P1", "P2"]);
        // P1 was told to close, and ended on EOF; P2 removed the segment.
        assert_eq!(done(&case.processes[0]), ["close"]);
        assert_eq!(case.processes[0].exit_code, Some(0));
        assert_eq!(case.processes[1].data_ok, Some(true));
        let after: Vec<bool> = case.processes.iter().map(|p| p.segment_after).collect();
        assert_eq!(after, [false, false]);
        assert!(!case.segment_leaked && !seg.exists());
    }

    #[test]
    fn a_segment_left_by_real_processes_is_found_and_removed() {
        let seg = Segment::new(2);
        let case = real(ScenarioId::CreatorExitsWithoutUnlink, &seg);
        assert_eq!(case.error, None);
        assert_eq!(done(&case.processes[0]), ["close"]);
        assert!(case.processes[0].segment_after);
        assert!(case.segment_leaked);
        assert!(!seg.exists(), "the harness removes what its case made");
    }

    #[test]
    fn a_real_creator_is_killed_with_sigkill() {
        let seg = Segment::new(3);
        let case = real(ScenarioId::CreatorCrashes, &seg);
        assert_eq!(case.error, None);
        let p = &case.processes[0];
        assert_eq!((p.signal, p.killed_by_harness), (Some(libc::SIGKILL), true));
        assert!(p.segment_after && case.segment_leaked && !seg.exists());
    }

    #[test]
    fn real_holders_are_released_together() {
        let seg = Segment::new(4);
        let case = real(ScenarioId::ManyAttachers, &seg);
        assert_eq!(case.error, None);
        assert_eq!(labels(&case), ["P1", "A1", "A2", "B1", "R"]);
        let codes: Vec<Option<i32>> = case.processes.iter().map(|p| p.exit_code).collect();
        assert_eq!(codes, [Some(0); 5]);
        assert_eq!(done(&case.processes[0]), ["unlink"]);
        assert!(!case.segment_leaked && !seg.exists());
    }

    #[test]
    fn a_real_name_clash_leaves_the_other_segment_alone() {
        let seg = Segment::new(5);
        std::fs::write(Path::new("/dev/shm").join(&seg.0), "theirs").unwrap();
        let case = real(ScenarioId::ThreeProcess, &seg);
        assert_eq!(
            case.error,
            Some(CaseError::NameClash {
                name: seg.0.clone()
            })
        );
        assert_eq!(labels(&case), ["P1"]);
        let theirs = std::fs::read_to_string(Path::new("/dev/shm").join(&seg.0)).unwrap();
        assert_eq!(theirs, "theirs");
    }
}
