//! Issue 10: never a wrong verdict, never a write outside its place, never
//! another's segment. Each test here failed on the code before that issue.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::util::{Fakes, arg, bin, cpu_limited, mkfifo, require_root, std_bin};

/// One usable CPython, chosen like every other test's (util.rs): through
/// the harness's own discovery or SHMH_TEST_PYTHONS.
fn cpython() -> PathBuf {
    crate::util::any_python().exe
}

/// `run --quiet --variant stock --python PY --json TARGET`: one quick run
/// whose JSON goes to `target`.
fn json_to(py: &Path, target: &str) -> std::process::Output {
    bin()
        .args([
            "run",
            "--quiet",
            "--variant",
            "stock",
            "--python",
            arg(py),
            "--json",
            target,
        ])
        .output()
        .unwrap()
}

/// A results.json of one quick run, in `dir`, checked to be right.
fn leg(dir: &Path) -> PathBuf {
    let leg = dir.join("leg.json");
    let out = json_to(&cpython(), arg(&leg));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    leg
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn json_to_dev_stdout_writes_through_it_and_keeps_the_link() {
    let py = cpython();
    let out = json_to(&py, "/dev/stdout");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"schema_version\": 1"), "{text}");
    // `-` is stdout too.
    let out = json_to(&py, "-");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"schema_version\": 1"));
}

#[test]
fn a_symlink_is_followed_and_a_fifo_or_device_written_in_place() {
    let py = cpython();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    // A reader for the FIFO, so the writer's open() returns.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = bin()
        .args(["run", "--quiet", "--variant", "stock", "--python", arg(&py)])
        .args(["--json", arg(&link), "--junit", arg(&fifo)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("\"cases\"")
    );
    assert!(reader.join().unwrap().contains("<testsuites"));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A character device stays one.
    let out = json_to(&py, "/dev/null");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn a_bundle_through_a_symlinked_dir_lands_in_its_target_and_the_link_stays() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("out");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let leg = leg(dir.path());
    let out = bin()
        .args(["merge", "--quiet", arg(&leg), "--report", arg(&link)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(real.join("report.md").is_file());
}

#[test]
fn outputs_that_cannot_be_written_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink(dir.path().join("nowhere/x.json"), &dangling).unwrap();
    for target in [
        dir.path().to_path_buf(),
        dangling,
        dir.path().join("no/such/dir/x.json"),
    ] {
        // A --python that does not exist: had the run started, the error
        // would be about it, not about the output.
        let out = bin()
            .args([
                "run",
                "--python",
                "/nonexistent/python3",
                "--json",
                arg(&target),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&target.display().to_string()), "{err}");
    }
}

/// A results.json whose names try to climb out of the bundle.
#[test]
fn merge_refuses_names_that_would_write_outside_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let leg = leg(dir.path());
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&leg).unwrap()).unwrap();
    let bundle = dir.path().join("a/b/bundle");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    type Mutation = (&'static str, fn(&mut serde_json::Value));
    let mutations: [Mutation; 3] = [
        ("interpreter", |r| {
            r["interpreters"][0]["id"] = "..".into();
            for c in r["cases"].as_array_mut().unwrap() {
                c["interpreter"] = "..".into();
            }
        }),
        ("label", |r| {
            r["cases"][0]["processes"][0]["label"] = "../../PWNED".into()
        }),
        ("variant", |r| {
            r["variants"][0]["name"] = "../x".into();
            r["cases"][0]["variant"] = "../x".into();
        }),
    ];
    for (what, mutate) in mutations {
        let mut r = good.clone();
        mutate(&mut r);
        let bad = dir.path().join(format!("bad-{what}.json"));
        std::fs::write(&bad, serde_json::to_string(&r).unwrap()).unwrap();
        let out = bin()
            .args(["merge", arg(&bad), "--report", arg(&bundle)])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(!bundle.exists(), "{what}");
        let stray: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("PWNED") || p.ends_with("x.diff"))
            .collect();
        assert!(stray.is_empty(), "{what}: {stray:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn merge_says_what_is_wrong_with_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let leg = leg(dir.path());
    // The same file twice: read once, with a warning.
    let out = bin()
        .args(["merge", "--quiet", "--format", "json", arg(&leg), arg(&leg)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("given twice"), "{}", stderr(&out));
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&leg).unwrap()).unwrap();
    // No cases; a case of an interpreter the file does not list.
    let mut empty = good.clone();
    empty["cases"] = serde_json::json!([]);
    let mut unlisted = good.clone();
    unlisted["cases"][0]["interpreter"] = "9.9.9".into();
    for (name, r, needle) in [
        ("empty", empty, "no cases"),
        ("unlisted", unlisted, "does not list"),
    ] {
        let f = dir.path().join(format!("{name}.json"));
        std::fs::write(&f, serde_json::to_string(&r).unwrap()).unwrap();
        let out = bin().args(["merge", arg(&f)]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains(needle), "{name}: {}", stderr(&out));
    }
}

/// A filesystem with no room, as root can make one.
struct Tiny(tempfile::TempDir);

impl Tiny {
    fn mount(kb: u32) -> Tiny {
        require_root("mount a tmpfs");
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot mount a tmpfs at {}", dir.path().display());
        Tiny(dir)
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
#[ignore = "needs root: mounts a full tmpfs as TMPDIR (.ci/run runs it as root)"]
fn a_full_tmpdir_is_an_error_with_exit_2_never_a_failed_fix() {
    let py = cpython();
    let tiny = Tiny::mount(96);
    // The overlays are built under the cache dir (and reused from there),
    // so the cache goes on the full filesystem too: a warm cache elsewhere
    // would leave nothing to fail.
    let out = bin()
        .env("TMPDIR", tiny.0.path())
        .env("XDG_CACHE_HOME", tiny.0.path().join("cache"))
        .args([
            "verify",
            "--python",
            arg(&py),
            "--scenario",
            "three-process",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{err}");
    assert!(
        !stdout.contains("FAILED") && !err.contains("FAILED"),
        "{stdout}{err}"
    );
    assert!(
        format!("{stdout}{err}").contains("No space left"),
        "{stdout}{err}"
    );
}

#[test]
fn a_timeout_is_an_error_with_exit_2_never_a_failed_fix() {
    let py = cpython();
    // The hidden `hang` scenario's P2 never ends: the timeout is certain.
    let out = bin()
        .args([
            "run",
            "--python",
            arg(&py),
            "--variant",
            "stock",
            "--scenario",
            "hang",
            "--timeout",
            "2",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("could not run") && err.contains("timed out"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn too_many_jobs_are_capped_with_a_note_and_every_verdict_holds() {
    let py = cpython();
    let out = bin()
        .args(["run", "--python", arg(&py), "--variant", "all"])
        .args([
            "--scenario",
            "three-process,many-attachers",
            "--jobs",
            "1000",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{err}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("--jobs 1000 capped at"), "{err}");
}

#[test]
fn a_segment_someone_else_owns_under_our_name_is_left_alone() {
    let py = cpython();
    let mine = format!("shmhclash{}", std::process::id());
    let fresh = format!("shmhfresh{}", std::process::id());
    // The foreign segment: created outside any resource tracker.
    let make = format!(
        "import _posixshmem, os\nfd = _posixshmem.shm_open('/{mine}', os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)\nos.ftruncate(fd, 16)\nos.write(fd, b'foreign data')\n"
    );
    assert!(
        std::process::Command::new(&py)
            .args(["-c", &make])
            .status()
            .unwrap()
            .success()
    );
    let out = bin()
        .env("SHMHARNESS_TEST_SEGMENT_NAMES", format!("{mine},{fresh}"))
        .args([
            "run",
            "--python",
            arg(&py),
            "--variant",
            "stock",
            "--jobs",
            "1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let shm = Path::new("/dev/shm").join(&mine);
    let still = std::fs::read(&shm);
    let _ = std::fs::remove_file(&shm);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        still.unwrap()[..12],
        *b"foreign data",
        "the foreign segment was touched"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["cases"][0]["segment"],
        fresh.as_str(),
        "retried under a new name"
    );
    assert_eq!(json["cases"][0]["verdict"], "pass");
    assert!(!Path::new("/dev/shm").join(&fresh).exists());
}

#[test]
fn an_absurd_hunk_header_is_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("absurd.diff");
    std::fs::write(
        &patch,
        "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n@@ -4000000000000000000,1 +4000000000000000000,1 @@\n-import os\n+import os  # x\n",
    )
    .unwrap();
    let py = cpython();
    // A hang here would be a loop over the header's line count: bound the
    // CPU it may burn (SIGXCPU ends it), which no load can use up, rather
    // than the wall time, which load can.
    let out = cpu_limited(&mut patch_show(&py, &patch), 60)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("but the file has"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_patch_that_does_not_compile_names_file_line_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let py = cpython();
    let patch = dir.path().join("broken.diff");
    let at = import_os_patch(&py, &patch, 0, " (");
    let out = bin()
        .args(["run", "--patch", arg(&patch), "--python", arg(&py)])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("shared_memory.py:{at}: SyntaxError")),
        "{err}"
    );
    // It applied: the branch's layout is not the problem.
    assert!(!err.contains("patch show"), "{err}");
}

#[test]
fn interpreter_output_is_shown_with_control_characters_escaped() {
    let f = Fakes::new();
    let fake = f.script("python3", "printf '\\033[2J\\033]0;owned\\007garbage\\n'");
    let out = bin()
        .args(["list", "--all", "--python", arg(&fake)])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!text.contains('\u{1b}'), "raw escape in: {text:?}");
    assert!(text.contains("\\u{1b}[2J"), "{text}");
}

#[test]
fn ctrl_c_during_discovery_exits_130_with_no_listing() {
    let f = Fakes::new();
    let fifo = f.dir.path().join("started");
    mkfifo(&fifo);
    // A candidate whose probe says it started, then never answers.
    let slow = f.script(
        "python3",
        &format!("echo started > '{}'\nexec sleep 600", fifo.display()),
    );
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"))
        .args([
            "list",
            "--no-cache",
            "--probe-timeout",
            "300",
            "--python",
            arg(&slow),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the probe to start (a FIFO, not a clock), then Ctrl-C.
    std::fs::read_to_string(&fifo).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "a partial listing: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_run_killed_with_sigkill_is_cleaned_up_by_the_next() {
    killed_run_is_cleaned_up_by_the_next("exec");
}

/// Issue 23: a role forked by a zygote carries the zygote's command line,
/// which names the dead run's temp dir too, so `clean` finds it.
#[test]
fn a_run_with_zygotes_killed_with_sigkill_is_cleaned_up_by_the_next() {
    killed_run_is_cleaned_up_by_the_next("zygote");
}

fn killed_run_is_cleaned_up_by_the_next(roles: &str) {
    let py = cpython();
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("notify");
    mkfifo(&fifo);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"))
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", tmp.path())
        .env("SHMHARNESS_TEST_NOTIFY", &fifo)
        .args([
            "run",
            "--quiet",
            "--python",
            arg(&py),
            "--variant",
            "stock",
            "--scenario",
            "hang",
            "--timeout",
            "600",
            "--roles",
            roles,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The hanger says it hangs (and names the segment), then we SIGKILL.
    let said = std::fs::read_to_string(&fifo).unwrap();
    let segment = said.split_whitespace().nth(1).unwrap().to_string();
    child.kill().unwrap();
    child.wait().unwrap();
    let ledger = std::fs::read_dir(cache.path().join("shmharness/runs"))
        .unwrap()
        .count();
    assert_eq!(ledger, 1, "the killed run's ledger is there");
    let out = bin()
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("XDG_RUNTIME_DIR")
        .arg("clean")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("removed what 1 run killed earlier left: 1 temp dir"),
        "{said}"
    );
    assert!(
        !Path::new("/dev/shm").join(&segment).exists(),
        "{segment} left"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("shmharness-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Nothing of that run still runs: no process names its segment or its
    // temp dir (a forked role shows its zygote's command line).
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &format!("{segment}|{}", tmp.path().display())])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

#[test]
fn patch_show_says_where_a_hunk_landed() {
    let py = cpython();
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("moved.diff");
    // The header says 5 lines earlier than the line really is.
    import_os_patch(&py, &patch, 5, "  # moved");
    let out = patch_show(&py, &patch).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("hunk #1 applied 5 lines later than its header says"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `patch show --patch PATCH --python PY`.
fn patch_show(py: &Path, patch: &Path) -> std::process::Command {
    let mut cmd = std_bin();
    cmd.args(["patch", "show", "--patch", arg(patch), "--python", arg(py)]);
    cmd
}

/// Write to `patch` a one-hunk diff that appends `tail` to the `import os`
/// line of this interpreter's shared_memory.py, its header `early` lines
/// before where the line really is; returns the line's real number.
fn import_os_patch(py: &Path, patch: &Path, early: usize, tail: &str) -> usize {
    let out = bin()
        .args(["list", "--format", "json", "--python", arg(py)])
        .output()
        .unwrap();
    let lib: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mp = PathBuf::from(lib["interpreters"][0]["multiprocessing"].as_str().unwrap());
    let text = std::fs::read_to_string(mp.join("shared_memory.py")).unwrap();
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("import os"))
        .unwrap();
    std::fs::write(
        patch,
        format!(
            "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n@@ -{0},1 +{0},1 @@\n-{line}\n+{line}{tail}\n",
            i + 1 - early
        ),
    )
    .unwrap();
    i + 1
}
