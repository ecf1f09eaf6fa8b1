//! Run one scenario: start the role processes in the order its steps say,
//! wait on their events and on EOF (never on a clock), and record what each
//! process did and whether the segment existed after it.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalogue::{Command, Params, Proc, Role, Scenario, Step};
use super::observe::{self, Traceback};
use crate::proc::{Finished, LineWait, Running};
use crate::shm;
use crate::variant::AttachMode;

/// Bytes the creator writes and every reader checks.
pub const SEGMENT_SIZE: usize = 4096;

/// What one process did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessObservation {
    pub label: String,
    /// Symptoms are counted per group (concurrent attachers share one).
    pub group: String,
    pub role: String,
    /// `null` if killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// The scenario killed it on purpose (`creator-crashes`).
    #[serde(default)]
    pub killed_by_harness: bool,
    pub leak_warnings: usize,
    pub tracker_errors: Vec<String>,
    pub tracebacks: Vec<Traceback>,
    /// Type of the exception the process ended with.
    pub exception: Option<String>,
    /// Whether every read saw the creator's bytes (`null`: nothing read).
    pub data_ok: Option<bool>,
    /// Whether the segment existed right after this process ended.
    pub segment_after: bool,
    /// Where the process imported `multiprocessing` from.
    pub multiprocessing: Option<String>,
    pub events: Vec<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

/// What one case did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseObservation {
    /// The segment name (no leading slash).
    pub segment: String,
    pub processes: Vec<ProcessObservation>,
    /// The segment outlived every process; the harness removed it.
    pub segment_leaked: bool,
    /// A problem of the harness, not of Python (could not start, overlay
    /// not in effect, interrupted).
    pub error: Option<String>,
}

/// Everything a case needs to run.
pub struct Context<'a> {
    pub python: &'a Path,
    pub script: &'a Path,
    /// Directory to put on PYTHONPATH (the overlay), if any.
    pub overlay: Option<&'a Path>,
    /// The installed package, to check a stock run really used it.
    pub stock_package: &'a Path,
    pub attach: AttachMode,
    pub timeout: Duration,
    pub params: Params,
}

struct Live {
    proc: Proc,
    running: Running,
}

pub fn run(scenario: &Scenario, segment: &str, ctx: &Context) -> CaseObservation {
    let mut case = CaseObservation {
        segment: segment.to_string(),
        processes: Vec::new(),
        segment_leaked: false,
        error: None,
    };
    let mut live: Vec<Live> = Vec::new();
    for step in (scenario.steps)(&ctx.params) {
        if crate::proc::cancelled() {
            case.error = Some("interrupted".into());
            break;
        }
        if let Err(e) = run_step(step, segment, ctx, &mut live, &mut case) {
            case.error = Some(e);
            break;
        }
    }
    // A signal may have killed this case's processes in its last step.
    if crate::proc::cancelled() && case.error.is_none() {
        case.error = Some("interrupted".into());
    }
    // Anything still alive (after an error) is finished, i.e. killed on its
    // deadline at worst; dropping a Running kills its group.
    for l in live.drain(..) {
        let finished = l.running.finish();
        record(&mut case, &l.proc, finished, segment, ctx);
    }
    // Report processes in the order the scenario starts them (P1, P2, ...),
    // not the order they ended.
    let order: Vec<String> = (scenario.steps)(&ctx.params)
        .into_iter()
        .flat_map(|step| match step {
            Step::Start(procs) | Step::Run(procs) => procs.into_iter().map(|p| p.label).collect(),
            _ => Vec::new(),
        })
        .collect();
    case.processes
        .sort_by_key(|p| order.iter().position(|l| *l == p.label));
    if shm::exists(segment) {
        case.segment_leaked = true;
        shm::unlink(segment);
    }
    if case.error.is_none() {
        case.error = overlay_error(&case, ctx);
    }
    case
}

fn run_step(
    step: Step,
    segment: &str,
    ctx: &Context,
    live: &mut Vec<Live>,
    case: &mut CaseObservation,
) -> Result<(), String> {
    match step {
        Step::Start(procs) => {
            let first_new = live.len();
            for proc in procs {
                let running = spawn(&proc, segment, ctx)?;
                live.push(Live { proc, running });
            }
            // Wait for each new holder to be ready; one that ends instead is
            // finished and recorded.
            let mut i = first_new;
            while i < live.len() {
                let ready = live[i]
                    .running
                    .wait_for_line(|l| event_is(l, "ready") || event_is(l, "holding"));
                match ready {
                    Ok(_) => i += 1,
                    Err(why) => {
                        let l = live.remove(i);
                        finish_one(case, l, segment, ctx);
                        if why == LineWait::Timeout {
                            return Err(format!(
                                "a process did not get ready within {:?}",
                                ctx.timeout
                            ));
                        }
                    }
                }
            }
        }
        Step::Run(procs) => {
            let started: Vec<Live> = procs
                .into_iter()
                .map(|proc| spawn(&proc, segment, ctx).map(|running| Live { proc, running }))
                .collect::<Result<_, _>>()?;
            for l in started {
                finish_one(case, l, segment, ctx);
            }
        }
        Step::Tell(label, command) => {
            let Some(at) = position(live, &label) else {
                return Ok(());
            };
            let word = command_line(command, ctx.attach);
            let sent = live[at].running.send(&word);
            let done = sent.is_ok()
                && live[at]
                    .running
                    .wait_for_line(|l| {
                        event_is(l, "done") && l.contains(&format!("\"{}\"", command.word()))
                    })
                    .is_ok();
            if !done {
                // The holder died doing it; its transcript says why.
                let l = live.remove(at);
                finish_one(case, l, segment, ctx);
            }
        }
        Step::Finish(labels, command) => {
            let mut finishing = Vec::new();
            for label in labels {
                let Some(at) = position(live, &label) else {
                    continue;
                };
                let mut l = live.remove(at);
                if let Some(c) = command {
                    let _ = l.running.send(&command_line(c, ctx.attach));
                }
                l.running.close_stdin();
                finishing.push(l);
            }
            for l in finishing {
                finish_one(case, l, segment, ctx);
            }
        }
        Step::Crash(label) => {
            let Some(at) = position(live, &label) else {
                return Ok(());
            };
            let l = live.remove(at);
            l.running.signal_leader(libc::SIGKILL);
            let finished = l.running.finish();
            record(case, &l.proc, finished, segment, ctx);
            if let Some(p) = case.processes.last_mut() {
                p.killed_by_harness = true;
            }
        }
    }
    Ok(())
}

/// Where a holder is; `None` if it already ended (its end is recorded, and
/// later steps that address it have nothing to do).
fn position(live: &[Live], label: &str) -> Option<usize> {
    live.iter().position(|l| l.proc.label == label)
}

fn command_line(command: Command, attach: AttachMode) -> String {
    match command {
        Command::SpawnChild => format!("{} {}", command.word(), attach.arg()),
        Command::SpawnUnlinkingChild => format!("{} {} unlink", command.word(), attach.arg()),
        _ => command.word().to_string(),
    }
}

fn spawn(proc: &Proc, segment: &str, ctx: &Context) -> Result<Running, String> {
    let mut cmd = crate::python::command(ctx.python, ctx.overlay);
    cmd.arg("-B").arg("-s").arg(ctx.script);
    let size = SEGMENT_SIZE.to_string();
    match proc.role {
        Role::Creator => {
            cmd.args(["creator", segment, &size]);
        }
        Role::Hanger => {
            cmd.args(["hanger", segment, &size]);
        }
        Role::Attacher { unlink, hold } => {
            cmd.args(["attacher", segment, &size, "--mode", ctx.attach.arg()]);
            if unlink {
                cmd.arg("--unlink");
            }
            if hold {
                cmd.arg("--hold");
            }
        }
    }
    Running::spawn(cmd, ctx.timeout).map_err(|e| {
        format!(
            "cannot start {} ({}): {e}",
            proc.label,
            ctx.python.display()
        )
    })
}

fn finish_one(case: &mut CaseObservation, l: Live, segment: &str, ctx: &Context) {
    let finished = l.running.finish();
    record(case, &l.proc, finished, segment, ctx);
}

fn record(case: &mut CaseObservation, proc: &Proc, out: Finished, segment: &str, ctx: &Context) {
    let script = ctx
        .script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parsed = observe::parse_stderr(&out.stderr, &script);
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let reads: Vec<bool> = events
        .iter()
        .filter(|e| e["event"] == "read")
        .filter_map(|e| e["data_ok"].as_bool())
        .collect();
    let data_ok = (!reads.is_empty()).then(|| reads.iter().all(|ok| *ok));
    let multiprocessing = events
        .iter()
        .find(|e| e["event"] == "start")
        .and_then(|e| e["multiprocessing"].as_str())
        .map(str::to_string);
    case.processes.push(ProcessObservation {
        label: proc.label.clone(),
        group: proc.group.clone(),
        role: role_name(proc.role).to_string(),
        exit_code: out.termination.code(),
        signal: out.termination.signal(),
        timed_out: out.timed_out,
        killed_by_harness: false,
        leak_warnings: parsed.leak_warnings,
        tracker_errors: parsed.tracker_errors.clone(),
        exception: parsed.exception().map(|t| t.exception.clone()),
        tracebacks: parsed.tracebacks,
        data_ok,
        segment_after: shm::exists(segment),
        multiprocessing,
        events,
        stdout: out.stdout,
        stderr: out.stderr,
        duration_ms: out.duration.as_millis() as u64,
    });
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Creator => "creator",
        Role::Hanger => "hanger",
        Role::Attacher { unlink: true, .. } => "attacher+unlink",
        Role::Attacher { hold: true, .. } => "attacher (holds)",
        Role::Attacher { .. } => "attacher",
    }
}

fn event_is(line: &str, name: &str) -> bool {
    line.starts_with('{') && line.contains(&format!("\"event\": \"{name}\""))
}

/// A patched variant must import the overlay, a stock one the installed
/// package; anything else means the run did not test what it claims.
fn overlay_error(case: &CaseObservation, ctx: &Context) -> Option<String> {
    let expected = match ctx.overlay {
        Some(dir) => dir.to_path_buf(),
        None => ctx.stock_package.to_path_buf(),
    };
    case.processes.iter().find_map(|p| {
        let file = p.multiprocessing.as_deref()?;
        let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.into());
        (!real.starts_with(&expected)).then(|| {
            format!(
                "{} imported multiprocessing from {file}, expected {}",
                p.label,
                expected.display()
            )
        })
    })
}
