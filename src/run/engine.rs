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
    }

    struct FakeChild {
        canned: Canned,
        seen: usize,
        world: *const FakeWorld,
    }

    // SAFETY: the world outlives every child in these single-threaded tests.
    unsafe impl Send for FakeChild {}

    impl Child for FakeChild {
        fn send(&mut self, _line: &str) -> std::io::Result<()> {
            Ok(())
        }
        fn close_stdin(&mut self) {}
        fn signal_leader(&self, _signal: i32) {}
        fn wait_for_line(&mut self, want: &dyn Fn(&str) -> bool) -> Result<String, LineWait> {
            while self.seen < self.canned.stdout.len() {
                let line = self.canned.stdout[self.seen].clone();
                self.seen += 1;
                if want(&line) {
                    return Ok(line);
                }
            }
            Err(LineWait::Eof)
        }
        fn finish(self: Box<Self>) -> Finished {
            // SAFETY: see `unsafe impl Send` above.
            let world = unsafe { &*self.world };
            if let Some(exists) = self.canned.segment_after {
                *world.segment.lock().unwrap() = exists;
            }
            Finished {
                termination: match self.canned.killed_by {
                    Some(signal) => Termination::Signaled(signal),
                    None => Termination::Exited(self.canned.code),
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
    }

    impl FakeWorld {
        fn new(procs: Vec<Canned>, segment_exists: bool) -> FakeWorld {
            FakeWorld {
                queue: Mutex::new(procs.into()),
                segment: Mutex::new(segment_exists),
                unlinked: Mutex::new(Vec::new()),
            }
        }
    }

    impl World for FakeWorld {
        fn spawn(&self, _spec: &Spec, _timeout: Duration) -> std::io::Result<Box<dyn Child>> {
            let canned = self
                .queue
                .lock()
                .unwrap()
                .pop_front()
                .expect("a canned process");
            Ok(Box::new(FakeChild {
                canned,
                seen: 0,
                world: self,
            }))
        }
        fn segment_exists(&self, _name: &str) -> bool {
            *self.segment.lock().unwrap()
        }
        fn unlink_segment(&self, name: &str) {
            self.unlinked.lock().unwrap().push(name.to_string());
            *self.segment.lock().unwrap() = false;
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
}
