//! Run a matrix of cases: build each overlay once, then run cases on a pool
//! of `--jobs` workers. Results land in their plan slot, so the output order
//! never depends on which case finished first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::discovery::Interpreter;
use crate::overlay::{self, Overlay};
use crate::scenario::{self, CaseObservation, Params, Scenario, engine};
use crate::variant::Variant;

#[derive(Clone)]
pub struct Plan {
    pub interpreters: Vec<Interpreter>,
    pub variants: Vec<Variant>,
    pub scenarios: Vec<&'static Scenario>,
    pub params: Params,
    pub jobs: usize,
    pub timeout: Duration,
    /// Run every case this many times (hidden `--repeat`, for soak tests).
    pub repeat: usize,
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub interpreter: usize,
    pub variant: usize,
    pub scenario: &'static str,
    pub outcome: CaseOutcome,
}

#[derive(Debug, Clone)]
pub enum CaseOutcome {
    /// The variant does not exist for this interpreter.
    NotApplicable(String),
    /// The case could not run (its overlay failed, say).
    Error(String),
    Observed(CaseObservation),
}

pub struct RunOutput {
    pub cases: Vec<CaseRun>,
    /// `overlays[i][v]`: the overlay of interpreter i, variant v.
    pub overlays: Vec<Vec<Option<Result<Overlay, String>>>>,
    pub wall: Duration,
    /// CPU (user + system) of the processes this run started, reaped
    /// during the run: the delta of RUSAGE_CHILDREN around it, so discovery
    /// probes are not counted, and the orphaned trackers are (we are their
    /// subreaper, see `proc`).
    pub children_cpu: Duration,
    /// CPU of the harness itself during the run (RUSAGE_SELF delta).
    pub harness_cpu: Duration,
    pub interrupted: bool,
}

/// User + system CPU time of `who` (RUSAGE_SELF or RUSAGE_CHILDREN).
pub fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A short, run-unique prefix for segment names (macOS allows 30 chars).
pub fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = (std::process::id().wrapping_mul(2_654_435_761)) ^ nanos;
    format!("shmh{:06x}", mix & 0xff_ffff)
}

/// Work dir of one run: the role script and the overlays. Removed on drop.
pub struct Workspace {
    dir: tempfile::TempDir,
    pub script: PathBuf,
}

impl Workspace {
    pub fn new() -> std::io::Result<Workspace> {
        let dir = tempfile::Builder::new().prefix("shmharness-").tempdir()?;
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

pub fn execute(plan: &Plan, ws: &Workspace) -> RunOutput {
    let started = Instant::now();
    crate::proc::become_subreaper();
    let (children_before, self_before) =
        (cpu_time(libc::RUSAGE_CHILDREN), cpu_time(libc::RUSAGE_SELF));
    let overlays = build_overlays(plan, ws.path());

    let mut slots: Vec<(usize, usize, &'static Scenario)> = Vec::new();
    for i in 0..plan.interpreters.len() {
        for s in &plan.scenarios {
            for v in 0..plan.variants.len() {
                for _ in 0..plan.repeat.max(1) {
                    slots.push((i, v, s));
                }
            }
        }
    }
    let prefix = run_prefix();
    let results = crate::pool::map(slots.len(), plan.jobs, |n| {
        let (i, v, s) = slots[n];
        let outcome = run_case(plan, ws, &overlays, i, v, s, &format!("{prefix}_{n}"));
        crate::progress::tick();
        CaseRun {
            interpreter: i,
            variant: v,
            scenario: s.name,
            outcome,
        }
    });
    // Belt and braces: any segment of this run that survived its case.
    for n in 0..slots.len() {
        let name = format!("{prefix}_{n}");
        if crate::shm::exists(&name) {
            crate::shm::unlink(&name);
        }
    }
    let interrupted = crate::proc::cancelled();
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

fn run_case(
    plan: &Plan,
    ws: &Workspace,
    overlays: &[Vec<Option<Result<Overlay, String>>>],
    i: usize,
    v: usize,
    scenario: &'static Scenario,
    segment: &str,
) -> CaseOutcome {
    let interp = &plan.interpreters[i];
    let variant = &plan.variants[v];
    if let Some(reason) = variant.not_applicable(interp.version) {
        return CaseOutcome::NotApplicable(reason);
    }
    let overlay_dir = match &overlays[i][v] {
        Some(Ok(o)) => Some(o.dir.as_path()),
        Some(Err(e)) => return CaseOutcome::Error(e.clone()),
        None => None,
    };
    let ctx = engine::Context {
        python: &interp.executable,
        script: &ws.script,
        overlay: overlay_dir,
        stock_package: &interp.multiprocessing,
        attach: variant.attach,
        timeout: plan.timeout,
        params: plan.params,
    };
    CaseOutcome::Observed(engine::run(scenario, segment, &ctx))
}

/// One overlay per (interpreter, variant) that needs one, built in parallel.
fn build_overlays(plan: &Plan, root: &Path) -> Vec<Vec<Option<Result<Overlay, String>>>> {
    let pairs: Vec<(usize, usize)> = (0..plan.interpreters.len())
        .flat_map(|i| (0..plan.variants.len()).map(move |v| (i, v)))
        .collect();
    let built = crate::pool::map(pairs.len(), plan.jobs, |n| {
        let (i, v) = pairs[n];
        let (interp, variant) = (&plan.interpreters[i], &plan.variants[v]);
        if variant.not_applicable(interp.version).is_some() {
            return None;
        }
        overlay::build(interp, variant, root, plan.timeout).transpose()
    });
    let mut flat = built.into_iter();
    (0..plan.interpreters.len())
        .map(|_| {
            (0..plan.variants.len())
                .map(|_| flat.next().flatten().flatten())
                .collect()
        })
        .collect()
}
