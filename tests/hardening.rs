//! Issue 10: never a wrong verdict, never a write outside its place, never
//! another's segment. Each test here failed on the code before that issue.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::util::{Fakes, Private, arg, bin, cpu_limited, mkfifo, require_root, std_bin};

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

/// `run --scenario hang --roles ROLES` with `p`'s cache and TMPDIR,
/// started and waited for: its hanger says (on a FIFO) that it hangs.
/// Returns the harness and the case's segment.
fn hanging_run(p: &Private, py: &Path, roles: &str) -> (std::process::Child, String) {
    let fifo = p.cache.path().join("notify");
    mkfifo(&fifo);
    let child = p
        .cmd()
        .env("SHMHARNESS_TEST_NOTIFY", &fifo)
        .args(["run", "--quiet", "--python", arg(py)])
        .args([
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
    let said = std::fs::read_to_string(&fifo).unwrap();
    std::fs::remove_file(&fifo).unwrap();
    (child, said.split_whitespace().nth(1).unwrap().to_string())
}

/// SIGKILL a harness and reap it.
fn sigkill(mut child: std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
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
    let p = Private::new();
    let (child, segment) = hanging_run(&p, &py, roles);
    sigkill(child);
    let ledger = std::fs::read_dir(p.runs()).unwrap().count();
    assert_eq!(ledger, 1, "the killed run's ledger is there");
    let (code, said, _) = p.clean();
    assert_eq!(code, 0);
    assert!(
        said.contains("removed what 1 run killed earlier left: 1 temp dir"),
        "{said}"
    );
    assert!(
        !Path::new("/dev/shm").join(&segment).exists(),
        "{segment} left"
    );
    assert!(p.temp_dirs().is_empty(), "{:?}", p.temp_dirs());
    // Nothing of that run runs on: each process that names its segment or
    // its temp dir (a forked role shows its zygote's command line) is on
    // its way out, and ends within 30 s. They end on their own, at their
    // pace on a loaded machine: a role by the SIGTERM its PDEATHSIG sends
    // (its exit handlers bounded by a 10 s alarm), a zygote when its
    // socket closes; the harness is gone and clean kills nothing.
    let ps = std::process::Command::new("pgrep")
        .args(["-af", &format!("{segment}|{}", p.tmp.path().display())])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&ps.stdout).into_owned();
    for line in listed.lines() {
        let pid: i32 = line.split_whitespace().next().unwrap().parse().unwrap();
        assert!(ends_within(pid, 30_000), "still running after 30 s: {line}");
    }
}

/// Does process `pid` end within `ms` milliseconds (a pidfd and poll, no
/// clock loop)? One that is already gone has ended.
fn ends_within(pid: i32, ms: i32) -> bool {
    // SAFETY: pidfd_open returns a new fd or -1; poll and close act on it.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
        if fd < 0 {
            return true;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = libc::poll(&mut pfd, 1, ms);
        libc::close(fd);
        ready == 1
    }
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

/// The `multiprocessing` package `py` imports, as discovery found it.
fn installed_multiprocessing(py: &Path) -> PathBuf {
    let out = bin()
        .args(["list", "--format", "json", "--python", arg(py)])
        .output()
        .unwrap();
    let lib: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    PathBuf::from(lib["interpreters"][0]["multiprocessing"].as_str().unwrap())
}

/// Write to `patch` a one-hunk diff that appends `tail` to the `import os`
/// line of this interpreter's shared_memory.py, its header `early` lines
/// before where the line really is; returns the line's real number.
fn import_os_patch(py: &Path, patch: &Path, early: usize, tail: &str) -> usize {
    let text =
        std::fs::read_to_string(installed_multiprocessing(py).join("shared_memory.py")).unwrap();
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

// ---------------------------------------------------------------------------
// Issue 19: housekeeping trusts only what it made. Each test here fails on
// the code before that issue.

/// Bytes as lowercase hex (how a ledger writes paths).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A ledger that lists `dirs` and `segments`, in this version's form (with
/// each directory's device and inode, and `root` as where it sits, when
/// given) and in the previous one's (`start`, `dir PATH`), so that the
/// code of either version acts on it if it trusts it.
fn ledger_listing(dirs: &[(&Path, Option<&Path>)], segments: &[&str]) -> String {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let mut text = String::from("shmharness-ledger 2\npid 4000002\nstart 0\n");
    for (dir, root) in dirs {
        let meta = std::fs::symlink_metadata(dir).unwrap();
        let root = root.unwrap_or_else(|| dir.parent().unwrap());
        let name = dir.file_name().unwrap();
        text += &format!(
            "tmp {} {} {} {}\ndir {}\n",
            meta.dev(),
            meta.ino(),
            hex(root.as_os_str().as_bytes()),
            hex(name.as_bytes()),
            root.join(name).display()
        );
    }
    for s in segments {
        text += &format!("seg {s}\n");
    }
    text
}

/// A process whose command line names `path`, waiting on its stdin.
fn holder_of(path: &Path) -> std::process::Child {
    std::process::Command::new(cpython())
        .args(["-c", "import sys; sys.stdin.read()"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether `child` still runs; ends it either way.
fn still_ran(mut child: std::process::Child) -> bool {
    let running = child.try_wait().unwrap().is_none();
    drop(child.stdin.take());
    let _ = child.kill();
    child.wait().unwrap();
    running
}

/// Mode bits, set.
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// As root: the second user (nobody: uid, gid), and their
/// XDG_RUNTIME_DIR (which `sudo -E` hands to root) holding their
/// `shmharness/runs`, mode 0755.
fn users_runtime_dir() -> ((u32, u32), tempfile::TempDir, PathBuf) {
    require_root("it acts as a second user, nobody");
    let user = crate::util::nobody();
    let runtime = tempfile::tempdir().unwrap();
    let runs = runtime.path().join("shmharness/runs");
    std::fs::create_dir_all(&runs).unwrap();
    for d in [runtime.path(), &runtime.path().join("shmharness"), &runs] {
        chmod(d, 0o755);
        crate::util::chown(d, user.0, user.1);
    }
    (user, runtime, runs)
}

#[test]
#[ignore = "needs root: root's clean must ignore a ledger that another user (nobody) wrote"]
fn root_ignores_a_ledger_another_user_wrote() {
    use crate::util::{chown, harness_like_name, make_segment};
    let (user, runtime, runs) = users_runtime_dir();
    let p = Private::new();
    // Root's things: a 0700 directory and a segment.
    let roots = tempfile::tempdir().unwrap();
    let victim = roots.path().join("shmharness-victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("data"), "root's").unwrap();
    let segment = harness_like_name(1);
    make_segment(&segment, None);
    let named = holder_of(&victim);
    // The user's ledger.
    let planted = runs.join("4000002.run");
    std::fs::write(&planted, ledger_listing(&[(&victim, None)], &[&segment])).unwrap();
    chown(&planted, user.0, user.1);
    let clean = || {
        let out = p
            .cmd()
            .env("XDG_RUNTIME_DIR", runtime.path())
            .arg("clean")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    let (code, said, err) = clean();
    let survived = (
        victim.join("data").exists(),
        crate::util::segment_exists(&segment),
    );
    let alive = still_ran(named);
    assert_eq!(code, Some(0), "{said}{err}");
    assert_eq!(
        survived,
        (true, true),
        "root removed what a user's ledger listed: {said}"
    );
    assert!(alive, "root killed a process that named the listed path");
    assert_eq!(
        err.matches("note: ignoring the run ledgers in").count(),
        1,
        "{err}"
    );
    assert!(err.contains(&format!("belongs to uid {}", user.0)), "{err}");
    // The same ledger, root's own in root's own directories, is obeyed:
    // only who wrote it differs.
    for d in [
        runtime.path().to_path_buf(),
        runs.parent().unwrap().to_path_buf(),
        runs.clone(),
    ] {
        chown(&d, 0, 0);
        chmod(&d, 0o700);
    }
    chown(&planted, 0, 0);
    chmod(&planted, 0o600);
    let (code, said, err) = clean();
    let gone = (!victim.exists(), !crate::util::segment_exists(&segment));
    crate::util::remove_segment(&segment);
    assert_eq!(code, Some(0), "{said}{err}");
    assert_eq!(gone, (true, true), "{said}{err}");
}

#[test]
#[ignore = "needs root: root's run must not write through symlinks another user (nobody) planted"]
fn root_never_writes_through_a_symlink_planted_at_its_ledger_path() {
    let (user, runtime, runs) = users_runtime_dir();
    let py = cpython();
    let p = Private::new();
    let keep = tempfile::tempdir().unwrap();
    let precious = keep.path().join("precious");
    std::fs::write(&precious, "keep\n").unwrap();
    // A link at the ledger path of every pid the run may get.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last + 1..last + 20_000 {
        let link = runs.join(format!("{pid}.run"));
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        crate::util::chown(&link, user.0, user.1);
    }
    let out = p
        .cmd()
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["run", "--quiet", "--python", arg(&py), "--variant", "stock"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "keep\n",
        "written through a link"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("note: ignoring the run ledgers in").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains(&format!("using {}", p.runs().display())),
        "{err}"
    );
}

#[test]
#[ignore = "needs root: the directory and segment a crafted ledger names belong to another user (nobody)"]
fn a_crafted_ledger_removes_only_what_a_run_made() {
    use crate::util::{chown, harness_like_name, make_segment, segment_exists};
    let (user, _, _) = users_runtime_dir();
    let p = Private::new();
    // A user's data outside any temp root, named like a temp dir.
    let home = tempfile::tempdir().unwrap();
    chown(home.path(), user.0, user.1);
    chmod(home.path(), 0o755);
    let data = home.path().join("shmharness-data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("thesis.tex"), "years").unwrap();
    chown(&data, user.0, user.1);
    // One of root's, reached through a symlink.
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir(top.path().join("real")).unwrap();
    let linked = top.path().join("real/shmharness-linked");
    std::fs::create_dir(&linked).unwrap();
    let link = top.path().join("link");
    std::os::unix::fs::symlink(top.path().join("real"), &link).unwrap();
    // And one a run really made, directly in a temp root of root's.
    let made = top.path().join("shmharness-made");
    std::fs::create_dir(&made).unwrap();
    // Segments: one not of the harness's form, one of nobody's, one a run made.
    let odd = format!("shmh_important_{}", std::process::id());
    let theirs = harness_like_name(2);
    let ours = harness_like_name(3);
    make_segment(&odd, None);
    make_segment(&theirs, Some(user));
    make_segment(&ours, None);
    std::fs::create_dir_all(p.runs()).unwrap();
    chmod(&p.cache.path().join("shmharness"), 0o700);
    chmod(&p.runs(), 0o700);
    let ledger = p.runs().join("4000003.run");
    let text = ledger_listing(
        &[(&data, None), (&linked, Some(&link)), (&made, None)],
        &[&odd, &theirs, &ours],
    );
    std::fs::write(&ledger, text).unwrap();
    chmod(&ledger, 0o600);
    let (code, said, err) = p.clean();
    let left = [
        data.join("thesis.tex").exists(),
        linked.exists(),
        segment_exists(&odd),
        segment_exists(&theirs),
    ];
    let removed = (!made.exists(), !segment_exists(&ours));
    for s in [&odd, &theirs, &ours] {
        crate::util::remove_segment(s);
    }
    assert_eq!(code, 0, "{said}{err}");
    assert_eq!(
        left, [true; 4],
        "data, linked dir, odd segment, nobody's segment: {said}"
    );
    assert_eq!(removed, (true, true), "{said}{err}");
    assert!(
        said.contains("removed what 1 run killed earlier left: 1 temp dir and 1 segment"),
        "{said}"
    );
}

#[test]
fn clean_never_kills_a_process_by_its_command_line() {
    let py = cpython();
    let p = Private::new();
    let (child, _) = hanging_run(&p, &py, "exec");
    let dir = p.temp_dirs().pop().expect("the run's temp dir");
    let mut decoy_arg = dir.clone().into_os_string();
    decoy_arg.push("-important-NOT-THIS-ONE");
    let decoy = holder_of(Path::new(&decoy_arg));
    sigkill(child);
    let (code, said, err) = p.clean();
    let alive = still_ran(decoy);
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("1 temp dir"), "{said}");
    assert!(
        alive,
        "clean killed a process whose command line contains {}",
        dir.display()
    );
}

#[test]
#[ignore = "needs root: the live run is in a PID namespace of its own (unshare -p)"]
fn a_live_run_in_another_pid_namespace_is_left_alone() {
    require_root("the live run is in a PID namespace of its own");
    let py = cpython();
    let p = Private::new();
    let fifo = p.cache.path().join("notify");
    mkfifo(&fifo);
    let mut unshare = std::process::Command::new("unshare");
    unshare
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(assert_cmd::cargo::cargo_bin("shmharness"))
        .args(["run", "--quiet", "--python", arg(&py)])
        .args([
            "--variant",
            "stock",
            "--scenario",
            "hang",
            "--timeout",
            "600",
        ]);
    for (k, v) in p.cmd().get_envs() {
        match v {
            Some(v) => unshare.env(k, v),
            None => unshare.env_remove(k),
        };
    }
    unshare.env("SHMHARNESS_TEST_NOTIFY", &fifo);
    let mut child = unshare.stdout(Stdio::null()).spawn().unwrap();
    let said = std::fs::read_to_string(&fifo).unwrap();
    let segment = said.split_whitespace().nth(1).unwrap().to_string();
    let dirs = p.temp_dirs();
    // The live run's processes, as the host sees them.
    let pgrep = || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &segment])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = pgrep();
    let (code, cleaned, err) = p.clean();
    let after = (
        pgrep(),
        dirs.iter().all(|d| d.exists()),
        crate::util::segment_exists(&segment),
    );
    // Stop the live run as a user would: SIGTERM to the harness (the
    // namespace's pid 1, unshare's child).
    let harness: i32 = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(harness, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(cleaned.contains("nothing to clean"), "{cleaned}");
    assert_eq!(after, (before, true, true), "clean touched a live run");
    assert!(before >= 2, "hanger and creator run");
    assert_eq!(status.code(), Some(143), "the live run was cut short");
    assert!(p.temp_dirs().is_empty() && !crate::util::segment_exists(&segment));
}

#[test]
fn a_fifo_in_the_ledger_dir_does_not_hang_clean() {
    let p = Private::new();
    let runs = p.runs();
    std::fs::create_dir_all(&runs).unwrap();
    chmod(&p.cache.path().join("shmharness"), 0o700);
    chmod(&runs, 0o700);
    mkfifo(&runs.join("4000001.run"));
    mkfifo(&runs.join("4000001-0123456789ab.run"));
    let out = assert_cmd::Command::from_std(p.cmd())
        .arg("clean")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "clean hung on a FIFO: {said}{}",
        stderr(&out)
    );
    assert!(said.contains("nothing to clean"), "{said}");
}

/// Where the gate of `gate_patch` stops a creator: just before its
/// `shm_open`, or just after (the segment exists, 0 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    BeforeShmOpen,
    AfterShmOpen,
}

/// Write to `patch` a diff of `py`'s shared_memory.py that stops a creator
/// at `at` when SHMH_TEST_GATE names a FIFO: it writes "PID /NAME" to
/// GATE.here (and keeps that open until it exits, so a reader sees EOF
/// then), then waits until GATE is opened for writing and closed.
fn gate_patch(py: &Path, patch: &Path, at: Gate) {
    let text =
        std::fs::read_to_string(installed_multiprocessing(py).join("shared_memory.py")).unwrap();
    let target = match at {
        Gate::BeforeShmOpen => "name = \"/\" + name if self._prepend_leading_slash else name",
        Gate::AfterShmOpen => "os.ftruncate(self._fd, size)",
    };
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim() == target)
        .unwrap();
    let indent = &line[..line.len() - line.trim_start().len()];
    let gate = format!(
        "{indent}if create and os.environ.get('SHMH_TEST_GATE'): os._shmh_here = open(os.environ['SHMH_TEST_GATE'] + '.here', 'w'); os._shmh_here.write('%d %s\\n' % (os.getpid(), name)); os._shmh_here.flush(); open(os.environ['SHMH_TEST_GATE']).read()"
    );
    let body = match at {
        Gate::BeforeShmOpen => format!("-{line}\n+{line}\n+{gate}\n"),
        Gate::AfterShmOpen => format!("-{line}\n+{gate}\n+{line}\n"),
    };
    std::fs::write(
        patch,
        format!(
            "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n@@ -{0},1 +{0},2 @@\n{body}",
            i + 1
        ),
    )
    .unwrap();
}

/// Let a creator waiting at the gate go on, if one still waits.
fn open_gate(gate: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: ENXIO when nobody waits any more.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(gate);
}

#[test]
fn a_harness_killed_mid_case_leaves_dev_shm_as_it_found_it() {
    use std::io::BufRead;
    let py = cpython();
    for at in [Gate::BeforeShmOpen, Gate::AfterShmOpen] {
        let p = Private::new();
        let patch = p.cache.path().join("gate.diff");
        gate_patch(&py, &patch, at);
        let gate = p.cache.path().join("gate");
        let here = p.cache.path().join("gate.here");
        mkfifo(&gate);
        mkfifo(&here);
        let child = p
            .cmd()
            .env("SHMH_TEST_GATE", &gate)
            .args(["run", "--quiet", "--jobs", "1", "--python", arg(&py)])
            .args(["--patch", arg(&patch), "--scenario", "three-process"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The patched case's creator waits at the gate: the harness dies.
        let mut waiting = std::io::BufReader::new(std::fs::File::open(&here).unwrap());
        let mut line = String::new();
        waiting.read_line(&mut line).unwrap();
        let segment = line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_start_matches('/')
            .to_string();
        sigkill(child);
        if at == Gate::BeforeShmOpen {
            // A creator that outlived the harness would create it now.
            open_gate(&gate);
            std::io::copy(&mut waiting, &mut std::io::sink()).unwrap();
        }
        // The next run.
        let next = p
            .cmd()
            .args(["run", "--quiet", "--python", arg(&py), "--variant", "stock"])
            .args(["--scenario", "three-process"])
            .output()
            .unwrap();
        let left = crate::util::segment_exists(&segment);
        open_gate(&gate);
        std::io::copy(&mut waiting, &mut std::io::sink()).unwrap();
        crate::util::remove_segment(&segment);
        assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
        assert!(
            !left,
            "{at:?}: {segment} left in /dev/shm: {}",
            stderr(&next)
        );
        assert!(p.temp_dirs().is_empty(), "{at:?}: {:?}", p.temp_dirs());
    }
}

#[test]
fn a_harness_killed_at_any_point_of_a_run_leaves_no_segment() {
    use std::io::BufRead;
    let py = cpython();
    let p = Private::new();
    // Kill at the Nth role a run of the whole catalogue starts (`-v` says
    // each command line as it starts it).
    for n in [1, 4, 9, 16, 25, 40] {
        let mut child = p
            .cmd()
            .args(["-v", "run", "--python", arg(&py), "--scenario", "all"])
            .args(["--variant", "all", "--start-method", "all", "--jobs", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut names = std::collections::BTreeSet::new();
        let mut roles = 0;
        for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if !line.trim_start().starts_with("$ ") || !line.contains("roles.py") {
                continue;
            }
            names.extend(
                line.split_whitespace()
                    .filter(|w| w.starts_with("shmh"))
                    .map(String::from),
            );
            roles += 1;
            if roles == n {
                break;
            }
        }
        sigkill(child);
        let next = p
            .cmd()
            .args(["run", "--quiet", "--python", arg(&py), "--variant", "stock"])
            .args(["--scenario", "three-process"])
            .output()
            .unwrap();
        assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
        let left: Vec<String> = names
            .iter()
            .flat_map(|s| [s.clone(), format!("{s}_m1"), format!("{s}_m2")])
            .filter(|s| crate::util::segment_exists(s))
            .collect();
        for s in &left {
            crate::util::remove_segment(s);
        }
        assert!(
            left.is_empty(),
            "killed at role {n}: {left:?} left in /dev/shm"
        );
        assert!(
            p.temp_dirs().is_empty(),
            "killed at role {n}: {:?}",
            p.temp_dirs()
        );
    }
}

/// `run --variant create-only --scenario three-process` on `py` with `p`'s
/// cache: (exit code, stdout, stderr).
fn create_only_run(p: &Private, py: &Path) -> (Option<i32>, String, String) {
    let out = p
        .cmd()
        .args(["run", "--python", arg(py), "--variant", "create-only"])
        .args(["--scenario", "three-process"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout, stderr(&out))
}

/// The one overlay in `p`'s cache.
fn cached_overlay(p: &Private) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(p.cache.path().join("shmharness/overlays"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

#[test]
fn a_changed_cache_entry_is_rebuilt_never_judged() {
    let py = cpython();
    let p = Private::new();
    let (code, out, err) = create_only_run(&p, &py);
    assert_eq!(code, Some(0), "{out}{err}");
    let file = cached_overlay(&p).join("multiprocessing/shared_memory.py");
    let stock = std::fs::read(installed_multiprocessing(&py).join("shared_memory.py")).unwrap();
    // The stock module over the cached fix, then an empty file.
    for (what, text) in [("the stock module", stock), ("an empty file", Vec::new())] {
        std::fs::write(&file, text).unwrap();
        let (code, out, err) = create_only_run(&p, &py);
        assert_eq!(
            code,
            Some(0),
            "{what} in the cache gave a verdict: {out}{err}"
        );
        assert!(!out.contains("FAIL"), "{what}: {out}");
        assert_eq!(
            err.matches("was changed since it was built (multiprocessing/shared_memory.py differs from its manifest): discarded and rebuilt").count(),
            1,
            "{what}: {err}"
        );
    }
    // Rebuilt and sound: the next run says nothing.
    let (code, _, err) = create_only_run(&p, &py);
    assert_eq!(code, Some(0));
    assert!(!err.contains("note:"), "{err}");
}

#[test]
fn a_half_built_cache_entry_is_rebuilt() {
    let py = cpython();
    let p = Private::new();
    let (code, out, err) = create_only_run(&p, &py);
    assert_eq!(code, Some(0), "{out}{err}");
    let entry = cached_overlay(&p);
    // What a build killed (or out of space) before its last write leaves.
    for marker in [".manifest", ".complete"] {
        let _ = std::fs::remove_file(entry.join(marker));
    }
    let (code, out, err) = create_only_run(&p, &py);
    assert_eq!(
        code,
        Some(0),
        "a half-built entry blocked the run: {out}{err}"
    );
    assert_eq!(
        cached_overlay(&p),
        entry,
        "rebuilt in place, nothing left beside it"
    );
    assert!(entry.join(".manifest").is_file());
    let (code, _, err) = create_only_run(&p, &py);
    assert_eq!(code, Some(0), "{err}");
}

/// inotify's IN_CREATE events, one at a time, until a process ends.
struct Creations {
    fd: i32,
    /// Readable once the process ends (pidfd_open).
    ended: i32,
    queue: std::collections::VecDeque<(i32, std::ffi::OsString)>,
}

impl Creations {
    fn new(pid: u32) -> Creations {
        // SAFETY: inotify_init1 and pidfd_open return new fds (checked).
        let (fd, ended) = unsafe {
            (
                libc::inotify_init1(libc::IN_CLOEXEC),
                libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32,
            )
        };
        assert!(fd >= 0 && ended >= 0, "inotify_init1 / pidfd_open");
        Creations {
            fd,
            ended,
            queue: Default::default(),
        }
    }

    /// Watch `dir` (its watch descriptor, -1 if it is gone).
    fn watch(&self, dir: &Path) -> i32 {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is NUL-terminated; `fd` is an inotify fd.
        unsafe { libc::inotify_add_watch(self.fd, c.as_ptr(), libc::IN_CREATE) }
    }

    /// The next (watch, name) created, or `None` once the process ended.
    fn next(&mut self) -> Option<(i32, std::ffi::OsString)> {
        use std::os::unix::ffi::OsStrExt;
        while self.queue.is_empty() {
            let mut fds = [self.fd, self.ended].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            let mut buf = [0u8; 4096];
            // SAFETY: poll and read on our fds, into buffers of their size.
            let n = unsafe {
                libc::poll(fds.as_mut_ptr(), 2, -1);
                if fds[0].revents == 0 {
                    return None;
                }
                libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()).max(0) as usize
            };
            let mut at = 0;
            while at + 16 <= n {
                let field = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().unwrap());
                let (wd, len) = (field(at) as i32, field(at + 12) as usize);
                let name = &buf[at + 16..at + 16 + len];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(len)];
                self.queue
                    .push_back((wd, std::ffi::OsStr::from_bytes(name).to_os_string()));
                at += 16 + len;
            }
        }
        self.queue.pop_front()
    }
}

impl Drop for Creations {
    fn drop(&mut self) {
        // SAFETY: both fds are ours.
        unsafe {
            libc::close(self.fd);
            libc::close(self.ended);
        }
    }
}

/// Spawn `cmd`, and SIGKILL it while it writes into a directory whose name
/// starts with `prefix` that it made in `dir`: at the first file it
/// creates there (inotify, no clock). Returns that directory, or `None`
/// when `cmd` ended first.
fn kill_while_it_fills(
    dir: &Path,
    prefix: &str,
    cmd: &mut std::process::Command,
) -> Option<PathBuf> {
    let mut child = cmd.spawn().unwrap();
    let mut events = Creations::new(child.id());
    let top = events.watch(dir);
    let (mut staging, mut inner, mut killed) = (None, -2, false);
    while let Some((wd, name)) = events.next() {
        if wd == top && staging.is_none() && name.to_string_lossy().starts_with(prefix) {
            let made = dir.join(name);
            inner = events.watch(&made);
            staging = Some(made);
        } else if wd == inner {
            killed = child.kill().is_ok();
            break;
        }
    }
    child.wait().unwrap();
    staging.filter(|_| killed)
}

#[test]
fn a_report_force_killed_while_it_writes_leaves_no_staging_dir() {
    let py = cpython();
    let p = Private::new();
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("bundle");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.txt"), "the previous bundle").unwrap();
    // Killed while it writes the new bundle beside the old one (again if
    // the write won the race and finished first).
    let staged = (0..20).find_map(|_| {
        let mut report = p.cmd();
        report
            .args([
                "report",
                "--quiet",
                "--force",
                "--no-cpython-tests",
                "--out",
                arg(&out),
            ])
            .args(["--python", arg(&py), "--scenario", "three-process"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        kill_while_it_fills(parent.path(), ".bundle.tmp-", &mut report).filter(|s| s.exists())
    });
    let staged = staged.expect("never killed while staging");
    let (code, said, err) = p.clean();
    assert_eq!(code, 0, "{err}");
    assert!(!staged.exists(), "{} left: {said}", staged.display());
    assert!(
        said.contains("removed what 1 run killed earlier left"),
        "{said}"
    );
    assert!(
        out.join("old.txt").exists() || out.join("report.md").exists(),
        "the bundle is gone"
    );
}

#[test]
fn a_tmpdir_or_cache_dir_others_can_write_is_refused() {
    let py = cpython();
    let p = Private::new();
    let open = tempfile::tempdir().unwrap();
    chmod(open.path(), 0o777);
    let run = |env: (&str, &Path), extra: &[&str]| {
        let out = p
            .cmd()
            .env(env.0, env.1)
            .args(["run", "--quiet", "--python", arg(&py), "--variant", "stock"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), stderr(&out))
    };
    let (code, err) = run(("TMPDIR", open.path()), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("refusing TMPDIR {}", open.path().display())),
        "{err}"
    );
    assert!(err.contains("mode 0777"), "{err}");
    assert_eq!(
        std::fs::read_dir(open.path()).unwrap().count(),
        0,
        "wrote into it"
    );
    let (code, err) = run(("XDG_CACHE_HOME", open.path()), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("refusing the cache dir") && err.contains("mode 0777"),
        "{err}"
    );
    assert!(err.contains("--no-cache"), "{err}");
    let (code, err) = run(("XDG_CACHE_HOME", open.path()), &["--no-cache"]);
    assert_eq!(code, Some(0), "{err}");
    // Sticky, like /tmp: nobody can replace another's entries.
    chmod(open.path(), 0o1777);
    let (code, err) = run(("TMPDIR", open.path()), &[]);
    assert_eq!(code, Some(0), "{err}");
}
