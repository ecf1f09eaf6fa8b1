//! Helpers shared by the integration tests.
//!
//! # Which interpreters the tests use
//!
//! The tests ask the harness itself: the built binary's
//! `list --format json` runs once per test process (the answer is kept in a
//! `OnceLock`), so the tests run on whatever CPythons this machine has, found
//! the way a user's run finds them. `SHMH_TEST_PYTHONS` overrides that with
//! an explicit, colon-separated list of paths (`none` hides every
//! interpreter, to check the failure below).
//!
//! What is *expected* decides whether something missing is a failure:
//! - `SHMH_TEST_PYTHONS` set: exactly those interpreters are expected, each
//!   must be usable, and nothing else is (a CI leg with one Python).
//! - `CI=true` without it: every minor version in [`CI_MINORS`] (pyenv's
//!   3.8-3.13 plus `.ci/newer-pythons`' 3.14 and 3.15) must be found; a
//!   test whose interpreter is missing fails and names it.
//! - otherwise (a developer machine): whatever is found. A test that wants
//!   a particular minor version (a version-family patch, say) gets it when
//!   present, else the nearest one in the same patch family (3.8-3.9,
//!   3.10-3.12, 3.13+), else the nearest one at all; every test states its
//!   facts for the version it actually got.
//!
//! With no CPython 3.8+ at all, the first test that needs one stops the
//! run with the one line of [`NO_PYTHON`]. No test returns early and
//! reports `ok`;
//! prerequisites that are truly optional (PyPy, actionlint, the PyPI
//! checkers, CPython's own test package) are `#[ignore]`d tests that
//! `.ci/run` runs with `--include-ignored` after installing them.
//!
//! # Side effects
//!
//! Every run of the binary gets `NO_COLOR` and a probe cache in a temp dir
//! made for this test process (`XDG_CACHE_HOME`), never the user's. Tests
//! write only into temp dirs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

/// The one line a machine without any usable CPython gets.
pub const NO_PYTHON: &str = "no CPython 3.8 or newer found for the tests (searched PATH, pyenv, uv, asdf, mise, conda, Homebrew, /usr/bin): install one (Debian/Ubuntu: `apt-get install python3`; or `pyenv install 3.12`), or point SHMH_TEST_PYTHONS at one";

/// Minor versions `.ci/run` provides and CI therefore requires.
pub const CI_MINORS: [&str; 8] = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"];

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

const TEST_CACHE: &str = "shmh-test-cache-";

/// A test process killed before its exit (SIGKILL, a machine restart)
/// leaves its cache behind, and in it the ledgers of the harness runs it
/// had going, which no later run looks at. Finish that: `shmharness clean`
/// on each cache whose test process is dead (it removes only what those
/// ledgers list), then the cache itself.
fn sweep_dead_test_caches() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(TEST_CACHE)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the pid exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
        if alive {
            continue;
        }
        let cleaned = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"))
            .env("XDG_CACHE_HOME", entry.path())
            .env_remove("XDG_RUNTIME_DIR")
            .arg("clean")
            .output()
            .is_ok_and(|o| o.status.success());
        if cleaned {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The probe cache every run of the binary uses: a temp dir of this test
/// process (named with its pid), removed at exit.
pub fn test_cache() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        sweep_dead_test_caches();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEST_CACHE}{}-", std::process::id()))
            .tempdir()
            .expect("temp dir for the probe cache")
            .keep();
        extern "C" fn remove() {
            if let Some(d) = DIR.get() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        // SAFETY: `remove` is a plain extern "C" fn with no preconditions.
        unsafe { libc::atexit(remove) };
        dir
    })
}

/// The binary under test, with colors off and the test probe cache.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("shmharness").expect("binary built");
    cmd.env("NO_COLOR", "1").env("XDG_CACHE_HOME", test_cache());
    cmd
}

/// The same, as a `std::process::Command` (for spawning).
pub fn std_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"));
    cmd.env("NO_COLOR", "1").env("XDG_CACHE_HOME", test_cache());
    cmd
}

/// The reason every test that needs root is `#[ignore]`d with: a hosted
/// runner is not root, so a plain `cargo test` skips them, and `.ci/run`
/// (root) runs them with `--include-ignored`.
pub fn require_root(what: &str) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root ({what}) and runs as uid {euid}: .ci/run runs it as root with --include-ignored"
    );
}

/// Limit `cmd` to `secs` seconds of CPU time (RLIMIT_CPU; the kernel sends
/// SIGXCPU past it). A bound for a test that guards against a busy loop:
/// CPU time does not grow with the machine's load, wall time does.
pub fn cpu_limited(
    cmd: &mut std::process::Command,
    secs: libc::rlim_t,
) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: secs,
        rlim_max: secs + 5,
    };
    // SAFETY: setrlimit is async-signal-safe and `limit` is a plain value
    // copied into the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_CPU, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

/// A tool a test needs: present, or the test fails saying what is missing
/// and who installs it. Tests that need an optional tool are `#[ignore]`d,
/// so this only runs when asked for (`--include-ignored`, `.ci/run`).
pub fn require<T>(found: Option<T>, what: &str) -> T {
    found.unwrap_or_else(|| panic!("{what} is missing (.ci/run installs it)"))
}

// ---------------------------------------------------------------------------
// Interpreters

/// One CPython the tests may use, as `shmharness list` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Py {
    /// Real path of the executable (what results.json calls `executable`).
    pub exe: PathBuf,
    /// `3.10.13`
    pub version: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    pub free_threaded: bool,
    pub debug: bool,
    pub prefix: PathBuf,
    /// The installed `multiprocessing` package directory.
    pub multiprocessing: PathBuf,
}

impl Py {
    /// `3.10`
    pub fn minor_str(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        arg(&self.exe)
    }

    /// 3.13 added `track=` (and `test_shared_memory_tracking`).
    pub fn has_track(&self) -> bool {
        (self.major, self.minor) >= (3, 13)
    }

    /// The version-family patch this interpreter takes.
    pub fn family(&self) -> Family {
        Family::of(self.minor)
    }
}

/// The three contexts the register line comes in (see BRIEF.md), so the
/// three patch families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// 3.8, 3.9
    F38,
    /// 3.10 - 3.12
    F310,
    /// 3.13 and later
    F313,
}

impl Family {
    pub fn of(minor: u32) -> Family {
        match minor {
            ..=9 => Family::F38,
            10..=12 => Family::F310,
            _ => Family::F313,
        }
    }
}

/// What the interpreter list is held to (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `SHMH_TEST_PYTHONS`: exactly these.
    Declared(Vec<PathBuf>),
    /// `CI=true`: every minor of [`CI_MINORS`].
    Ci,
    /// A developer machine: whatever is found.
    Found,
}

pub fn expected() -> Expected {
    match std::env::var_os("SHMH_TEST_PYTHONS") {
        Some(v) if v != "none" && !v.is_empty() => {
            Expected::Declared(std::env::split_paths(&v).collect())
        }
        Some(_) => Expected::Declared(Vec::new()),
        None if in_ci() => Expected::Ci,
        None => Expected::Found,
    }
}

/// Every CPython 3.8+ the tests may use, or the reason there is none. The
/// failure is cached too, but never silently: the first caller stops the
/// run with it.
fn listing() -> &'static Result<Vec<Py>, String> {
    static LIST: OnceLock<Result<Vec<Py>, String>> = OnceLock::new();
    LIST.get_or_init(load_pythons)
}

fn load_pythons() -> Result<Vec<Py>, String> {
    let mut cmd = bin();
    // Generous: this is not a test of probe speed, and a loaded machine
    // must not lose an interpreter to a short timeout.
    cmd.args(["list", "--format", "json", "--probe-timeout", "60"]);
    match expected() {
        Expected::Declared(paths) if paths.is_empty() => {
            return Err(format!("{NO_PYTHON} (SHMH_TEST_PYTHONS=none)"));
        }
        Expected::Declared(paths) => {
            for p in &paths {
                cmd.arg("--python").arg(p);
            }
        }
        Expected::Ci | Expected::Found => {}
    }
    let out = cmd.output().expect("shmharness list runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(match expected() {
            Expected::Declared(_) => {
                format!("SHMH_TEST_PYTHONS names an interpreter shmharness cannot use: {first}")
            }
            _ => format!("{NO_PYTHON} (shmharness list: {first})"),
        });
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("shmharness list --format json printed no JSON ({e}): {stderr}"))?;
    let mut found: Vec<Py> = json["interpreters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["implementation"] == "cpython")
        .filter_map(|i| {
            let version = i["version"].as_str()?.to_string();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
            Some(Py {
                exe: PathBuf::from(i["executable"].as_str()?),
                version,
                major,
                minor,
                patch,
                free_threaded: i["free_threaded"] == true,
                debug: i["debug"] == true,
                prefix: PathBuf::from(i["prefix"].as_str()?),
                multiprocessing: PathBuf::from(i["multiprocessing"].as_str()?),
            })
        })
        .filter(|p| (p.major, p.minor) >= (3, 8))
        .collect();
    if found.is_empty() {
        return Err(NO_PYTHON.to_string());
    }
    // Plain builds first, then discovery order: the first of a minor is
    // the one a test that names that minor gets.
    found.sort_by_key(|p| p.free_threaded || p.debug);
    Ok(found)
}

/// Every CPython 3.8+ found (or declared). When there is none, the whole
/// test run stops at once with the one line of [`NO_PYTHON`]: every test
/// after this would fail the same way, and one line says it best.
pub fn all_pythons() -> Vec<Py> {
    match listing() {
        Ok(list) => list.clone(),
        Err(e) => stop_the_run(e),
    }
}

/// Print `line` past the test harness's output capture and end the test
/// process (cargo then reports the binary as failed).
fn stop_the_run(line: &str) -> ! {
    // One thread says it and exits; any other that gets here waits for that.
    static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if STOPPING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    let msg = format!("\nerror: {line}\n");
    // SAFETY: writing a valid buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    std::process::exit(101)
}

/// Under `CI=true` (no `SHMH_TEST_PYTHONS`), fail unless `minor` is found.
fn ci_require(list: &[Py], minor: &str) {
    if expected() == Expected::Ci {
        let found: Vec<String> = list.iter().map(|p| p.version.clone()).collect();
        assert!(
            list.iter().any(|p| p.minor_str() == minor),
            "CI=true and no CPython {minor} found (found: {}): .ci/run installs pyenv's and .ci/newer-pythons' interpreters",
            found.join(", ")
        );
    }
}

/// An interpreter of `minor` (`"3.10"`) if there is one, else the nearest
/// in its patch family, else the nearest at all. Under `CI=true` the minor
/// itself must be there. The caller states facts for the version it got.
pub fn python(minor: &str) -> Py {
    let list = all_pythons();
    ci_require(&list, minor);
    let want: u32 = minor
        .strip_prefix("3.")
        .and_then(|m| m.parse().ok())
        .expect("a minor version like 3.10");
    let fam = Family::of(want);
    let pick = list
        .iter()
        .enumerate()
        .min_by_key(|(i, p)| {
            (
                p.free_threaded || p.debug,
                p.family() != fam,
                p.minor.abs_diff(want),
                // Equally near: the newer one, then discovery order.
                std::cmp::Reverse(p.minor),
                *i,
            )
        })
        .map(|(_, p)| p.clone())
        .expect("at least one interpreter");
    if pick.minor_str() != minor {
        eprintln!(
            "note: no CPython {minor} here; using {} ({})",
            pick.version,
            pick.exe.display()
        );
    }
    pick
}

/// The interpreter a test uses when any one will do: 3.10 if present (the
/// version most numbers in README.md were measured on), else the nearest.
pub fn any_python() -> Py {
    python("3.10")
}

/// One interpreter per patch family present (3.8, 3.10, 3.13 preferred),
/// plus each minor from 3.14 on (the branches a fix lands on). Under
/// `CI=true` all of them must be there.
pub fn per_family() -> Vec<Py> {
    let list = all_pythons();
    let mut out: Vec<Py> = Vec::new();
    for (minor, fam) in [
        ("3.8", Family::F38),
        ("3.10", Family::F310),
        ("3.13", Family::F313),
    ] {
        ci_require(&list, minor);
        if list.iter().any(|p| p.family() == fam) {
            let p = python(minor);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    ci_require(&list, "3.14");
    ci_require(&list, "3.15");
    let mut newer: Vec<&Py> = list
        .iter()
        .filter(|p| p.minor >= 14 && !p.free_threaded && !p.debug)
        .collect();
    newer.sort_by_key(|p| p.minor);
    newer.dedup_by_key(|p| p.minor);
    for p in newer {
        if !out.iter().any(|o| o.minor == p.minor) {
            out.push(p.clone());
        }
    }
    out
}

/// Every interpreter found, one per distinct executable; under `CI=true`
/// every minor of [`CI_MINORS`] must be among them.
pub fn every_python() -> Vec<Py> {
    let list = all_pythons();
    for m in CI_MINORS {
        ci_require(&list, m);
    }
    list
}

// ---------------------------------------------------------------------------
// /dev/shm

/// Prefixes of every segment name the project creates: the harness's runs
/// (`shmh…`) and the bundle's standalone `repro.py` (`repro…`).
pub const OUR_PREFIXES: [&str; 2] = ["shmh", "repro"];

/// Every segment in /dev/shm that this project could have made.
pub fn our_segments() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| OUR_PREFIXES.iter().any(|p| n.starts_with(p)));
    names.sort();
    names
}

/// Every file under `dir` and its bytes: compare two snapshots to prove
/// nothing was written.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Running the binary

/// Run the binary with `args` plus `--format json`, returning (exit code, JSON).
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = bin()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); args {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// `run ARGS --python P...` writing results.json (`--json`) into a temp
/// dir; returns (exit code, the parsed results.json, stderr).
pub fn run_results(args: &[&str], pythons: &[Py]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    let mut cmd = bin();
    cmd.arg("run")
        .args(args)
        .arg("--quiet")
        .arg("--json")
        .arg(&file);
    for p in pythons {
        cmd.args(["--python", p.arg()]);
    }
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no results.json ({e}); args {args:?}\nstderr:\n{stderr}"));
    let json = serde_json::from_str(&text).expect("results.json is JSON");
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// Run the binary with `args` (no `--format`), returning (exit code, stdout, stderr).
pub fn run_text(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A temp dir holding executable fake interpreters (`#!/bin/sh` scripts).
pub struct Fakes {
    pub dir: tempfile::TempDir,
}

impl Fakes {
    pub fn new() -> Fakes {
        Fakes {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Write an executable script `name` with `body` after the shebang.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// A fake interpreter's body that hangs until the harness kills it, and
/// the means to tell afterwards, from events rather than a clock, that it
/// was killed in time and with its whole process group.
///
/// The probe's own process holds the write end of the `dead` FIFO (and says
/// `started` there); the part that hangs blocks reading the `release` FIFO.
/// A thread of the test reads `dead` to EOF, which comes when the probe's
/// process dies: the harness's timeout fired. It then writes to `release`:
/// a hanging part that outlived that kill (its group was not killed) reads
/// it, leaves `marker` and exits, so the listing ends at once and the test
/// fails, instead of stalling for as long as a sleeping fake sleeps. Only a
/// harness that never kills the probe leaves the test waiting.
pub struct Hang {
    dir: tempfile::TempDir,
    watcher: Option<std::thread::JoinHandle<String>>,
}

impl Hang {
    pub fn new() -> Hang {
        let dir = tempfile::tempdir().unwrap();
        let (dead, release) = (dir.path().join("dead"), dir.path().join("release"));
        mkfifo(&dead);
        mkfifo(&release);
        let watcher = std::thread::spawn(move || {
            use std::io::{Read, Write};
            use std::os::unix::fs::OpenOptionsExt;
            let mut said = String::new();
            // open() returns once the fake opens its end; read_to_string
            // once no process holds that end any more.
            std::fs::File::open(&dead)
                .and_then(|mut f| f.read_to_string(&mut said))
                .unwrap();
            // No reader left (ENXIO): nothing survived to release.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&release)
            {
                let _ = f.write_all(b"go\n");
            }
            said
        });
        Hang {
            dir,
            watcher: Some(watcher),
        }
    }

    fn path(&self, name: &str) -> String {
        arg(&self.dir.path().join(name)).to_string()
    }

    /// The script body. `grandchild`: the hanging part is a child of the
    /// probe's process (not exec'd), so it holds the probe's stdout and only
    /// killing the whole process group ends the listing.
    pub fn body(&self, grandchild: bool) -> String {
        let (dead, release, marker) =
            (self.path("dead"), self.path("release"), self.path("marker"));
        let open = format!("exec 5>'{dead}' 4<>'{release}'\necho started >&5");
        if grandchild {
            format!(
                "{open}\n/bin/sh -c 'exec 5>&-; read x <&4; echo survived >\"$1\"' hang '{marker}'\nexit $?"
            )
        } else {
            format!("{open}\nread x <&4\necho survived >'{marker}'")
        }
    }

    /// After the listing returned: the fake started, and what hung was
    /// killed with the probe (it never got to leave its marker).
    pub fn assert_killed_with_its_group(mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        // A fake that never started leaves the watcher waiting in open():
        // open the other end for a moment to let it go.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.dir.path().join("dead"));
        let said = self.watcher.take().unwrap().join().unwrap();
        assert!(
            said.contains("started"),
            "the hanging fake never ran (it said {said:?})"
        );
        let marker = self.dir.path().join("marker");
        assert!(
            !marker.exists(),
            "the hanging part of the probe outlived the kill of the probe: its process group was not killed"
        );
    }
}

/// Make a FIFO at `path`: tests wait on one instead of a clock.
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "{}",
        path.display()
    );
}

/// `p` as a `&str` for command-line arguments.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A second interpreter made from `py`: a copy of its executable in a temp
/// prefix whose `lib/pythonX.Y` links to the real stdlib, except for
/// `multiprocessing`, which is a real copy that `edit` may change. CPython
/// finds its stdlib from the executable's location (the `os.py` landmark),
/// so the copy runs with the copied package: an interpreter whose
/// `multiprocessing` differs from `py`'s, on any machine with one CPython.
pub struct Relocated {
    pub dir: tempfile::TempDir,
    pub exe: PathBuf,
    pub multiprocessing: PathBuf,
}

pub fn relocated_copy(py: &Py, edit: impl FnOnce(&Path)) -> Relocated {
    let dir = tempfile::tempdir().unwrap();
    let lib_name = format!("python{}", py.minor_str());
    let stdlib = py
        .multiprocessing
        .parent()
        .expect("stdlib dir")
        .to_path_buf();
    let lib = dir.path().join("lib").join(&lib_name);
    std::fs::create_dir_all(&lib).unwrap();
    for e in std::fs::read_dir(&stdlib).unwrap().flatten() {
        if e.file_name() != "multiprocessing" {
            std::os::unix::fs::symlink(e.path(), lib.join(e.file_name())).unwrap();
        }
    }
    let mp = lib.join("multiprocessing");
    copy_tree(&py.multiprocessing, &mp);
    edit(&mp);
    link_libpython(py, &dir.path().join("lib"));
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let exe = bin_dir.join(&lib_name);
    std::fs::copy(&py.exe, &exe).unwrap();
    // The copy must really use the copied package.
    let out = std::process::Command::new(&exe)
        .args([
            "-I",
            "-c",
            "import multiprocessing; print(multiprocessing.__file__)",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim() == mp.join("__init__.py").to_str().unwrap(),
        "the relocated copy of {} imports multiprocessing from {said:?}, not {}:\n{}",
        py.exe.display(),
        mp.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Relocated {
        dir,
        exe,
        multiprocessing: mp,
    }
}

/// Link `py`'s shared libpython (if it has one next to it, `../lib`) into
/// `lib`: a build whose run path is relative to the executable
/// (`$ORIGIN/../lib`) then still finds it when the executable is copied.
pub fn link_libpython(py: &Py, lib: &Path) {
    let Some(real_lib) = py
        .exe
        .parent()
        .and_then(|b| b.parent())
        .map(|p| p.join("lib"))
    else {
        return;
    };
    std::fs::create_dir_all(lib).unwrap();
    for e in std::fs::read_dir(&real_lib).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with("libpython") {
            let _ = std::os::unix::fs::symlink(e.path(), lib.join(e.file_name()));
        }
    }
}

/// A copy of `py`'s executable at `exe` (the file itself, so it can be
/// changed), in a prefix that links the real stdlib and libpython, so the
/// copy runs wherever CPython looks for them (its built-in prefix, or the
/// `os.py` landmark next to the executable, as relocatable builds do).
pub fn copy_interpreter(py: &Py, exe: &Path) {
    let prefix = exe
        .parent()
        .and_then(|b| b.parent())
        .expect("PREFIX/bin/python");
    let lib = prefix.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let stdlib = py.multiprocessing.parent().expect("stdlib dir");
    let _ = std::os::unix::fs::symlink(stdlib, lib.join(format!("python{}", py.minor_str())));
    link_libpython(py, &lib);
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::copy(&py.exe, exe).unwrap();
    let out = std::process::Command::new(exe)
        .args(["-I", "-c", "import multiprocessing.shared_memory"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a copy of {} at {} does not run: {}",
        py.exe.display(),
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == "__pycache__" {
            continue;
        }
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Reading results

/// The cases of a results document.
pub fn cases(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["cases"].as_array().expect("cases array")
}

/// The cells the tests know that are a usage, not a stdlib variant: stock
/// with attachers that pass `track=False`, or that unregister right after
/// attaching (`run --variant stock --usage X`).
pub const USAGE_CELLS: [(&str, &str); 2] = [
    ("track-false", "track-false"),
    ("userland-unregister", "unregister"),
];

/// (variant, usage) of a cell name: a built-in variant under the default
/// usage, or one of [`USAGE_CELLS`].
pub fn cell(name: &str) -> (&str, &str) {
    USAGE_CELLS
        .iter()
        .find(|(cell, _)| *cell == name)
        .map_or((name, "default"), |(_, usage)| ("stock", usage))
}

/// The cell name of a case (see [`cell`]).
pub fn cell_of(case: &serde_json::Value) -> String {
    let usage = case["usage"].as_str().unwrap_or("default");
    match USAGE_CELLS.iter().find(|(_, u)| *u == usage) {
        Some((cell, _)) if case["variant"] == "stock" => cell.to_string(),
        _ => case["variant"].as_str().unwrap_or_default().to_string(),
    }
}

/// Every case for (interpreter, cell, scenario): one per start method
/// for the scenarios that start a multiprocessing child, else one.
pub fn cases_for<'a>(
    json: &'a serde_json::Value,
    py: &Py,
    variant: &str,
    scenario: &str,
) -> Vec<&'a serde_json::Value> {
    let (variant, usage) = cell(variant);
    cases(json)
        .iter()
        .filter(|c| {
            c["executable"] == py.arg()
                && c["variant"] == variant
                && c["usage"].as_str().unwrap_or("default") == usage
                && c["scenario"] == scenario
        })
        .collect()
}

/// The case for (interpreter, variant, scenario); for a scenario run under
/// several start methods, the `spawn` one (every platform has it).
pub fn case<'a>(
    json: &'a serde_json::Value,
    py: &Py,
    variant: &str,
    scenario: &str,
) -> &'a serde_json::Value {
    let found = cases_for(json, py, variant, scenario);
    let one: Vec<_> = if found.len() > 1 {
        found
            .into_iter()
            .filter(|c| c["start_method"] == "spawn")
            .collect()
    } else {
        found
    };
    assert_eq!(
        one.len(),
        1,
        "expected one case for {} {variant} {scenario}",
        py.version
    );
    one[0]
}

/// The process labelled `label` (`P1`, `P2`, ...) of a case.
pub fn process<'a>(case: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    case["processes"]
        .as_array()
        .expect("processes array")
        .iter()
        .find(|p| p["label"] == label)
        .unwrap_or_else(|| panic!("no process {label} in {case:#}"))
}

/// The symptom keys of a case.
pub fn symptom_keys(case: &serde_json::Value) -> Vec<String> {
    case["symptoms"]
        .as_array()
        .expect("symptoms array")
        .iter()
        .map(|s| s["key"].as_str().expect("symptom key").to_string())
        .collect()
}

/// Assert that no segment named in a run's cases is still in /dev/shm.
pub fn assert_segments_gone(json: &serde_json::Value) {
    let used: Vec<&str> = cases(json)
        .iter()
        .filter_map(|c| c["segment"].as_str())
        .collect();
    assert!(!used.is_empty(), "the run names no segments");
    let left: Vec<String> = our_segments()
        .into_iter()
        .filter(|s| used.contains(&s.as_str()))
        .collect();
    assert!(left.is_empty(), "segments left in /dev/shm: {left:?}");
}

/// Assert a run went right: exit 0 and every verdict `pass` (or `n/a`
/// where the stdlib lacks the usage's API: track-false where
/// SharedMemory has no track parameter). Comparisons are made against such a run, never against one
/// that is merely the same.
pub fn assert_all_pass(code: i32, json: &serde_json::Value) {
    assert_every_case_passed(json);
    assert_eq!(code, 0, "exit code of a run whose every case passed");
}

/// The verdict half of [`assert_all_pass`], for a caller that has already
/// asserted the run's exit code.
pub fn assert_every_case_passed(json: &serde_json::Value) {
    let bad: Vec<String> = cases(json)
        .iter()
        .filter(|c| {
            let na_ok = c["usage"] == "track-false"
                && c["verdict"] == "n/a"
                && c["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("SharedMemory has no track parameter"));
            c["verdict"] != "pass" && !na_ok
        })
        .map(|c| {
            format!(
                "{} {} {}: {} ({})",
                c["interpreter"], c["scenario"], c["variant"], c["verdict"], c["reason"]
            )
        })
        .collect();
    assert!(bad.is_empty(), "cases that did not pass: {bad:#?}");
    assert!(!cases(json).is_empty(), "no cases");
}

/// One full matrix (every scenario x every variant) on [`per_family`]'s
/// interpreters, run once and shared by every test that needs it, with
/// snapshots of each interpreter's installed `multiprocessing` package
/// taken before and after the run.
pub struct Matrix {
    pub code: i32,
    pub json: serde_json::Value,
    pub pythons: Vec<Py>,
    pub before: Vec<BTreeMap<PathBuf, Vec<u8>>>,
    pub after: Vec<BTreeMap<PathBuf, Vec<u8>>>,
}

/// The shared full matrix. Only a finished run is kept: a missing
/// interpreter panics in every caller, never a silent skip.
pub fn matrix() -> &'static Matrix {
    static MATRIX: OnceLock<Matrix> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let pythons = per_family();
        let before: Vec<_> = pythons
            .iter()
            .map(|p| snapshot(&p.multiprocessing))
            .collect();
        // Every stdlib variant with plain attachers, and stock with each
        // other usage: one document, as one run would give it.
        let (code, mut json, _) = run_results(&["--scenario", "all", "--variant", "all"], &pythons);
        let (usage_code, usages, _) = run_results(
            &[
                "--scenario",
                "all",
                "--variant",
                "stock",
                "--usage",
                "track-false,unregister",
            ],
            &pythons,
        );
        let more = usages["cases"].as_array().expect("cases").clone();
        json["cases"].as_array_mut().expect("cases").extend(more);
        let code = code.max(usage_code);
        let after: Vec<_> = pythons
            .iter()
            .map(|p| snapshot(&p.multiprocessing))
            .collect();
        Matrix {
            code,
            json,
            pythons,
            before,
            after,
        }
    })
}

// ---------------------------------------------------------------------------
// Runs with a cache, a TMPDIR and ledgers of their own

/// A private cache dir and TMPDIR, and no XDG_RUNTIME_DIR: the ledgers a
/// test kills, plants or cleans are its own, and so is every temp dir.
/// The probe answers of the shared test cache are copied in (they are
/// checked against each interpreter's path, size and mtime), so discovery
/// stays warm.
pub struct Private {
    pub cache: tempfile::TempDir,
    pub tmp: tempfile::TempDir,
}

impl Private {
    pub fn new() -> Private {
        let cache = tempfile::tempdir().unwrap();
        let probes = test_cache().join("shmharness/probes.json");
        if probes.is_file() {
            std::fs::create_dir_all(cache.path().join("shmharness")).unwrap();
            let _ = std::fs::copy(&probes, cache.path().join("shmharness/probes.json"));
        }
        Private {
            cache,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// The binary, with this cache and TMPDIR.
    pub fn cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"));
        cmd.env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", self.cache.path())
            .env("TMPDIR", self.tmp.path())
            .env_remove("XDG_RUNTIME_DIR");
        cmd
    }

    /// The ledger dir these runs use.
    pub fn runs(&self) -> PathBuf {
        self.cache.path().join("shmharness/runs")
    }

    /// `shmharness clean`: (exit code, stdout, stderr).
    pub fn clean(&self) -> (i32, String, String) {
        let out = self.cmd().arg("clean").output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The run temp dirs (`shmharness-*`) in this TMPDIR.
    pub fn temp_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("shmharness-"))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        dirs
    }
}

/// The second user of the multi-user tests: `nobody` (uid, gid).
pub fn nobody() -> (u32, u32) {
    let name = std::ffi::CString::new("nobody").unwrap();
    // SAFETY: getpwnam returns a pointer into static storage or null; it
    // is read at once.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        assert!(!pw.is_null(), "no user `nobody` on this machine");
        ((*pw).pw_uid, (*pw).pw_gid)
    }
}

/// `lchown` (a symlink itself, not its target).
pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// A fresh name of the form the harness gives (`shmh` + 12 hex + `_n`).
pub fn harness_like_name(n: usize) -> String {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    format!(
        "shmh{:012x}_{n}",
        u64::from_le_bytes(buf) & 0xffff_ffff_ffff
    )
}

/// Create the segment `name` (16 bytes), owned by `owner` (uid, gid) if
/// given. The test that makes one removes it.
pub fn make_segment(name: &str, owner: Option<(u32, u32)>) {
    let c = std::ffi::CString::new(format!("/{name}")).unwrap();
    // SAFETY: `c` is NUL-terminated; the fd is closed before returning.
    unsafe {
        let fd = libc::shm_open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        );
        assert!(fd >= 0, "cannot create segment {name}");
        assert_eq!(libc::ftruncate(fd, 16), 0);
        if let Some((uid, gid)) = owner {
            assert_eq!(libc::fchown(fd, uid, gid), 0);
        }
        libc::close(fd);
    }
}

/// Whether the segment `name` exists.
pub fn segment_exists(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

/// Remove a segment this test made (if it is still there).
pub fn remove_segment(name: &str) {
    let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
}
