//! The scenarios, as data: which processes run, in which order, doing what.
//!
//! Each process is one run of `pyscenarios/roles.py`. Labels are what the
//! outputs show (`P1`, `P2`, ...); the `group` is what symptoms are counted
//! under, so that processes whose relative timing is free (concurrent
//! attachers) give the same symptom set on every run.

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
    pub name: &'static str,
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
        name: "three-process",
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
        name: "attacher-unlinks",
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
        name: "creator-crashes",
        summary: "P1 creates and is killed with SIGKILL; its tracker must remove the segment",
        hidden: false,
        steps: |_| vec![Step::Start(vec![creator("P1")]), Step::Crash(p1())],
    },
    Scenario {
        name: "creator-exits-without-unlink",
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
        name: "many-attachers",
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
        name: "family",
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
        name: "family-attacher-unlinks",
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
        name: "creator-unlinks-first",
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
        name: "hang",
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

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Names for help and errors (hidden ones left out).
pub fn names() -> Vec<&'static str> {
    SCENARIOS
        .iter()
        .filter(|s| !s.hidden)
        .map(|s| s.name)
        .collect()
}

/// Resolve `--scenario` values (`all` = every visible scenario).
pub fn resolve(requested: &[String]) -> Result<Vec<&'static Scenario>, String> {
    if requested.iter().any(|r| r == "all") {
        return Ok(SCENARIOS.iter().filter(|s| !s.hidden).collect());
    }
    let mut out: Vec<&'static Scenario> = Vec::new();
    for name in requested {
        let s = find(name).ok_or_else(|| {
            format!(
                "unknown scenario `{name}` (scenarios: {}, all)",
                names().join(", ")
            )
        })?;
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    Ok(out)
}
