//! The scenarios, as data: which processes run, in which order, doing what.
//!
//! Each process is one run of `pyscenarios/roles.py`. Labels are what the
//! outputs show (`P1`, `P2`, ...); the `group` is what symptoms are counted
//! under, so that processes whose relative timing is free (concurrent
//! attachers) give the same symptom set on every run.

use crate::contract::{RoleName, ScenarioId, UnknownName};

/// What one process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Creates the segment (`list`: as a ShareableList), writes the
    /// pattern, then obeys stdin commands.
    Creator { list: bool },
    /// Attaches (`list`: as a ShareableList), reads and checks, then exits
    /// (`hold`: waits for stdin EOF first; `unlink`: calls unlink() before
    /// exiting).
    Attacher {
        unlink: bool,
        hold: bool,
        list: bool,
    },
    /// Starts a SharedMemoryManager that makes a SharedMemory and a
    /// ShareableList (segments NAME_m1, NAME_m2), then obeys stdin.
    Manager,
    /// Test-only: attaches, then blocks forever (for `--timeout` and
    /// signal tests; see the hidden `hang` scenario).
    Hanger,
}

impl Role {
    /// It makes the case's segments (and gets `ready` after that).
    pub fn creates(self) -> bool {
        self.name().creates()
    }

    /// What outputs call a process in this role.
    pub fn name(self) -> RoleName {
        match self {
            Role::Creator { list: false } => RoleName::Creator,
            Role::Creator { list: true } => RoleName::CreatorList,
            Role::Manager => RoleName::Manager,
            Role::Hanger => RoleName::Hanger,
            Role::Attacher { unlink: true, .. } => RoleName::AttacherUnlinks,
            Role::Attacher { hold: true, .. } => RoleName::AttacherHolds,
            Role::Attacher { .. } => RoleName::Attacher,
        }
    }

    /// The segments a process in this role creates, from the case's name.
    pub fn segments(self, name: &str) -> Vec<String> {
        match self {
            Role::Manager => vec![format!("{name}_m1"), format!("{name}_m2")],
            _ => vec![name.to_string()],
        }
    }
}

/// Commands a holding process understands (see roles.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Check,
    Close,
    Unlink,
    /// A multiprocessing child attaches by name and reads (and unlinks).
    SpawnChild {
        unlink: bool,
    },
    /// A multiprocessing child gets the SharedMemory object itself (pickled
    /// under spawn and forkserver, inherited under fork).
    ObjectChild {
        unlink: bool,
    },
    /// `os.fork()`: the child attaches by name, reads, `os._exit`s.
    RawFork,
    /// Grow the segment so that a later attach fails in mmap after
    /// shm_open (gh-153279's path).
    Grow,
    Shrink,
    /// The manager's child uses both objects.
    ManagerChild,
    /// The manager shuts down (its server unlinks what it tracks).
    Shutdown,
}

impl Command {
    pub fn word(self) -> &'static str {
        match self {
            Command::Check => "check",
            Command::Close => "close",
            Command::Unlink => "unlink",
            Command::SpawnChild { .. } => "spawn-child",
            Command::ObjectChild { .. } => "object-child",
            Command::RawFork => "raw-fork",
            Command::Grow => "grow",
            Command::Shrink => "shrink",
            Command::ManagerChild => "child",
            Command::Shutdown => "shutdown",
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
    /// It starts a multiprocessing child: it runs once per start method.
    pub children: bool,
    pub steps: fn(&Params) -> Vec<Step>,
}

fn proc(label: &str, role: Role) -> Proc {
    Proc {
        label: label.into(),
        group: label.into(),
        role,
    }
}

fn creator(label: &str) -> Proc {
    proc(label, Role::Creator { list: false })
}

fn attacher(label: &str) -> Proc {
    proc(
        label,
        Role::Attacher {
            unlink: false,
            hold: false,
            list: false,
        },
    )
}

fn list_attacher(label: &str) -> Proc {
    proc(
        label,
        Role::Attacher {
            unlink: false,
            hold: false,
            list: true,
        },
    )
}

fn p1() -> String {
    "P1".to_string()
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: ScenarioId::ThreeProcess,
        summary: "the seed: P1 creates, P2 attaches and exits, P3 attaches, P1 unlinks",
        children: false,
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
        children: false,
        hidden: false,
        steps: |_| {
            let p2 = proc(
                "P2",
                Role::Attacher {
                    unlink: true,
                    hold: false,
                    list: false,
                },
            );
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
        children: false,
        hidden: false,
        steps: |_| vec![Step::Start(vec![creator("P1")]), Step::Crash(p1())],
    },
    Scenario {
        id: ScenarioId::CreatorExitsWithoutUnlink,
        summary: "P1 creates, closes and exits without unlink; its tracker warns and cleans up",
        children: false,
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
        children: false,
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
                        list: false,
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
        summary: "P1 creates and starts a multiprocessing child that attaches by name; they share one tracker",
        children: true,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::SpawnChild { unlink: false }),
                Step::Tell(p1(), Command::Check),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::FamilyAttacherUnlinks,
        summary: "P1 creates; its multiprocessing child attaches by name and unlinks; P1 closes and exits",
        children: true,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::SpawnChild { unlink: true }),
                Step::Finish(vec![p1()], Some(Command::Close)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::CreatorUnlinksFirst,
        summary: "control: P1 creates and unlinks, then P2 attaches and must get FileNotFoundError",
        children: false,
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
        id: ScenarioId::FamilyObject,
        summary: "P1 creates and passes its SharedMemory object to a multiprocessing child (pickled, or inherited under fork) that reads",
        children: true,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::ObjectChild { unlink: false }),
                Step::Tell(p1(), Command::Check),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::FamilyObjectUnlinks,
        summary: "P1 passes its SharedMemory object to a multiprocessing child that reads and unlinks; P1 closes and exits",
        children: true,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::ObjectChild { unlink: true }),
                Step::Finish(vec![p1()], Some(Command::Close)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::ShareableList,
        summary: "the seed with a ShareableList: P1 creates it, P2 attaches by name and exits, P3 reads it",
        children: false,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![proc("P1", Role::Creator { list: true })]),
                Step::Run(vec![list_attacher("P2")]),
                Step::Run(vec![list_attacher("P3")]),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::Manager,
        summary: "P1's SharedMemoryManager makes a SharedMemory and a ShareableList; a child uses both; P1 shuts the manager down",
        children: true,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![proc("P1", Role::Manager)]),
                Step::Tell(p1(), Command::ManagerChild),
                Step::Tell(p1(), Command::Check),
                Step::Finish(vec![p1()], Some(Command::Shutdown)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::RawFork,
        summary: "P1 os.fork()s; the child attaches by name, reads and os._exit()s; P1 reads and unlinks",
        children: false,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::RawFork),
                Step::Tell(p1(), Command::Check),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::AttachFails,
        summary: "gh-153279: P2's attach fails in mmap after shm_open (P1 grew the segment past what can be mapped); P3 attaches after P1 shrinks it",
        children: false,
        hidden: false,
        steps: |_| {
            vec![
                Step::Start(vec![creator("P1")]),
                Step::Tell(p1(), Command::Grow),
                Step::Run(vec![attacher("P2")]),
                Step::Tell(p1(), Command::Shrink),
                Step::Run(vec![attacher("P3")]),
                Step::Finish(vec![p1()], Some(Command::Unlink)),
            ]
        },
    },
    Scenario {
        id: ScenarioId::Hang,
        summary: "test-only: P1 creates, P2 attaches and hangs (killed at --timeout), P3 attaches, P1 unlinks",
        children: false,
        hidden: true,
        steps: |_| {
            let p2 = proc("P2", Role::Hanger);
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
