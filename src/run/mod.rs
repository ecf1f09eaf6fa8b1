//! Run a matrix of cases: build each overlay once, then run cases on a pool
//! of `--jobs` workers. Results land in their plan slot, so the output order
//! never depends on which case finished first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::contract::{Event, Interpreter, ScenarioId, StartMethod, Usage};
use crate::overlay::{self, Overlay, OverlayError};
use crate::scenario::{self, CaseError, CaseObservation, Params, Scenario};
use engine::World;

pub mod engine;
pub mod zygote;

use crate::host::signal::Signal;
use crate::overlay::variant::Variant;

/// `overlays[i][v]`: the overlay of interpreter i, variant v (`None`: the
/// variant runs the stock stdlib, or does not apply).
pub type Overlays = Vec<Vec<Option<Result<Overlay, OverlayError>>>>;

/// How often a case is run again under a fresh segment name when its name
/// was already taken by someone else's segment.
const NAME_ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct Plan {
    pub interpreters: Vec<Interpreter>,
    pub variants: Vec<Variant>,
    pub scenarios: Vec<&'static Scenario>,
    /// Each scenario that starts a multiprocessing child runs once per
    /// start method here.
    pub start_methods: Vec<StartMethod>,
    /// Every case runs once per usage (how attachers attach).
    pub usages: Vec<Usage>,
    pub params: Params,
    pub jobs: usize,
    pub timeout: Duration,
    /// Run every case this many times (hidden `--repeat`, for soak tests).
    pub repeat: usize,
    /// Run the interpreters a user's patch applies to even when it does not
    /// apply to all (`--keep-going`).
    pub keep_going: bool,
    /// Where built overlays are kept across runs (`None`: `--no-cache`).
    pub overlay_cache: Option<PathBuf>,
    /// How role processes start (`--roles`, see `zygote`).
    pub roles: zygote::Roles,
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub interpreter: usize,
    pub variant: usize,
    pub scenario: ScenarioId,
    pub start_method: Option<StartMethod>,
    pub usage: Usage,
    pub outcome: CaseOutcome,
}

#[derive(Debug, Clone)]
pub enum CaseOutcome {
    /// The variant does not exist for this interpreter, or its stdlib lacks
    /// the API the usage needs.
    NotApplicable(String),
    /// The case could not run (its overlay failed, say).
    Error(String),
    Observed(CaseObservation),
}

pub struct RunOutput {
    pub cases: Vec<CaseRun>,
    pub overlays: Overlays,
    pub wall: Duration,
    /// CPU (user + system) of the processes this run started, reaped
    /// during the run: the delta of RUSAGE_CHILDREN around it, so discovery
    /// probes are not counted, and the orphaned trackers are (we are their
    /// subreaper, see `proc`).
    pub children_cpu: Duration,
    /// CPU of the harness itself during the run (RUSAGE_SELF delta).
    pub harness_cpu: Duration,
    /// The signal that stopped the run, if one did.
    pub interrupted: Option<Signal>,
}

impl Plan {
    /// How many cases the plan runs: a scenario that starts a
    /// multiprocessing child runs once per start method.
    pub fn case_count(&self) -> usize {
        let rows: usize = self
            .scenarios
            .iter()
            .map(|s| {
                if s.children {
                    self.start_methods.len()
                } else {
                    1
                }
            })
            .sum();
        self.interpreters.len()
            * self.variants.len()
            * self.usages.len().max(1)
            * rows
            * self.repeat.max(1)
    }
}

impl RunOutput {
    /// Keep only the cases that finished: after a signal, a case it cut
    /// short says nothing.
    pub fn keep_completed(&mut self) {
        if self.interrupted.is_some() {
            self.cases.retain(|c| match &c.outcome {
                CaseOutcome::Observed(obs) => !matches!(obs.error, Some(CaseError::Interrupted)),
                _ => true,
            });
        }
    }
}

/// Work dir of one run: the role script and the overlays. Removed on drop.
pub struct Workspace {
    dir: tempfile::TempDir,
    pub script: PathBuf,
}

impl Workspace {
    pub fn new() -> std::io::Result<Workspace> {
        let dir = tempfile::Builder::new().prefix("shmharness-").tempdir()?;
        crate::host::ledger::open();
        crate::host::ledger::note_dir(dir.path());
        let roles = dir.path().join("roles");
        std::fs::create_dir(&roles)?;
        let script = roles.join("roles.py");
        std::fs::write(&script, scenario::ROLES_PY)?;
        Ok(Workspace { dir, script })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn execute(plan: &Plan, ws: &Workspace, world: &dyn World) -> RunOutput {
    use crate::host::sys::cpu_time;
    let started = Instant::now();
    crate::host::proc::become_subreaper();
    let (children_before, self_before) =
        (cpu_time(libc::RUSAGE_CHILDREN), cpu_time(libc::RUSAGE_SELF));
    let overlays = build_overlays(plan, ws.path());
    let zygotes = zygote::Zygotes::new(world, plan.roles, &ws.script, names(plan), plan.timeout);
    let world: &dyn World = &zygotes;
    let apis = probe_apis(plan, ws, &overlays, world);
    let slots = slots(plan);
    let results = crate::host::pool::map(slots.len(), plan.jobs, |n| {
        let slot = &slots[n];
        let outcome = match unavailable(slot.usage, &apis[slot.i][slot.v]) {
            Some(outcome) => outcome,
            None => run_case(plan, ws, &overlays, slot, world),
        };
        crate::term::progress::tick(&progress_label(plan, slot), failed(&outcome));
        CaseRun {
            interpreter: slot.i,
            variant: slot.v,
            scenario: slot.scenario.id,
            start_method: slot.method,
            usage: slot.usage,
            outcome,
        }
    });
    // The zygotes' own CPU is the run's too: reap them before measuring.
    zygotes.close();
    let interrupted = crate::host::signal::received();
    let cases = results.into_iter().flatten().collect();
    RunOutput {
        cases,
        overlays,
        wall: started.elapsed(),
        children_cpu: cpu_time(libc::RUSAGE_CHILDREN).saturating_sub(children_before),
        harness_cpu: cpu_time(libc::RUSAGE_SELF).saturating_sub(self_before),
        interrupted,
    }
}

/// Each interpreter's executable and id (for the zygotes' notes).
fn names(plan: &Plan) -> std::collections::HashMap<PathBuf, String> {
    plan.interpreters
        .iter()
        .map(|i| (i.executable.clone(), i.id.clone()))
        .collect()
}

/// Every overlay that could not be built because of its patch, one line
/// each, with where to look next: what a user fixes, said once.
pub fn overlay_errors(plan: &Plan, overlays: &Overlays) -> Vec<String> {
    let mut lines = Vec::new();
    for (interp, row) in plan.interpreters.iter().zip(overlays) {
        for built in row {
            if let Some(Err(e)) = built
                && e.is_patch_problem()
            {
                lines.push(e.with_hint(interp.version));
            }
        }
    }
    lines
}

/// One case to run: interpreter, variant, usage, scenario and start
/// method, and its number in the run (for its segment name).
struct Slot {
    i: usize,
    v: usize,
    usage: Usage,
    scenario: &'static Scenario,
    method: Option<StartMethod>,
    n: usize,
}

/// Every case of the plan, in output order: interpreter, scenario, start
/// method, usage, variant.
fn slots(plan: &Plan) -> Vec<Slot> {
    let mut slots: Vec<Slot> = Vec::new();
    let usages = if plan.usages.is_empty() {
        vec![Usage::Default]
    } else {
        plan.usages.clone()
    };
    for i in 0..plan.interpreters.len() {
        for s in &plan.scenarios {
            let methods: Vec<Option<StartMethod>> = if s.children {
                plan.start_methods.iter().copied().map(Some).collect()
            } else {
                vec![None]
            };
            for method in methods {
                for &usage in &usages {
                    for v in 0..plan.variants.len() {
                        for _ in 0..plan.repeat.max(1) {
                            let n = slots.len();
                            slots.push(Slot {
                                i,
                                v,
                                usage,
                                scenario: s,
                                method,
                                n,
                            });
                        }
                    }
                }
            }
        }
    }
    slots
}

/// What the stdlib of each (interpreter, variant) offers, asked of that
/// interpreter with its overlay on the path (`roles.py apis`), only when a
/// usage other than `default` is to run. `None`: not asked.
type Apis = Vec<Vec<Option<Result<Event, String>>>>;

fn probe_apis(plan: &Plan, ws: &Workspace, overlays: &Overlays, world: &dyn World) -> Apis {
    let needed = plan.usages.iter().any(|u| *u != Usage::Default);
    let pairs = pairs(plan.interpreters.len(), plan.variants.len());
    let asked = crate::host::pool::map(pairs.len(), plan.jobs, |n| {
        let (i, v) = pairs[n];
        let overlay = match &overlays[i][v] {
            Some(Ok(o)) => Some(o.dir.as_path()),
            Some(Err(_)) => return None,
            None => None,
        };
        let python = &plan.interpreters[i].executable;
        needed.then(|| engine::apis(python, &ws.script, overlay, plan.timeout, world))
    });
    per_pair(plan, asked)
}

/// A usage the stdlib in effect does not offer: the case is n/a, and says
/// which API is missing (never judged from a version number).
fn unavailable(usage: Usage, apis: &Option<Result<Event, String>>) -> Option<CaseOutcome> {
    let why = match (usage, apis) {
        (Usage::Default, _) | (_, None) => return None,
        (_, Some(Err(e))) => return Some(CaseOutcome::Error(e.clone())),
        (Usage::TrackFalse, Some(Ok(Event::Apis { track: false, .. }))) => {
            "SharedMemory has no track parameter"
        }
        (
            Usage::Unregister,
            Some(Ok(Event::Apis {
                unregister: false, ..
            })),
        ) => "resource_tracker has no unregister()",
        _ => return None,
    };
    Some(CaseOutcome::NotApplicable(format!(
        "usage {usage} needs what this stdlib lacks: {why}"
    )))
}

/// `3.12.1 family [fork] [create-only]`: what the progress bar shows.
fn progress_label(plan: &Plan, slot: &Slot) -> String {
    let method = slot.method.map(|m| format!(" [{m}]")).unwrap_or_default();
    let usage = match slot.usage {
        Usage::Default => String::new(),
        u => format!(" ({u})"),
    };
    format!(
        "{} {}{method}{usage} [{}]",
        plan.interpreters[slot.i].id,
        slot.scenario.name(),
        plan.variants[slot.v].name
    )
}

/// A case that ended in an error (it counts as "not passing so far").
fn failed(outcome: &CaseOutcome) -> bool {
    match outcome {
        CaseOutcome::Error(_) => true,
        CaseOutcome::Observed(o) => o.error.is_some(),
        CaseOutcome::NotApplicable(_) => false,
    }
}

fn run_case(
    plan: &Plan,
    ws: &Workspace,
    overlays: &Overlays,
    slot: &Slot,
    world: &dyn World,
) -> CaseOutcome {
    let (i, v, n, scenario) = (slot.i, slot.v, slot.n, slot.scenario);
    let interp = &plan.interpreters[i];
    let variant = &plan.variants[v];
    if let Some(reason) = variant.not_applicable(interp.version) {
        return CaseOutcome::NotApplicable(reason);
    }
    let overlay_dir = match &overlays[i][v] {
        Some(Ok(o)) => Some(o.dir.as_path()),
        // The whole reason stays with the case (results.json); stderr says
        // it once per interpreter (see `overlay_errors`).
        Some(Err(e)) => return CaseOutcome::Error(e.to_string()),
        None => None,
    };
    let ctx = engine::Context {
        python: &interp.executable,
        script: &ws.script,
        overlay: overlay_dir,
        stock_package: &interp.multiprocessing,
        usage: slot.usage,
        start_method: slot.method,
        tracker_codes: interp.version.minor_version() >= (3, 13),
        timeout: plan.timeout,
        params: plan.params,
    };
    // A name someone else's segment already has is not an outcome: run the
    // case again under a fresh name.
    let mut observed = engine::run(scenario, &crate::host::shm::fresh_name(n), &ctx, world);
    for _ in 1..NAME_ATTEMPTS {
        if !matches!(observed.error, Some(CaseError::NameClash { .. })) {
            break;
        }
        observed = engine::run(scenario, &crate::host::shm::fresh_name(n), &ctx, world);
    }
    CaseOutcome::Observed(observed)
}

/// One overlay per (interpreter, variant) that needs one, built in parallel.
fn build_overlays(plan: &Plan, root: &Path) -> Overlays {
    let pairs = pairs(plan.interpreters.len(), plan.variants.len());
    let built = crate::host::pool::map(pairs.len(), plan.jobs, |n| {
        let (i, v) = pairs[n];
        let (interp, variant) = (&plan.interpreters[i], &plan.variants[v]);
        if variant.not_applicable(interp.version).is_some() {
            return None;
        }
        overlay::build(
            interp,
            variant,
            root,
            plan.timeout,
            plan.overlay_cache.as_deref(),
        )
        .transpose()
    });
    per_pair(plan, built)
}

/// What the pool gave back for each [`pairs`] entry (in that order), as
/// `[interpreter][variant]`; a job that did not run (a signal) is `None`.
fn per_pair<T>(plan: &Plan, done: Vec<Option<Option<T>>>) -> Vec<Vec<Option<T>>> {
    let mut flat = done.into_iter();
    (0..plan.interpreters.len())
        .map(|_| {
            (0..plan.variants.len())
                .map(|_| flat.next().flatten().flatten())
                .collect()
        })
        .collect()
}

/// Every (interpreter, variant) index pair, interpreter-major: the order
/// overlays are built in and CPython's tests run in.
pub fn pairs(interpreters: usize, variants: usize) -> Vec<(usize, usize)> {
    (0..interpreters)
        .flat_map(|i| (0..variants).map(move |v| (i, v)))
        .collect()
}
