//! Issue 13, item 2 and issue 22, item 4: each scenario's key facts from
//! first principles, as a cross-check of the expectation table that never
//! reads it.
//!
//! The facts come from BRIEF.md and the stdlib code of the interpreters on
//! this machine (line numbers below are 3.8.18 / 3.10.13 / 3.13.0, pyenv;
//! 3.11-3.12 match 3.10, 3.14-3.15 match 3.13 in `shared_memory.py`), in
//! two forms:
//!
//! - A small model of the resource tracker (below): per process family one
//!   tracker holding a *set* of names per type (`resource_tracker.py`
//!   `main()`: `cache = {rtype: set() ...}`, `cache[rtype].add(name)` on
//!   REGISTER, `cache[rtype].remove(name)` on UNREGISTER, 3.10 lines
//!   193/207/209); an UNREGISTER for a name the tracker does not hold is a
//!   `KeyError` that its `except Exception: sys.excepthook(...)` prints as
//!   a traceback (lines 213-217); when the family is gone (or its leader is
//!   SIGKILLed: the tracker lives on) a tracker that still holds names warns
//!   once per type, "There appear to be N leaked shared_memory objects"
//!   (lines 222-226), and `shm_unlink`s each, warning `'/name': [Errno 2]`
//!   for one already gone (lines 228-237). `SharedMemory.__init__` (the
//!   register call: 3.8 l. 118-119, 3.10 l. 120, 3.13 l. 121-122 under `if
//!   self._track:`) registers; `unlink()` calls `shm_unlink` and then
//!   unregisters (3.8 l. 240-241, 3.10 l. 243-244, 3.13 l. 252-254). Each
//!   variant changes only who registers and who unregisters (`V` below).
//!   Each scenario is replayed through the model in the order the harness
//!   runs it (src/scenario/catalogue.rs, pyscenarios/roles.py), and every
//!   case of the shared full matrix must show what the model predicts, read
//!   from the raw transcripts (stdout events, stderr lines, exit status).
//! - Named facts a reviewer asks for (the tests after the model), asserted
//!   directly on the transcripts.
//!
//! Neither reads `shmharness expectations`, a case's `outcome` or its
//! `verdict`. The harness's symptom keys must equal the keys the model
//! implies: so a row of the table that disagrees with the model fails
//! here (through those keys and the transcripts), and so does an
//! observation bug that a table snapshot would have copied. Every case of
//! the run is checked, and the run must hold every scenario of the
//! catalogue.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::matrix::{SCENARIOS, builtin_variants};
use crate::util::*;

// ---------------------------------------------------------------------------
// Reading a process from its raw transcript

/// One process as its transcript shows it (not the harness's parsed fields).
struct Raw<'a> {
    label: &'a str,
    group: String,
    exit: Option<i64>,
    signal: Option<i64>,
    stderr: &'a str,
    /// The JSON-line events on stdout (in a family, the child's too).
    events: Vec<Value>,
    /// The case's segment names: its one segment, or the manager's two.
    names: Vec<String>,
}

impl<'a> Raw<'a> {
    fn of(case: &'a Value, p: &'a Value) -> Raw<'a> {
        let label = p["label"].as_str().unwrap();
        Raw {
            label,
            group: group_of(label),
            exit: p["exit_code"].as_i64(),
            signal: p["signal"].as_i64(),
            stderr: p["stderr"].as_str().unwrap(),
            events: events(p),
            names: segment_names(case),
        }
    }

    /// Leak warnings its tracker printed (matched by prefix: 3.13+ appends
    /// the names).
    fn leak_warnings(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.contains("UserWarning: resource_tracker: There appear to be "))
            .count()
    }

    /// ENOENT warnings from its tracker's cleanup of our segments.
    fn tracker_enoent(&self) -> usize {
        self.names
            .iter()
            .map(|name| {
                let needle = format!(
                    "UserWarning: resource_tracker: '/{name}': [Errno 2] No such file or directory"
                );
                self.stderr.lines().filter(|l| l.contains(&needle)).count()
            })
            .sum()
    }

    /// A KeyError traceback from resource_tracker.py about one of our
    /// segments: an UNREGISTER for a name the tracker did not hold.
    fn tracker_key_error(&self) -> bool {
        self.stderr.contains("resource_tracker.py")
            && self.names.iter().any(|name| {
                let last = format!("KeyError: '/{name}'");
                self.stderr.lines().any(|l| l.trim() == last)
            })
    }

    /// The process itself ended with FileNotFoundError about our segment.
    fn file_not_found(&self) -> bool {
        self.names.iter().any(|name| {
            let line = format!("FileNotFoundError: [Errno 2] No such file or directory: '/{name}'");
            self.stderr.lines().any(|l| l.trim() == line)
        })
    }

    /// The process itself ended with an OSError (not a subclass): the
    /// `mmap` of gh-153279's attach.
    fn os_error(&self) -> bool {
        self.stderr
            .lines()
            .any(|l| l.starts_with("OSError: [Errno "))
    }

    fn events_named(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// `data_ok` of every read.
    fn reads(&self) -> Vec<bool> {
        self.events_named("read")
            .iter()
            .map(|e| e["data_ok"].as_bool().expect("data_ok"))
            .collect()
    }
}

/// The JSON-line events a process printed on stdout.
fn events(p: &Value) -> Vec<Value> {
    p["stdout"]
        .as_str()
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The segment names of a case: the names a `created` event lists (the
/// manager's two), else the case's one segment.
fn segment_names(case: &Value) -> Vec<String> {
    let listed: Vec<String> = case["processes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(events)
        .filter(|e| e["event"] == "created")
        .flat_map(|e| e["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    if listed.is_empty() {
        vec![
            case["segment"]
                .as_str()
                .expect("a segment name")
                .to_string(),
        ]
    } else {
        listed
    }
}

/// The symptom group of a process label: concurrent attachers are counted
/// together (`A*`, `B*`), as the harness does.
fn group_of(label: &str) -> String {
    match label.chars().next() {
        Some(c @ ('A' | 'B')) if label.len() > 1 && label[1..].parse::<u32>().is_ok() => {
            format!("{c}*")
        }
        _ => label.to_string(),
    }
}

fn raws(case: &Value) -> Vec<Raw<'_>> {
    case["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Raw::of(case, p))
        .collect()
}

fn raw<'a>(case: &'a Value, label: &str) -> Raw<'a> {
    Raw::of(case, process(case, label))
}

// ---------------------------------------------------------------------------
// The model

/// What each variant changes, from its patch (patches/) or role mode
/// (roles.py `attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Stock,
    /// `if create:` before the register call.
    CreateOnly,
    /// The register line removed (unlink still unregisters).
    NoRegister,
    /// `if create:`, and unlink unregisters only what this instance
    /// registered (`self._registered`, set False first thing in __init__).
    UnlinkGuard,
    /// `if create:`, and the tracker ignores an UNREGISTER for an unknown
    /// name (`cache[rtype].discard(name)`).
    Lenient,
    /// Register and unregister both removed (upstream's closed PRs).
    NoTracking,
    /// 3.13+ stdlib; attachers by name pass `track=False` (3.13 l. 86
    /// stores it before shm_open; l. 121 and l. 253 test it), which
    /// nothing else can: a ShareableList has no such parameter (l. 341
    /// `SharedMemory(name)`), a pickled SharedMemory is rebuilt from
    /// `(name, False, size)` (`__reduce__`, l. 194-199), and the manager's
    /// server attaches by name (managers.py `destroy_segment`).
    TrackFalse,
    /// Stock stdlib; the role calls `resource_tracker.unregister` right
    /// after attaching or receiving (roles.py `attach`, `attach_list`,
    /// `adopt`); the stdlib's own attaches (the manager's server) do not.
    Userland,
}

impl V {
    fn parse(s: &str) -> V {
        match s {
            "stock" => V::Stock,
            "create-only" => V::CreateOnly,
            "no-register" => V::NoRegister,
            "create-only+unlink-guard" => V::UnlinkGuard,
            "create-only+lenient-tracker" => V::Lenient,
            "no-tracking" => V::NoTracking,
            "track-false" => V::TrackFalse,
            "userland-unregister" => V::Userland,
            other => panic!("no model for variant {other}"),
        }
    }

    fn creator_registers(self) -> bool {
        !matches!(self, V::NoRegister | V::NoTracking)
    }

    /// Does an `__init__` with `create=False` (and this `track`) register?
    fn attach_registers(self, track: bool) -> bool {
        match self {
            V::Stock | V::Userland => true,
            V::TrackFalse => track,
            _ => false,
        }
    }

    /// Does `unlink()` on `inst` send UNREGISTER?
    fn unlink_unregisters(self, inst: Inst) -> bool {
        match self {
            V::UnlinkGuard => inst.registered,
            V::TrackFalse => inst.track,
            V::NoTracking => false,
            _ => true,
        }
    }
}

/// One SharedMemory object, as far as the tracker is concerned.
#[derive(Debug, Clone, Copy)]
struct Inst {
    /// Its `__init__` registered the name.
    registered: bool,
    /// Its `_track` (3.13+; true below, where nothing can turn it off).
    track: bool,
}

/// How an attach is made, which decides what the role's mode can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// A role's `SharedMemory(name, create=False[, track=False])`.
    ByName,
    /// A role's ShareableList by name, or an object a child received
    /// pickled: `track=False` cannot reach it, the userland unregister can.
    NoTrackParam,
    /// The stdlib's own attach (the manager's server): neither can.
    Internal,
}

/// What the model predicts for one symptom group.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Pred {
    leak_warnings: usize,
    tracker_enoent: usize,
    tracker_key_error: bool,
    file_not_found: bool,
    os_error: bool,
    /// Reads that returned the creator's bytes.
    good_reads: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Code(i64),
    Killed,
}

/// What a case runs on, beyond the variant.
#[derive(Debug, Clone, Copy)]
struct Env<'a> {
    /// The multiprocessing start method of a scenario with a child.
    method: Option<&'a str>,
    /// The stdlib has gh-146313's at-fork handler: a raw `os.fork()` child
    /// closes the inherited tracker fd and starts a tracker of its own
    /// (resource_tracker.py `_after_fork_in_child`, registered with
    /// `os.register_at_fork`; 3.15.2 l. 99-125, 392-394).
    fork_handler: bool,
}

#[derive(Debug)]
struct Model {
    v: V,
    /// How many segments the scenario makes; they go through the same
    /// calls together (the manager's two).
    names: usize,
    /// The segments exist in /dev/shm.
    segment: bool,
    /// Per tracker (named by the process whose stderr it inherits, and
    /// `/raw-fork` for a raw-fork child's own): does it hold the names?
    holds: BTreeMap<String, bool>,
    groups: BTreeMap<String, Pred>,
    exits: BTreeMap<String, Exit>,
}

impl Model {
    fn new(v: V) -> Model {
        Model {
            v,
            names: 1,
            segment: false,
            holds: BTreeMap::new(),
            groups: BTreeMap::new(),
            exits: BTreeMap::new(),
        }
    }

    /// The symptom group of a process or tracker: a tracker prints on the
    /// stderr of the process that started it.
    fn g(&mut self, who: &str) -> &mut Pred {
        let label = who.split('/').next().unwrap();
        self.groups.entry(group_of(label)).or_default()
    }

    fn register(&mut self, tracker: &str) {
        self.holds.insert(tracker.to_string(), true);
    }

    fn unregister(&mut self, tracker: &str) {
        let held = self.holds.entry(tracker.to_string()).or_default();
        if *held {
            *held = false;
        } else if self.v != V::Lenient {
            self.g(tracker).tracker_key_error = true;
        }
    }

    /// The family of `tracker` is gone: clean up what it still holds.
    fn tracker_exits(&mut self, tracker: &str) {
        if self.holds.get(tracker).copied().unwrap_or(false) {
            self.holds.insert(tracker.to_string(), false);
            self.g(tracker).leak_warnings += 1;
            if self.segment {
                self.segment = false;
            } else {
                let names = self.names;
                self.g(tracker).tracker_enoent += names;
            }
        }
    }

    fn died(&mut self, p: &str) {
        self.exits.insert(p.to_string(), Exit::Code(1));
    }

    fn create(&mut self, p: &str) -> Inst {
        self.segment = true;
        let registered = self.v.creator_registers();
        if registered {
            self.register(p);
        }
        Inst {
            registered,
            track: true,
        }
    }

    /// `p` (whose tracker is `tracker`) attaches; None if it died of
    /// FileNotFoundError (`shm_open` raises before anything registers).
    fn attach(&mut self, p: &str, tracker: &str, how: How) -> Option<Inst> {
        if !self.segment {
            self.g(p).file_not_found = true;
            self.died(p);
            return None;
        }
        let track = !(self.v == V::TrackFalse && how == How::ByName);
        let registered = self.v.attach_registers(track);
        if registered {
            self.register(tracker);
        }
        if self.v == V::Userland && how != How::Internal {
            self.unregister(tracker);
        }
        Some(Inst { registered, track })
    }

    /// Attach and read the creator's bytes.
    fn attach_and_read(&mut self, p: &str, tracker: &str, how: How) -> Option<Inst> {
        let inst = self.attach(p, tracker, how)?;
        self.read(p);
        Some(inst)
    }

    /// A child of P1 gets P1's object `creator` as an argument: inherited
    /// under fork (no `__init__` runs), else pickled and rebuilt with
    /// `SharedMemory(name, False, size)` (`__reduce__`, 3.10 l. 191-199),
    /// which attaches. The role's mode then applies (roles.py `adopt`).
    fn receive(&mut self, p: &str, tracker: &str, creator: Inst, env: Env) -> Inst {
        if env.method == Some("fork") {
            if self.v == V::Userland {
                self.unregister(tracker);
            }
            creator
        } else {
            self.attach(p, tracker, How::NoTrackParam)
                .expect("the segment exists while P1 holds it")
        }
    }

    /// gh-153279: `p`'s `shm_open` succeeds, `mmap` fails, and `__init__`'s
    /// `except OSError: self.unlink()` (3.8 l. 114-115, 3.10 l. 116-117,
    /// 3.13 l. 118-119) destroys the segment, before the register line,
    /// and unregisters what this instance never registered; then the
    /// OSError ends `p`.
    fn attach_fails(&mut self, p: &str, tracker: &str) {
        let track = self.v != V::TrackFalse;
        let inst = Inst {
            registered: false,
            track,
        };
        self.segment = false;
        if self.v.unlink_unregisters(inst) {
            self.unregister(tracker);
        }
        self.g(p).os_error = true;
        self.died(p);
    }

    /// `p` unlinks `inst`; false if it died of FileNotFoundError (raised by
    /// shm_unlink, before the unregister).
    fn unlink(&mut self, p: &str, tracker: &str, inst: Inst) -> bool {
        if !self.segment {
            self.g(p).file_not_found = true;
            self.died(p);
            return false;
        }
        self.segment = false;
        if self.v.unlink_unregisters(inst) {
            self.unregister(tracker);
        }
        true
    }

    /// `p` ends normally (unless it already died), and with it its tracker.
    fn exit(&mut self, p: &str) {
        self.exits.entry(p.to_string()).or_insert(Exit::Code(0));
        self.tracker_exits(p);
    }

    fn read(&mut self, p: &str) {
        self.g(p).good_reads += 1;
    }

    /// An independent attacher: attach, read, exit.
    fn attacher(&mut self, p: &str, how: How) {
        self.attach_and_read(p, p, how);
        self.exit(p);
    }

    /// Replay `scenario` in the order the harness runs it (see
    /// src/scenario/catalogue.rs and pyscenarios/roles.py).
    fn replay(v: V, scenario: &str, env: Env) -> Model {
        let mut m = Model::new(v);
        if scenario == "manager" {
            m.names = 2;
        }
        // Every scenario starts with P1 creating (the manager: both of its
        // segments are created in P1, managers.py `SharedMemoryManager.
        // SharedMemory`/`ShareableList`, and registered in P1's tracker).
        let creator = m.create("P1");
        match scenario {
            "three-process" | "shareable-list" => {
                // A ShareableList attaches with `SharedMemory(name)` (3.10
                // l. 331): the seed's bug, out of `track=False`'s reach.
                let how = if scenario == "three-process" {
                    How::ByName
                } else {
                    How::NoTrackParam
                };
                m.attacher("P2", how);
                m.attacher("P3", how);
                m.unlink("P1", "P1", creator);
                m.exit("P1");
            }
            "attacher-unlinks" => {
                if let Some(inst) = m.attach_and_read("P2", "P2", How::ByName) {
                    m.unlink("P2", "P2", inst);
                }
                m.exit("P2");
                m.exit("P1"); // after close()
            }
            "creator-crashes" => {
                m.exits.insert("P1".into(), Exit::Killed);
                m.tracker_exits("P1");
            }
            "creator-exits-without-unlink" => m.exit("P1"),
            "many-attachers" => {
                // A1 and A2 attach together and hold, then exit together.
                m.attach_and_read("A1", "A1", How::ByName);
                m.attach_and_read("A2", "A2", How::ByName);
                m.exit("A1");
                m.exit("A2");
                for p in ["B1", "B2", "R"] {
                    m.attacher(p, How::ByName);
                }
                m.unlink("P1", "P1", creator);
                m.exit("P1");
            }
            "family"
            | "family-attacher-unlinks"
            | "family-object"
            | "family-object-unlinks"
            | "manager"
            | "raw-fork" => m.with_children(scenario, creator, env),
            "creator-unlinks-first" => {
                m.unlink("P1", "P1", creator);
                m.attacher("P2", How::ByName);
                m.exit("P1");
            }
            "attach-fails" => {
                // P1 grows the segment past what mmap can map (the name
                // stays), P2's attach fails, P1 shrinks it back, P3 tries.
                m.attach_fails("P2", "P2");
                m.exit("P2");
                m.attacher("P3", How::ByName);
                m.unlink("P1", "P1", creator);
                m.exit("P1");
            }
            other => panic!("no model for scenario {other}"),
        }
        m
    }

    /// The scenarios with a child process (a multiprocessing child, the
    /// manager's server, a raw fork), continued after P1 created.
    fn with_children(&mut self, scenario: &str, creator: Inst, env: Env) {
        match scenario {
            "family" | "family-attacher-unlinks" => {
                // A multiprocessing child shares P1's tracker (spawn passes
                // its fd, popen_spawn_posix.py l. 40 / spawn.py l. 113;
                // forkserver too, forkserver.py l. 92; fork inherits it)
                // and prints into P1's transcript. It attaches by name.
                let child = self
                    .attach_and_read("P1", "P1", How::ByName)
                    .expect("the segment exists while P1 holds it");
                if scenario == "family" {
                    self.read("P1"); // `check` after the child exited
                    self.unlink("P1", "P1", creator);
                } else {
                    self.unlink("P1", "P1", child);
                }
                self.exit("P1"); // (family-attacher-unlinks: after close())
            }
            "family-object" | "family-object-unlinks" => {
                let child = self.receive("P1", "P1", creator, env);
                self.read("P1");
                if scenario == "family-object" {
                    self.read("P1"); // `check`
                    self.unlink("P1", "P1", creator);
                } else {
                    self.unlink("P1", "P1", child);
                }
                self.exit("P1");
            }
            "manager" => {
                // The child gets both objects and reads both; P1 reads both.
                self.receive("P1", "P1", creator, env);
                for _ in 0..4 {
                    self.read("P1");
                }
                // shutdown(): the server, a child of P1 sharing its tracker,
                // runs `destroy_segment` for each name: `SharedMemory(
                // segment_name)` then `.unlink()` (managers.py, 3.10
                // l. 1245-1252, 3.13.0 l. 1258-1265).
                let server = self
                    .attach("P1", "P1", How::Internal)
                    .expect("the segments exist until shutdown");
                self.unlink("P1", "P1", server);
                self.exit("P1");
            }
            "raw-fork" => {
                // The child attaches by name, reads and `os._exit`s. Without
                // the at-fork handler it writes to P1's tracker; with it, a
                // tracker of its own, which P1 waits for (roles.py
                // `raw_fork`) and which cleans up when the child is gone.
                let tracker = if env.fork_handler {
                    "P1/raw-fork"
                } else {
                    "P1"
                };
                self.attach_and_read("P1", tracker, How::ByName);
                if env.fork_handler {
                    self.tracker_exits(tracker);
                }
                self.read("P1"); // `check`: P1's mapping outlives an unlink
                self.unlink("P1", "P1", creator);
                self.exit("P1");
            }
            other => panic!("no model for scenario {other}"),
        }
    }

    /// The segment outlived every process and tracker.
    fn leaked(&self) -> bool {
        self.segment
    }

    /// The symptom keys these facts amount to, in the harness's vocabulary.
    fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for (g, p) in &self.groups {
            if p.leak_warnings > 0 {
                keys.insert(format!("{g} leak warning"));
            }
            if p.tracker_enoent > 0 {
                keys.insert(format!("{g} tracker error"));
            }
            if p.file_not_found {
                keys.insert(format!("{g} FileNotFoundError"));
            }
            if p.os_error {
                keys.insert(format!("{g} OSError"));
            }
            if p.tracker_key_error {
                keys.insert(format!("{g} tracker KeyError"));
            }
        }
        if self.leaked() {
            keys.insert("segment leaked".into());
        }
        keys
    }
}

/// The harness's own parsed fields of `r`'s process agree with its
/// transcript.
fn parsed_as_transcript(case: &Value, r: &Raw) -> Vec<String> {
    let mut diffs = Vec::new();
    let p_json = process(case, r.label);
    if p_json["leak_warnings"].as_u64() != Some(r.leak_warnings() as u64) {
        diffs.push(format!(
            "{}: harness counted {} leak warnings, stderr has {}",
            r.label,
            p_json["leak_warnings"],
            r.leak_warnings()
        ));
    }
    let exc = p_json["exception"].as_str();
    for (name, said) in [
        ("FileNotFoundError", r.file_not_found()),
        ("OSError", r.os_error()),
    ] {
        if (exc == Some(name)) != said {
            diffs.push(format!(
                "{}: harness says exception {exc:?}, stderr {name}: {said}",
                r.label
            ));
        }
    }
    diffs
}

/// Compare one case with the model; returns the differences.
fn differences(case: &Value, model: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    let raws = raws(case);
    let mut seen: BTreeMap<String, Pred> = BTreeMap::new();
    for r in &raws {
        let p = seen.entry(r.group.clone()).or_default();
        p.leak_warnings += r.leak_warnings();
        p.tracker_enoent += r.tracker_enoent();
        p.tracker_key_error |= r.tracker_key_error();
        p.file_not_found |= r.file_not_found();
        p.os_error |= r.os_error();
        let reads = r.reads();
        if reads.iter().any(|ok| !ok) {
            diffs.push(format!(
                "{}: read bytes that differ from the creator's",
                r.label
            ));
        }
        p.good_reads += reads.len();
        // Exit status.
        let got = match (r.exit, r.signal) {
            (Some(c), _) => Some(Exit::Code(c)),
            (None, Some(9)) => Some(Exit::Killed),
            _ => None,
        };
        let want = model.exits.get(r.label).copied();
        if got != want {
            diffs.push(format!("{}: exit {got:?}, model {want:?}", r.label));
        }
        diffs.extend(parsed_as_transcript(case, r));
    }
    for r in &raws {
        if !model.exits.contains_key(r.label) {
            diffs.push(format!("{}: a process the model does not know", r.label));
        }
    }
    for label in model.exits.keys() {
        if !raws.iter().any(|r| r.label == label) {
            diffs.push(format!("{label}: the model's process did not run"));
        }
    }
    let groups: BTreeSet<&String> = seen.keys().chain(model.groups.keys()).collect();
    for g in groups {
        let got = seen.get(g).cloned().unwrap_or_default();
        let want = model.groups.get(g).cloned().unwrap_or_default();
        if got != want {
            diffs.push(format!("{g}: transcript {got:?}, model {want:?}"));
        }
    }
    if case["segment_leaked"] != model.leaked() {
        diffs.push(format!(
            "segment_leaked {}, model {}",
            case["segment_leaked"],
            model.leaked()
        ));
    }
    let keys: BTreeSet<String> = symptom_keys(case).into_iter().collect();
    if keys != model.keys() {
        diffs.push(format!(
            "harness symptoms {keys:?}, model {:?}",
            model.keys()
        ));
    }
    diffs
}

/// The stdlib file `file` of `py`'s `multiprocessing`.
fn stdlib(py: &Py, file: &str) -> String {
    std::fs::read_to_string(py.multiprocessing.join(file))
        .unwrap_or_else(|e| panic!("{}: {file}: {e}", py.version))
}

/// gh-146313's at-fork handler, read from the stdlib actually used (never
/// from the version: 3.13.18 has it, 3.13.0 has not).
fn has_fork_handler(py: &Py) -> bool {
    let tracker = stdlib(py, "resource_tracker.py");
    tracker.contains("register_at_fork") && tracker.contains("_after_fork_in_child")
}

/// Every case of the full matrix, on every interpreter of it, shows what
/// the model of the tracker predicts; every case of the run is checked,
/// and the run holds every scenario of the catalogue.
#[test]
fn every_case_of_the_full_matrix_matches_the_model_of_the_tracker() {
    let m = matrix();
    let ran: BTreeSet<&str> = m.json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        ran,
        SCENARIOS.into_iter().collect(),
        "the run's scenarios are not the ones modelled here"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for py in &m.pythons {
        let fork_handler = has_fork_handler(py);
        for scenario in SCENARIOS {
            for variant in builtin_variants() {
                // Every start method: a child attaching by name is a
                // fresh object under fork, spawn and forkserver alike.
                for c in cases_for(&m.json, py, variant, scenario) {
                    checked += 1;
                    if variant == "track-false" && !py.has_track() {
                        // No `track` parameter below 3.13: nothing ran.
                        assert!(
                            !stdlib(py, "shared_memory.py").contains("track=True"),
                            "{}",
                            py.version
                        );
                        let ran = c["processes"].as_array().unwrap();
                        assert!(ran.is_empty(), "{} {scenario}: {ran:?}", py.version);
                        continue;
                    }
                    let env = Env {
                        method: c["start_method"].as_str(),
                        fork_handler,
                    };
                    let model = Model::replay(V::parse(variant), scenario, env);
                    for d in differences(c, &model) {
                        failures.push(format!(
                            "{} {scenario} [{variant}] {}: {d}",
                            py.version, c["start_method"]
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(
        checked,
        cases(&m.json).len(),
        "cases of the run that no model checked"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The stdlib code the model rests on is there, in every interpreter the
/// matrix ran (so a model that no longer describes some version's code
/// fails here, not only through a mismatch).
#[test]
fn the_stdlib_code_the_model_rests_on_is_in_every_interpreter() {
    for py in &matrix().pythons {
        let v = &py.version;
        let sm = stdlib(py, "shared_memory.py");
        // __init__'s error path unlinks before the register line.
        let init = &sm[sm
            .find("def __init__(self, name=None, create=False")
            .unwrap()..];
        let except = init.find("except OSError:\n                self.unlink()");
        let register = init.find("register(self._name, \"shared_memory\")");
        assert!(
            matches!((except, register), (Some(e), Some(r)) if e < r),
            "{v}: shared_memory.py __init__"
        );
        // unlink(): shm_unlink, then unregister.
        let unlink = &sm[sm.find("    def unlink(self):").unwrap()..];
        let (shm_unlink, unregister) = (
            unlink.find("_posixshmem.shm_unlink(self._name)"),
            unlink.find("unregister(self._name, \"shared_memory\")"),
        );
        assert!(
            matches!((shm_unlink, unregister), (Some(a), Some(b)) if a < b),
            "{v}: shared_memory.py unlink()"
        );
        // A pickled SharedMemory is rebuilt by attaching by name.
        assert!(
            sm.contains("self.__class__,\n            (\n                self.name,\n                False,\n                self.size,"),
            "{v}: shared_memory.py __reduce__"
        );
        // A ShareableList attaches with a plain SharedMemory(name).
        assert!(
            sm.contains("self.shm = SharedMemory(name)\n"),
            "{v}: ShareableList"
        );
        assert_eq!(sm.contains("*, track=True"), py.has_track(), "{v}: track=");
        // The tracker: a set per type, remove() on UNREGISTER.
        let rt = stdlib(py, "resource_tracker.py");
        for needle in [
            "cache = {rtype: set() for rtype in _CLEANUP_FUNCS.keys()}",
            "cache[rtype].add(name)",
            "cache[rtype].remove(name)",
            "leaked {rtype} objects",
        ] {
            let found = rt.contains(needle)
                || (needle.starts_with("leaked") && rt.contains("leaked %s objects"));
            assert!(found, "{v}: resource_tracker.py lacks {needle}");
        }
        // The manager's server attaches by name and unlinks.
        let mgr = stdlib(py, "managers.py");
        let destroy = &mgr[mgr
            .find("def destroy_segment(self, segment_name):")
            .unwrap()..];
        let destroy = &destroy[..destroy.find("def unlink(self):").unwrap()];
        assert!(
            destroy.contains("segment = shared_memory.SharedMemory(segment_name)")
                && destroy.contains("segment.unlink()"),
            "{v}: managers.py destroy_segment"
        );
    }
}

/// The model itself says what BRIEF.md says (so a wrong model cannot make
/// the test above agree with a wrong harness).
#[test]
fn the_model_reproduces_the_brief() {
    let plain = Env {
        method: None,
        fork_handler: false,
    };
    let replay = |v, s| Model::replay(v, s, plain);
    let stock = replay(V::Stock, "three-process");
    assert_eq!(stock.groups["P2"].leak_warnings, 1);
    assert!(stock.groups["P3"].file_not_found);
    assert!(stock.groups["P1"].file_not_found && stock.groups["P1"].tracker_enoent == 1);
    assert_eq!(stock.exits["P2"], Exit::Code(0));
    assert_eq!(stock.exits["P1"], Exit::Code(1));
    let fixed = replay(V::CreateOnly, "three-process");
    assert!(fixed.keys().is_empty());
    assert_eq!(fixed.groups["P3"].good_reads, 1);
    let au = replay(V::CreateOnly, "attacher-unlinks");
    assert!(au.groups["P2"].tracker_key_error);
    assert!(!replay(V::Stock, "creator-crashes").leaked());
    assert!(replay(V::NoRegister, "creator-crashes").leaked());
    let guard = replay(V::UnlinkGuard, "family-attacher-unlinks");
    assert!(guard.groups["P1"].leak_warnings == 1 && guard.groups["P1"].tracker_enoent == 1);
    assert!(replay(V::Stock, "family").keys().is_empty());
    assert!(replay(V::Userland, "family").groups["P1"].tracker_key_error);
}

/// BRIEF.md's "Verified since": track=False cannot reach a ShareableList, a
/// pickled SharedMemory or the manager's server; attach-fails destroys the
/// owner's segment in every variant; lenient-tracker keeps stock's P1 leak
/// warning and ENOENT in attacher-unlinks; a raw-fork child's own tracker
/// destroys P1's segment.
#[test]
fn the_model_reproduces_what_was_verified_since() {
    let plain = Env {
        method: None,
        fork_handler: false,
    };
    let replay = |v, s| Model::replay(v, s, plain);
    assert_eq!(
        replay(V::TrackFalse, "shareable-list").keys(),
        replay(V::Stock, "shareable-list").keys()
    );
    let spawn = Env {
        method: Some("spawn"),
        ..plain
    };
    let fork = Env {
        method: Some("fork"),
        ..plain
    };
    for env in [spawn, fork] {
        assert!(
            Model::replay(V::TrackFalse, "family-object-unlinks", env)
                .keys()
                .is_empty()
        );
        assert!(
            Model::replay(V::TrackFalse, "manager", env)
                .keys()
                .is_empty()
        );
    }
    // The guard tells an inherited object (fork) from a pickled copy.
    assert!(
        Model::replay(V::UnlinkGuard, "family-object-unlinks", fork)
            .keys()
            .is_empty()
    );
    let copy = Model::replay(V::UnlinkGuard, "family-object-unlinks", spawn);
    assert_eq!(
        (
            copy.groups["P1"].leak_warnings,
            copy.groups["P1"].tracker_enoent
        ),
        (1, 1)
    );
    for v in [
        V::Stock,
        V::CreateOnly,
        V::NoRegister,
        V::UnlinkGuard,
        V::Lenient,
        V::NoTracking,
        V::TrackFalse,
        V::Userland,
    ] {
        let af = replay(v, "attach-fails");
        assert!(
            af.groups["P2"].os_error && af.groups["P3"].file_not_found,
            "{v:?}"
        );
        assert!(af.groups["P1"].file_not_found, "{v:?}");
    }
    let lenient = replay(V::Lenient, "attacher-unlinks");
    assert_eq!(
        (
            lenient.groups["P1"].leak_warnings,
            lenient.groups["P1"].tracker_enoent
        ),
        (1, 1)
    );
}

/// The manager's two names under the unlink guard, and a raw-fork child
/// with a tracker of its own (gh-146313).
#[test]
fn the_model_counts_the_managers_names_and_the_raw_fork_childs_tracker() {
    let plain = Env {
        method: None,
        fork_handler: false,
    };
    let spawn = Env {
        method: Some("spawn"),
        ..plain
    };
    // The manager's two names: one leak warning, an ENOENT for each.
    let mgr = Model::replay(V::UnlinkGuard, "manager", spawn);
    assert_eq!(
        (
            mgr.groups["P1"].leak_warnings,
            mgr.groups["P1"].tracker_enoent
        ),
        (1, 2)
    );
    // A raw-fork child's own tracker (gh-146313) destroys P1's segment.
    let own = Env {
        fork_handler: true,
        ..plain
    };
    let rf = Model::replay(V::Stock, "raw-fork", own);
    assert!(rf.groups["P1"].file_not_found && rf.groups["P1"].leak_warnings == 2);
    assert!(Model::replay(V::Stock, "raw-fork", plain).keys().is_empty());
}

// ---------------------------------------------------------------------------
// Named facts, on the transcripts

fn each_python(mut f: impl FnMut(&Py, &Value)) {
    let m = matrix();
    assert!(!m.pythons.is_empty());
    for py in &m.pythons {
        f(py, &m.json);
    }
}

/// On stock, the first attacher's exit destroys the segment: every reader
/// that starts after it gets FileNotFoundError, every one before reads the
/// creator's bytes.
#[test]
fn on_stock_every_reader_after_the_first_attachers_exit_gets_file_not_found() {
    each_python(|py, json| {
        let v = &py.version;
        let c = case(json, py, "stock", "three-process");
        assert_eq!(raw(c, "P2").reads(), [true], "{v} P2 read before any exit");
        let p3 = raw(c, "P3");
        assert!(
            p3.file_not_found() && p3.reads().is_empty(),
            "{v} P3: {}",
            p3.stderr
        );
        assert_eq!(p3.exit, Some(1), "{v}");

        let c = case(json, py, "stock", "many-attachers");
        for a in ["A1", "A2"] {
            assert_eq!(
                raw(c, a).reads(),
                [true],
                "{v} {a} attached while it existed"
            );
        }
        for late in ["B1", "B2", "R"] {
            let r = raw(c, late);
            assert!(
                r.file_not_found() && r.reads().is_empty() && r.exit == Some(1),
                "{v} {late} started after A1/A2 exited: {}",
                r.stderr
            );
        }
    });
}

/// The seed's P2 on stock: exit 0, exactly one leak warning (its tracker
/// unlinks the segment it only attached to).
#[test]
fn three_process_stock_p2_exits_0_with_exactly_one_leak_warning() {
    each_python(|py, json| {
        let p2 = raw(case(json, py, "stock", "three-process"), "P2");
        assert_eq!(p2.exit, Some(0), "{}", py.version);
        assert_eq!(p2.leak_warnings(), 1, "{}: {}", py.version, p2.stderr);
        assert_eq!(p2.tracker_enoent(), 0, "{}: it really unlinked", py.version);
        // P1's unlink then fails, and P1's own tracker finds the name gone.
        let p1 = raw(case(json, py, "stock", "three-process"), "P1");
        assert!(p1.file_not_found() && p1.exit == Some(1), "{}", p1.stderr);
        assert_eq!(p1.tracker_enoent(), 1, "{}", p1.stderr);
    });
}

/// With `if create:` P3 reads the data P1 wrote (`data_ok` true in its
/// `read` event), and nobody warns.
#[test]
fn create_only_p3_reads_the_data() {
    each_python(|py, json| {
        let c = case(json, py, "create-only", "three-process");
        let p3 = raw(c, "P3");
        assert_eq!(p3.reads(), [true], "{}: {:?}", py.version, p3.events);
        assert_eq!(p3.exit, Some(0));
        for r in raws(c) {
            assert_eq!(
                r.leak_warnings(),
                0,
                "{} {}: {}",
                py.version,
                r.label,
                r.stderr
            );
        }
        assert_eq!(raw(c, "P1").exit, Some(0));
        assert_eq!(c["segment_leaked"], false);
    });
}

/// Stock attacher-unlinks: P2's unlink also unregisters from its own
/// tracker (which registered on attach): P2 is clean. P1 never unlinks, so
/// its tracker warns at exit and finds the name gone.
#[test]
fn stock_attacher_unlinks_is_clean_for_p2_and_p1s_tracker_finds_the_name_gone() {
    each_python(|py, json| {
        let c = case(json, py, "stock", "attacher-unlinks");
        let p2 = raw(c, "P2");
        assert_eq!(p2.reads(), [true]);
        assert_eq!(p2.events_named("unlinked").len(), 1, "{:?}", p2.events);
        assert!(
            !p2.tracker_key_error() && p2.leak_warnings() == 0,
            "{}",
            p2.stderr
        );
        assert_eq!(p2.exit, Some(0));
        let p1 = raw(c, "P1");
        assert_eq!(
            (p1.leak_warnings(), p1.tracker_enoent()),
            (1, 1),
            "{}",
            p1.stderr
        );
        assert_eq!(p1.exit, Some(0));
        assert_eq!(c["segment_leaked"], false);
    });
}

/// `if create:` alone: the attacher never registered, but its unlink()
/// still sends UNREGISTER; its tracker prints a KeyError traceback.
#[test]
fn attacher_unlinks_under_create_only_shows_a_tracker_key_error_in_p2() {
    each_python(|py, json| {
        let p2 = raw(case(json, py, "create-only", "attacher-unlinks"), "P2");
        assert!(p2.tracker_key_error(), "{}: {}", py.version, p2.stderr);
        assert!(
            p2.stderr.contains("cache[rtype].remove(name)"),
            "{}",
            p2.stderr
        );
        assert_eq!(p2.exit, Some(0), "the KeyError is the tracker's, not P2's");
    });
}

/// The tracker is the safety net for a crashed creator: on stock it removes
/// the segment (with the leak warning); without the register line nothing
/// does.
#[test]
fn creator_crashes_leaves_no_segment_on_stock_and_one_on_no_register() {
    each_python(|py, json| {
        let c = case(json, py, "stock", "creator-crashes");
        let p1 = raw(c, "P1");
        assert_eq!(p1.signal, Some(9));
        assert_eq!(p1.leak_warnings(), 1, "{}", p1.stderr);
        assert_eq!(c["segment_leaked"], false, "{}", py.version);
        let c = case(json, py, "no-register", "creator-crashes");
        assert_eq!(raw(c, "P1").signal, Some(9));
        assert_eq!(raw(c, "P1").leak_warnings(), 0);
        assert_eq!(c["segment_leaked"], true, "{}", py.version);
    });
}

/// A creator that closes and exits without unlink: its tracker warns once
/// and removes the segment (it still exists, so no ENOENT); without the
/// register line it stays.
#[test]
fn creator_exits_without_unlink_its_tracker_cleans_up() {
    each_python(|py, json| {
        for variant in ["stock", "create-only", "create-only+lenient-tracker"] {
            let c = case(json, py, variant, "creator-exits-without-unlink");
            let p1 = raw(c, "P1");
            assert_eq!(p1.exit, Some(0));
            assert_eq!(p1.events_named("closed").len(), 1);
            assert_eq!(
                (p1.leak_warnings(), p1.tracker_enoent()),
                (1, 0),
                "{variant}"
            );
            assert_eq!(c["segment_leaked"], false, "{variant}");
        }
        let c = case(json, py, "no-register", "creator-exits-without-unlink");
        assert_eq!(raw(c, "P1").leak_warnings(), 0);
        assert_eq!(c["segment_leaked"], true);
    });
}

/// Many attachers on stock: each holding attacher's own tracker warns; the
/// first to clean up unlinks, the other finds it gone (so exactly one
/// ENOENT among them), and P1's unlink fails. With a fix everyone reads.
#[test]
fn many_attachers_each_tracker_warns_on_stock_and_all_read_with_a_fix() {
    each_python(|py, json| {
        let c = case(json, py, "stock", "many-attachers");
        let a: Vec<Raw> = ["A1", "A2"].iter().map(|l| raw(c, l)).collect();
        assert!(
            a.iter()
                .all(|r| r.leak_warnings() == 1 && r.exit == Some(0))
        );
        assert_eq!(a.iter().map(Raw::tracker_enoent).sum::<usize>(), 1);
        let p1 = raw(c, "P1");
        assert!(p1.file_not_found() && p1.exit == Some(1));
        assert_eq!((p1.leak_warnings(), p1.tracker_enoent()), (1, 1));
        for variant in [
            "create-only",
            "create-only+lenient-tracker",
            "userland-unregister",
        ] {
            let c = case(json, py, variant, "many-attachers");
            for r in raws(c).iter().filter(|r| r.label != "P1") {
                assert_eq!(r.reads(), [true], "{variant} {}", r.label);
                assert_eq!(r.leak_warnings(), 0, "{variant} {}", r.label);
            }
            assert_eq!(raw(c, "P1").exit, Some(0), "{variant}");
        }
    });
}

/// In a family the child's registration lands in the parent's tracker:
/// nothing warns when the child exits (a tracker of its own would have
/// warned and unlinked), P1's later unlink finds the segment (so nobody
/// removed it), and an UNREGISTER the child sends (userland workaround) is
/// felt by P1's tracker.
#[test]
fn in_a_family_the_childs_registration_lands_in_the_parents_tracker() {
    each_python(|py, json| {
        for c in cases_for(json, py, "stock", "family") {
            let v = format!("{} {}", py.version, c["start_method"]);
            let p1 = raw(c, "P1");
            let exited = p1.events_named("child-exited");
            assert_eq!(exited.len(), 1, "{v}: {:?}", p1.events);
            assert_eq!(exited[0]["exitcode"], 0);
            // The child read the data (its events are in P1's transcript),
            // and so did P1's check after the child exited.
            assert_eq!(p1.reads(), [true, true], "{v}: {:?}", p1.events);
            assert_eq!(p1.leak_warnings(), 0, "{v}: {}", p1.stderr);
            assert_eq!(p1.events_named("unlinked").len(), 1);
            assert!(
                !p1.file_not_found() && p1.exit == Some(0),
                "{v}: {}",
                p1.stderr
            );
            assert_eq!(c["segment_leaked"], false);
        }
        // The child unregistered the name in the one shared tracker, so
        // P1's own unlink is the tracker's KeyError.
        for c in cases_for(json, py, "userland-unregister", "family") {
            let p1 = raw(c, "P1");
            let v = format!("{} {}", py.version, c["start_method"]);
            assert_eq!(
                p1.events_named("unregistered").len(),
                1,
                "{v}: {:?}",
                p1.events
            );
            assert!(p1.tracker_key_error(), "{v}: {}", p1.stderr);
        }
    });
}

/// A family child that unlinks: on stock its UNREGISTER clears the
/// creator's registration in the shared tracker, so all is clean. The
/// unlink guard skips that UNREGISTER (the child did not register), so the
/// creator's tracker warns at exit and finds the name gone.
#[test]
fn family_attacher_unlinks_is_clean_on_stock_and_warns_with_the_unlink_guard() {
    each_python(|py, json| {
        for c in cases_for(json, py, "stock", "family-attacher-unlinks") {
            let p1 = raw(c, "P1");
            let v = format!("{} {}", py.version, c["start_method"]);
            assert_eq!(p1.events_named("unlinked").len(), 1, "{v}: {:?}", p1.events);
            assert_eq!(
                (p1.leak_warnings(), p1.tracker_enoent()),
                (0, 0),
                "{v}: {}",
                p1.stderr
            );
            assert!(!p1.tracker_key_error(), "{v}");
        }
        for c in cases_for(
            json,
            py,
            "create-only+unlink-guard",
            "family-attacher-unlinks",
        ) {
            let p1 = raw(c, "P1");
            let v = format!("{} {}", py.version, c["start_method"]);
            assert_eq!(
                (p1.leak_warnings(), p1.tracker_enoent()),
                (1, 1),
                "{v}: {}",
                p1.stderr
            );
            assert_eq!(p1.exit, Some(0), "{v}");
        }
    });
}

/// The control: a segment unlinked before anyone attaches is gone in every
/// variant.
#[test]
fn creator_unlinks_first_is_file_not_found_in_every_variant() {
    each_python(|py, json| {
        for variant in builtin_variants() {
            if variant == "track-false" && !py.has_track() {
                continue;
            }
            let p2 = raw(case(json, py, variant, "creator-unlinks-first"), "P2");
            assert!(
                p2.file_not_found() && p2.exit == Some(1),
                "{variant}: {}",
                p2.stderr
            );
        }
    });
}

// ---------------------------------------------------------------------------
// Facts of the catalogue's later scenarios (issue 12), from the stdlib code:
// ShareableList is a SharedMemory underneath; a pickled SharedMemory is
// `(name, create=False, size)`, so a spawn/forkserver child re-attaches by
// name while a fork child has the parent's object; a SharedMemoryManager
// creates in the caller's process and its server unlinks at shutdown;
// gh-146313's at-fork handler gives a raw-fork child its own tracker;
// gh-153279: `except OSError: self.unlink()` also runs on the attach path.

/// The case of `scenario` under one start method.
fn case_under<'a>(
    json: &'a Value,
    py: &Py,
    variant: &str,
    scenario: &str,
    method: &str,
) -> &'a Value {
    let found: Vec<_> = cases_for(json, py, variant, scenario)
        .into_iter()
        .filter(|c| c["start_method"] == method)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{} {variant} {scenario} [{method}]",
        py.version
    );
    found[0]
}

/// A ShareableList is a SharedMemory: on stock the attacher's tracker
/// destroys it (the seed's bug), and `track=False` cannot reach it (it has
/// no such parameter); with the seed's fix P3 reads the list.
#[test]
fn a_shareable_list_has_the_seeds_bug_and_the_seeds_fix() {
    each_python(|py, json| {
        let v = &py.version;
        let c = case(json, py, "stock", "shareable-list");
        let (p2, p3) = (raw(c, "P2"), raw(c, "P3"));
        assert_eq!(
            (p2.exit, p2.leak_warnings()),
            (Some(0), 1),
            "{v} P2: {}",
            p2.stderr
        );
        assert!(p3.file_not_found(), "{v} P3: {}", p3.stderr);
        let c = case(json, py, "create-only", "shareable-list");
        assert_eq!(raw(c, "P3").reads(), [true], "{v}");
        assert_eq!(raw(c, "P2").leak_warnings(), 0, "{v}");
        if py.has_track() {
            let c = case(json, py, "track-false", "shareable-list");
            let p2 = raw(c, "P2");
            assert!(
                !p2.events_named("mode-unsupported").is_empty(),
                "{v}: says so"
            );
            assert!(raw(c, "P3").file_not_found(), "{v}: the bug stays");
        }
    });
}

/// A SharedMemory passed to a child is pickled under spawn and forkserver
/// (the child re-attaches by name) and inherited under fork; with the
/// unlink guard only an inherited object's unlink unregisters, so only
/// then does P1's tracker stay quiet.
#[test]
fn an_object_passed_to_a_child_is_pickled_or_inherited_and_the_guard_tells_them_apart() {
    each_python(|py, json| {
        let v = &py.version;
        for (method, via) in [
            ("fork", "inherited"),
            ("spawn", "pickled"),
            ("forkserver", "pickled"),
        ] {
            let c = case_under(json, py, "stock", "family-object", method);
            let p1 = raw(c, "P1");
            let attached = p1.events_named("attached");
            assert_eq!(attached.len(), 1, "{v} [{method}]");
            assert_eq!(attached[0]["via"], via, "{v} [{method}]");
            assert_eq!(p1.leak_warnings(), 0, "{v} [{method}]: {}", p1.stderr);

            let c = case_under(
                json,
                py,
                "create-only+unlink-guard",
                "family-object-unlinks",
                method,
            );
            let p1 = raw(c, "P1");
            let warned = p1.leak_warnings() == 1 && p1.tracker_enoent() == 1;
            let quiet = p1.leak_warnings() == 0 && p1.tracker_enoent() == 0;
            if method == "fork" {
                assert!(
                    quiet,
                    "{v} [fork]: the inherited object unregisters: {}",
                    p1.stderr
                );
            } else {
                assert!(
                    warned,
                    "{v} [{method}]: the copy leaves P1's registration: {}",
                    p1.stderr
                );
            }
        }
    });
}

/// A SharedMemoryManager's segments are created in P1; the child reads both
/// objects; shutdown removes them: nothing is left, nothing warns on stock.
#[test]
fn a_managers_segments_are_read_by_the_child_and_gone_after_shutdown() {
    each_python(|py, json| {
        let v = &py.version;
        let c = case_under(json, py, "stock", "manager", "spawn");
        let p1 = raw(c, "P1");
        let created = p1.events_named("created");
        assert_eq!(created[0]["names"].as_array().map(Vec::len), Some(2), "{v}");
        let reads = p1.reads();
        assert!(
            reads.len() >= 2 && reads.iter().all(|ok| *ok),
            "{v}: {reads:?}"
        );
        assert_eq!(p1.leak_warnings(), 0, "{v}: {}", p1.stderr);
        assert_eq!(process(c, "P1")["segment_after"], false, "{v}");
        assert_eq!(c["segment_leaked"], false, "{v}");
    });
}

/// A raw `os.fork()` child: before gh-146313 it writes to P1's tracker (a
/// set: its attach changes nothing); with the at-fork handler it starts a
/// tracker of its own, which unlinks P1's segment when the child exits.
#[test]
fn a_raw_fork_childs_tracker_destroys_the_segment_where_the_stdlib_gives_it_one() {
    each_python(|py, json| {
        let v = &py.version;
        let tracker =
            std::fs::read_to_string(py.multiprocessing.join("resource_tracker.py")).unwrap();
        let own_tracker =
            tracker.contains("register_at_fork") && tracker.contains("_after_fork_in_child");
        let c = case(json, py, "stock", "raw-fork");
        let p1 = raw(c, "P1");
        assert_eq!(
            p1.reads(),
            [true, true],
            "{v}: the child's and P1's reads (the mapping survives)"
        );
        if own_tracker {
            assert!(
                p1.file_not_found() && p1.leak_warnings() >= 1,
                "{v}: {}",
                p1.stderr
            );
        } else {
            assert!(
                !p1.file_not_found() && p1.leak_warnings() == 0,
                "{v}: {}",
                p1.stderr
            );
            assert_eq!(p1.exit, Some(0), "{v}");
        }
        let c = case(json, py, "create-only", "raw-fork");
        assert_eq!(
            raw(c, "P1").exit,
            Some(0),
            "{v}: the child no longer registers"
        );
    });
}

/// gh-153279: an attach that fails after shm_open unlinks the owner's
/// segment, in every variant here (none changes that handler).
#[test]
fn a_failed_attach_destroys_the_owners_segment_in_every_variant() {
    each_python(|py, json| {
        for variant in builtin_variants() {
            if variant == "track-false" && !py.has_track() {
                continue;
            }
            let c = case(json, py, variant, "attach-fails");
            let (p2, p3) = (raw(c, "P2"), raw(c, "P3"));
            assert_eq!(p2.exit, Some(1), "{} {variant}", py.version);
            assert!(
                p2.stderr.contains("OSError"),
                "{} {variant}: {}",
                py.version,
                p2.stderr
            );
            assert!(
                p3.file_not_found(),
                "{} {variant}: {}",
                py.version,
                p3.stderr
            );
        }
    });
}
