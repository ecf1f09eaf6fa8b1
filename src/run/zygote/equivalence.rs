//! Do roles forked from a zygote observe what fresh interpreters observe?
//! `bench/equivalence` runs the whole catalogue with `--roles exec` and
//! `--roles zygote`, a few times each, and `shmharness equivalence` compares
//! the results here, cell by cell: a cell is (interpreter, scenario, start
//! method, variant, usage), and what is compared is everything a verdict
//! rests on: the verdict, the symptoms, whether the segment leaked, and each
//! process's exit code and its resource tracker's exit code, per process
//! group (see `Seen`'s equality for the tracker codes the harness cannot
//! always see). Segment names,
//! pids, paths and timings differ from run to run and are not compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::contract::{Results, Row, ScenarioId, StartMethod, Usage, Verdict};

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub interpreter: String,
    pub scenario: ScenarioId,
    pub start_method: Option<StartMethod>,
    pub usage: Usage,
    pub variant: String,
}

/// `3.15.2 family [spawn] [stock]`
impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = Row {
            scenario: self.scenario,
            start_method: self.start_method,
            usage: self.usage,
        };
        write!(f, "{} {row} [{}]", self.interpreter, self.variant)
    }
}

/// What a cell observed, as far as a verdict is concerned.
#[derive(Debug, Clone)]
pub struct Seen {
    pub verdict: Verdict,
    pub symptoms: Vec<String>,
    pub segment_leaked: bool,
    pub processes: Vec<ProcessSeen>,
}

/// Group, exit code, tracker exit code.
pub type ProcessSeen = (String, Option<i32>, Option<i32>);

/// A case's processes as (group, exit code, tracker exit code), sorted:
/// processes of one group run in a free order (many-attachers' A1 and A2),
/// so which of them saw which code is no observation, as their symptoms
/// are counted per group.
fn processes(c: &crate::contract::Case) -> Vec<ProcessSeen> {
    let mut seen: Vec<ProcessSeen> = c
        .processes
        .iter()
        .map(|p| {
            let group = if p.group.is_empty() {
                &p.label
            } else {
                &p.group
            };
            (group.clone(), p.exit_code, p.tracker_exit_code)
        })
        .collect();
    seen.sort();
    seen
}

/// Equal in everything, except that a tracker exit code known on one side
/// only is no difference. The code is known when the harness reaped the
/// tracker as an orphan; from 3.13.18 and 3.14 on, the role's
/// `ResourceTracker.__del__` reaps it itself if it exits within 1 s
/// (gh-146313), so whether it is known depends on timing and on the order
/// of the role's finalization, in either mode (seen with `--roles exec`
/// alone: the same cell gives `tracker 0` and `tracker -` in two runs).
/// Two known codes must be equal.
impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        let same_process = |(a, b): (&ProcessSeen, &ProcessSeen)| {
            a.0 == b.0
                && a.1 == b.1
                && match (a.2, b.2) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                }
        };
        self.verdict == other.verdict
            && self.symptoms == other.symptoms
            && self.segment_leaked == other.segment_leaked
            && self.processes.len() == other.processes.len()
            && self
                .processes
                .iter()
                .zip(&other.processes)
                .all(same_process)
    }
}

impl Eq for Seen {}

/// `pass: P2 leak warning, P3 FileNotFoundError; P1 exit 1 tracker 1, P2 exit 0 tracker 1`
impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.verdict.as_str())?;
        match self.symptoms.is_empty() {
            true => write!(f, "no symptom")?,
            false => write!(f, "{}", self.symptoms.join(", "))?,
        }
        if self.segment_leaked {
            write!(f, ", segment leaked")?;
        }
        let code = |c: Option<i32>| c.map_or("-".to_string(), |c| c.to_string());
        let procs: Vec<String> = self
            .processes
            .iter()
            .map(|(label, exit, tracker)| {
                format!("{label} exit {} tracker {}", code(*exit), code(*tracker))
            })
            .collect();
        write!(f, "; {}", procs.join(", "))
    }
}

/// Every cell of `results` and what it observed (more than one entry when
/// the run repeated cells, `--repeat`).
pub fn cells(results: &Results) -> BTreeMap<Cell, Vec<Seen>> {
    let mut out: BTreeMap<Cell, Vec<Seen>> = BTreeMap::new();
    for c in &results.cases {
        let cell = Cell {
            interpreter: c.interpreter.clone(),
            scenario: c.scenario,
            start_method: c.start_method,
            usage: c.usage,
            variant: c.variant.clone(),
        };
        let seen = Seen {
            verdict: c.verdict,
            symptoms: c.symptoms.iter().map(|s| s.key.clone()).collect(),
            segment_leaked: c.segment_leaked,
            processes: processes(c),
        };
        out.entry(cell).or_default().push(seen);
    }
    out
}

/// A cell that observed something else in `b` than in `a` (or ran in one
/// only: that side is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub cell: Cell,
    pub a: Vec<Seen>,
    pub b: Vec<Seen>,
}

/// How many cells `a` and `b` have between them, and those that differ.
pub fn compare(a: &Results, b: &Results) -> (usize, Vec<Difference>) {
    let (a, b) = (cells(a), cells(b));
    let keys: BTreeSet<&Cell> = a.keys().chain(b.keys()).collect();
    let differ = keys
        .iter()
        .filter_map(|cell| {
            let (x, y) = (a.get(*cell), b.get(*cell));
            (x != y).then(|| Difference {
                cell: (*cell).clone(),
                a: x.cloned().unwrap_or_default(),
                b: y.cloned().unwrap_or_default(),
            })
        })
        .collect();
    (keys.len(), differ)
}

/// The comparison of `exec[i]` with `zygote[i]` for every repetition i
/// (what decides), then what explains a difference: the cells that changed
/// between repetitions of one mode (compared with its first), and the
/// cells where one mode saw, in some repetition, an outcome the other never
/// saw. The text, and the number of cells that differed between the modes
/// in any repetition.
pub fn report(exec: &[Results], zygote: &[Results]) -> (String, usize) {
    let unstable = |runs: &[Results]| -> BTreeSet<Cell> {
        runs.iter()
            .skip(1)
            .flat_map(|r| compare(&runs[0], r).1)
            .map(|d| d.cell)
            .collect()
    };
    let (exec_unstable, zygote_unstable) = (unstable(exec), unstable(zygote));
    let mut text = String::new();
    let mut differing: BTreeSet<Cell> = BTreeSet::new();
    for (i, (e, z)) in exec.iter().zip(zygote).enumerate() {
        let (n, diffs) = compare(e, z);
        text += &format!(
            "repetition {}: {n} cells, {} differ between exec and zygote\n",
            i + 1,
            diffs.len()
        );
        for d in diffs {
            let also = match exec_unstable.contains(&d.cell) {
                true => " (it changed between exec's own repetitions too)",
                false => "",
            };
            text += &format!("  {}{also}\n", d.cell);
            text += &format!("    exec:   {}\n", seen_list(&d.a));
            text += &format!("    zygote: {}\n", seen_list(&d.b));
            differing.insert(d.cell);
        }
    }
    for (mode, changed) in [("exec", &exec_unstable), ("zygote", &zygote_unstable)] {
        text += &format!(
            "{mode} alone: {} cells changed between repetitions{}\n",
            changed.len(),
            names(changed)
        );
    }
    let only = outcomes_in_one_mode(exec, zygote);
    text += &format!(
        "over all repetitions: {} cells where one mode saw an outcome the other never saw{}\n",
        only.len(),
        names(&only)
    );
    let interpreters: BTreeSet<&str> = exec
        .iter()
        .chain(zygote)
        .flat_map(|r| r.interpreters.iter().map(|i| i.id.as_str()))
        .collect();
    text += &format!(
        "{} differing cells over {} repetitions on {} interpreters ({}){}\n",
        differing.len(),
        exec.len().min(zygote.len()),
        interpreters.len(),
        interpreters.into_iter().collect::<Vec<_>>().join(", "),
        names(&differing)
    );
    (text, differing.len())
}

/// Cells whose outcomes over every repetition of one mode include one that
/// no repetition of the other mode had (equal as `Seen` is equal).
fn outcomes_in_one_mode(exec: &[Results], zygote: &[Results]) -> BTreeSet<Cell> {
    let outcomes = |runs: &[Results]| -> BTreeMap<Cell, Vec<Seen>> {
        let mut out: BTreeMap<Cell, Vec<Seen>> = BTreeMap::new();
        for (cell, seen) in runs.iter().flat_map(cells) {
            out.entry(cell).or_default().extend(seen);
        }
        out
    };
    let (e, z) = (outcomes(exec), outcomes(zygote));
    let none: Vec<Seen> = Vec::new();
    let unmatched = |x: &Vec<Seen>, y: &Vec<Seen>| x.iter().any(|s| !y.contains(s));
    e.keys()
        .chain(z.keys())
        .filter(|cell| {
            let (x, y) = (e.get(*cell).unwrap_or(&none), z.get(*cell).unwrap_or(&none));
            x.is_empty() != y.is_empty() || unmatched(x, y) || unmatched(y, x)
        })
        .cloned()
        .collect()
}

fn seen_list(seen: &[Seen]) -> String {
    match seen {
        [] => "(not run)".into(),
        _ => seen
            .iter()
            .map(Seen::to_string)
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

/// `: a, b` (at most ten named), or nothing.
fn names(cells: &BTreeSet<Cell>) -> String {
    if cells.is_empty() {
        return String::new();
    }
    let named: Vec<String> = cells.iter().take(10).map(Cell::to_string).collect();
    let more = cells.len().saturating_sub(10);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(": {}{more}", named.join(", "))
}
