//! The scenarios, as data: which processes run, in which order, doing what.
//!
//! Each process is one run of `pyscenarios/roles.py`. Labels are what the
//! outputs show (`P1`, `P2`, ...); the `group` is what symptoms are counted
//! under, so that processes whose relative timing is free (concurrent
//! attachers) give the same symptom set on every run.

use crate::contract::{ScenarioId, UnknownName};

/// What one process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Creates the segment, writes the pattern, then obeys stdin commands.
    Creator,
    /// Attaches, reads and checks, then exits (`hold`: waits for stdin EOF
    /// first; `unlink`: calls unlink() before exiting).
    Attacher { unlink: bool, hold: bool },
    /// Test-only: attaches, then blocks forever (for `--timeout` and
    /// signal tests; see the hidden `hang` scenario).
    Hanger,
}

/// Commands a holding creator understands (see roles.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Check,
    Close,
    Unlink,
    SpawnChild,
    /// A child that attaches, reads and unlinks.
    SpawnUnlinkingChild,
}

impl Command {
    pub fn word(self) -> &'static str {
        match self {
            Command::Check => "check",
            Command::Close => "close",
            Command::Unlink => "unlink",
            Command::SpawnChild | Command::SpawnUnlinkingChild => "spawn-child",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub label: String,
    pub group: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Start holders and wait until each reports it is ready.
    Start(Vec<Proc>),
    /// Start processes together and read every one to EOF.
    Run(Vec<Proc>),
    /// Tell a holding creator to do something and wait until it has.
    Tell(String, Command),
    /// Optionally send a last command, then close stdin of the holders and
    /// read them to EOF.
    Finish(Vec<String>, Option<Command>),
    /// SIGKILL a holder's leader (its tracker lives on) and read to EOF.
    Crash(String),
}

/// Knobs that shape scenarios.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub attachers: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { attachers: 4 }
    }
}

pub struct Scenario {
    pub id: ScenarioId,
    pub summary: &'static str,
    /// Test-only scenarios are left out of `all` and of `--help`.
    pub hidden: bool,
    pub steps: fn(&Params) -> Vec<Step>,
}

fn creator(label: &str) -> Proc {
    Proc {
        label: label.into(),
        group: label.into(),
        role: Role::Creator,
    }
}

fn attacher(label: &str) -> Proc {
    Proc {
        label: label.into(),
        group: label.into(),
        role: Role::Attacher {
            unlink: false,
            hold: false,
        },
    }
}

fn p1() -> String {
    "P1".to_string()
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: ScenarioId::ThreeProcess,
        summary: "the seed: P1 creates, P2 attaches and exits, P3 attaches, P1 unlinks",
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Run(vec![attacher("P2")]),
                Step::Run(vec![attacher("P3")]),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::AttacherUnlinks,
        summary: "P1 creates and holds, P2 attaches and unlinks, P1 closes and exits",
        hidden: false,
        steps: |_| {
            let p2 = Proc {
                label: "P2".into(),
                group: "P2".into(),
                role: Role::Attacher {
                    unlink: true,
                    hold: false,
                },
            };
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Run(vec![p2]),
                Step::Finish(vec![p1()], Some(Command::Close)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::CreatorCrashes,
        summary: "P1 creates and is killed with SIGKILL; its tracker must remove the segment",
        hidden: false,
        steps: |_| vec![Step::Start(vec![creator("P1")]), Step::Crash(p1())],
    },
    Scenario {
        id: ScenarioId::CreatorExitsWithoutUnlink,
        summary: "P1 creates, closes and exits without unlink; its tracker warns and cleans up",
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Finish(vec![p1()], Some(Command::Close)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::ManyAttachers,
        summary: "P1 creates; attachers (half at once, half one by one) read and exit; R reads last",
        hidden: false,
        steps: |params| {
            let n = params.attachers.max(1);
            let together = n.div_ceil(2);
            let holders: Vec<Proc> = (1..=together)
                .map(|i| Proc {
                    label: format!("A{i}"),
                    group: "A*".into(),
                    role: Role::Attacher {
                        unlink: false,
                        hold: true,
                    },
                })
                .collect();
            let labels = holders.iter().map(|p| p.label.clone()).collect();
            let mut steps = vec![
                Step::Start(vec![creator("P1")]),
                Step::Start(holders),
                Step::Finish(labels, None),
            ];
            for i in 1..=(n - together) {
                let mut p = attacher(&format!("B{i}"));
                p.group = "B*".into();
                steps.push(Step::Run(vec![p]));
            }
            steps.push(Step::Run(vec![attacher("R")]));
            steps.push(Step::Finish(vec![p1()], Some(Command::Unlink)));
            steps
        },
    },
    Scenario {
        id: ScenarioId::Family,
        summary: "P1 creates and starts a multiprocessing child (spawn) that attaches; they share one tracker",
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::SpawnChild),
                Step::Tell(p1(), Command::Check),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::FamilyAttacherUnlinks,
        summary: "P1 creates; its multiprocessing child (spawn) attaches and unlinks; P1 closes and exits",
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::SpawnUnlinkingChild),
                Step::Finish(vec![p1()], Some(Command::Close)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::CreatorUnlinksFirst,
        summary: "control: P1 creates and unlinks, then P2 attaches and must get FileNotFoundError",
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::Unlink),
                Step::Run(vec![attacher("P2")]),
                Step::Finish(vec![p1()], None),
            ]
        },
    },
    Scenario {
        id: ScenarioId::Hang,
        summary: "test-only: P1 creates, P2 attaches and hangs (killed at --timeout), P3 attaches, P1 unlinks",
        hidden: true,
        steps: |_| {
            let p2 = Proc {
                label: "P2".into(),
                group: "P2".into(),
                role: Role::Hanger,
            };
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Run(vec![p2]),
                Step::Run(vec![attacher("P3")]),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
];

impl Scenario {
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

pub fn find(id: ScenarioId) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.id == id)
        .expect("every scenario id has a catalogue entry (unit test)")
}

/// The scenarios `all` means: every visible one, in catalogue order.
pub fn visible() -> impl Iterator<Item = &'static Scenario> {
    SCENARIOS.iter().filter(|s| !s.hidden)
}

/// Resolve `--scenario` values (`all` = every visible scenario).
pub fn resolve(requested: &[String]) -> Result<Vec<&'static Scenario>, UnknownName> {
    if requested.iter().any(|r| r == "all") {
        return Ok(visible().collect());
    }
    let mut out: Vec<&'static Scenario> = Vec::new();
    for name in requested {
        let s = find(ScenarioId::parse(name).map_err(|mut e| {
            e.known = visible().map(|s| s.name()).collect();
            e
        })?);
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_id_has_one_entry_and_steps() {
        for id in ScenarioId::ALL {
            assert_eq!(SCENARIOS.iter().filter(|s| s.id == *id).count(), 1, "{id}");
            assert!(!(find(*id).steps)(&Params::default()).is_empty(), "{id}");
        }
    }

    #[test]
    fn all_leaves_out_hidden_scenarios() {
        let all = resolve(&["all".to_string()]).unwrap();
        assert!(all.iter().all(|s| !s.hidden));
        assert!(!all.iter().any(|s| s.id == ScenarioId::Hang));
        assert!(resolve(&["hang".to_string()]).is_ok());
        let e = resolve(&["three-proces".to_string()]).err().unwrap();
        assert!(
            e.to_string().contains("did you mean `three-process`?"),
            "{e}"
        );
    }
}
