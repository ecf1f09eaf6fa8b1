//! Outputs (`--json`, `--junit`, `--out`/`--report`, `-`) that would lose
//! data or fail only after the whole run. Each destination is resolved and
//! checked before any work: the current directory (or a folder holding it)
//! as a bundle, a mount point, two outputs on one file or on stdout, a file
//! inside the bundle, a symlink loop. Each test failed on the code before.
//!
//! "Before any work" is seen by a wrapper interpreter that writes a marker
//! and then execs a real CPython: a refusal leaves no marker. The mount
//! tests need root: they are `#[ignore]`d, and `.ci/run` (root) runs them
//! with `--include-ignored`.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::util::{Fakes, any_python, arg, bin, require_root};

/// A real CPython behind a script that records that it was started.
struct Wrapped {
    fakes: Fakes,
    exe: PathBuf,
    marker: PathBuf,
}

impl Wrapped {
    fn new() -> Wrapped {
        let fakes = Fakes::new();
        let marker = fakes.dir.path().join("started");
        let real = any_python().exe;
        let exe = fakes.script(
            "python3",
            &format!(
                "echo started >> '{}'\nexec '{}' \"$@\"",
                marker.display(),
                real.display()
            ),
        );
        Wrapped { fakes, exe, marker }
    }

    fn started(&self) -> bool {
        self.marker.exists()
    }
}

/// `COMMAND --quiet --python PY --scenario three-process --variant stock
/// --jobs 1 ARGS...`, run in `cwd`.
fn small(command: &str, py: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .current_dir(cwd)
        .args([command, "--quiet", "--python", arg(py)])
        .args([
            "--scenario",
            "three-process",
            "--variant",
            "stock",
            "--jobs",
            "1",
        ])
        .args(args)
        .output()
        .unwrap()
}

/// Exit 2 and one line on stderr (`error: ...`), returned.
fn one_line_error(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// Every entry under `dir` (hidden ones, folders and links too): its kind
/// and mode, and a file's bytes or a link's target. Equal before and after
/// means nothing changed.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode();
            let what = if m.file_type().is_symlink() {
                format!(
                    "link {mode:o} {}",
                    std::fs::read_link(&p).unwrap().display()
                )
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {mode:o}")
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                format!("file {mode:o} {}", String::from_utf8_lossy(&bytes))
            };
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    out
}

/// The names in `dir`, hidden ones too.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// A mount, undone when dropped (also when the test fails).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path) -> Mount {
        // SAFETY: valid NUL-terminated strings; a null data pointer is allowed.
        let rc = unsafe {
            libc::mount(
                c"none".as_ptr(),
                c(at).as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "mount tmpfs on {}", at.display());
        Mount(at.to_path_buf())
    }

    fn bind(from: &Path, at: &Path) -> Mount {
        // SAFETY: as above; a bind mount ignores the type.
        let rc = unsafe {
            libc::mount(
                c(from).as_ptr(),
                c(at).as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "bind {} on {}", from.display(), at.display());
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::umount2(c(&self.0).as_ptr(), libc::MNT_DETACH) };
    }
}

/// Issue 1: `--out ../work --force` run from `work` renamed the current
/// directory aside mid-write, then resolved `../work` from inside it: the
/// user's files ended in `.work.old-*/old`, the bundle in `.work.tmp-*`,
/// exit 2. The current directory, and every folder holding it, is refused
/// before any work, however it is spelled.
#[test]
fn a_bundle_over_the_current_directory_or_a_folder_holding_it_is_refused_before_any_work() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    let work = top.path().join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::write(work.join("notes.txt"), "precious").unwrap();
    let before = tree(top.path());
    let sub = work.join("sub");
    let abs_top = arg(top.path()).to_string();
    for (cwd, out) in [
        (&work, "../work"),
        (&work, "."),
        (&work, "./"),
        (&work, arg(&work)),
        (&sub, ".."),
        (&sub, "../sub/"),
        (&sub, abs_top.as_str()),
    ] {
        let o = small("report", &py.exe, cwd, &["--out", out, "--force"]);
        let err = one_line_error(&o);
        assert!(err.contains("refusing to replace the"), "{out}: {err}");
        assert!(err.contains("current directory"), "{out}: {err}");
        assert!(!py.started(), "{out}: refused only after the run started");
        assert_eq!(tree(top.path()), before, "{out}: something changed");
    }
    drop(py.fakes);
}

/// Issue 2a: a bundle `--out` that is a mount point failed with EBUSY after
/// the run. It is refused before any work; a folder inside it works.
#[test]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it as root)"]
fn a_mount_point_bundle_is_refused_before_any_work() {
    require_root("mount a tmpfs");
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    let mnt = top.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mount = Mount::tmpfs(&mnt);
    let before = tree(top.path());
    for force in [&[][..], &["--force"][..]] {
        let o = small(
            "report",
            &py.exe,
            top.path(),
            &[&["--out", "mnt"][..], force].concat(),
        );
        let err = one_line_error(&o);
        assert!(
            err.contains("mnt: it is a mount point") && err.contains("name a folder inside it"),
            "{err}"
        );
        assert!(!py.started());
        assert_eq!(tree(top.path()), before);
    }
    // With something in it, --force does not empty it either.
    std::fs::write(mnt.join("keep.txt"), "mine").unwrap();
    let before = tree(top.path());
    let o = small("report", &py.exe, top.path(), &["--out", "mnt", "--force"]);
    one_line_error(&o);
    assert_eq!(tree(top.path()), before);
    // A folder inside it is an ordinary bundle.
    let o = small("report", &py.exe, top.path(), &["--out", "mnt/rep"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(mnt.join("rep/results.json").is_file());
    assert_eq!(names(&mnt), ["keep.txt", "rep"]);
    drop(mount);
    assert_eq!(names(top.path()), ["mnt"]);
}

/// Issue 2d: a `--json` file that is a bind mount could not be renamed over
/// (EBUSY) after the run. It is written in place: the mounted file gets the
/// JSON, the file under the mount is untouched, no temp file is left.
#[test]
#[ignore = "needs root: bind-mounts a file (.ci/run runs it as root)"]
fn a_bind_mounted_json_file_is_written_in_place() {
    require_root("bind-mount a file");
    let py = any_python();
    let top = tempfile::tempdir().unwrap();
    let (a, b) = (top.path().join("a.json"), top.path().join("b.json"));
    std::fs::write(
        &a,
        "a: a long old text, longer than nothing at all ".repeat(500),
    )
    .unwrap();
    std::fs::write(&b, "under the mount").unwrap();
    let mount = Mount::bind(&a, &b);
    let o = small("run", &py.exe, top.path(), &["--json", "b.json"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&b).unwrap())
        .expect("b.json is the results, whole (the old longer text truncated)");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(names(top.path()), ["a.json", "b.json"]);
    drop(mount);
    // Unmounted: the bound file (a.json) is the one written; the file the
    // mount covered is as it was.
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    assert_eq!(written, json);
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "under the mount");
}

/// Issue 2c: `--out linkdir/` (a symlink to a folder, with a slash) failed
/// with ENOTDIR after the run; without the slash it worked. Both are the
/// link: the bundle lands in its target, the link stays. A file output
/// ending in `/` is refused before any work.
#[test]
fn a_trailing_slash_names_the_same_bundle_and_no_file() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    let real = top.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink("real", top.path().join("linkdir")).unwrap();
    let before = tree(top.path());
    for out in ["new.json/", "real/x.json/"] {
        let o = small("run", &py.exe, top.path(), &["--json", out]);
        let err = one_line_error(&o);
        assert!(err.contains("a file name cannot end in `/`"), "{err}");
        assert!(!py.started());
        assert_eq!(tree(top.path()), before);
    }
    let o = small("report", &py.exe, top.path(), &["--out", "linkdir/"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(real.join("results.json").is_file());
    assert_eq!(
        std::fs::read_link(top.path().join("linkdir")).unwrap(),
        Path::new("real")
    );
    assert_eq!(names(top.path()), ["linkdir", "real"]);
}

/// Issue 3: `--json same.out --junit same.out` was accepted and the JSON
/// lost; `--json - --junit -` wrote JSON then XML on stdout. Two outputs
/// naming one file (however spelled: a link, `..`, `/dev/stdout` for `-`)
/// are refused before any work.
#[test]
fn two_outputs_naming_the_same_file_are_refused_before_any_work() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir(top.path().join("sub")).unwrap();
    std::fs::write(top.path().join("a.json"), "old").unwrap();
    std::os::unix::fs::symlink("a.json", top.path().join("link.json")).unwrap();
    let before = tree(top.path());
    for (json, junit, says) in [
        ("same.out", "same.out", "name the same file"),
        ("./same.out", "sub/../same.out", "name the same file"),
        ("a.json", "link.json", "name the same file"),
        ("-", "-", "both write to stdout"),
        ("/dev/stdout", "-", "both write to stdout"),
    ] {
        let o = small(
            "run",
            &py.exe,
            top.path(),
            &["--json", json, "--junit", junit],
        );
        let err = one_line_error(&o);
        assert!(
            err.contains(&format!("--json {json} and --junit {junit} {says}")),
            "{err}"
        );
        assert!(o.stdout.is_empty());
        assert!(
            !py.started(),
            "{json} {junit}: refused after the run started"
        );
        assert_eq!(tree(top.path()), before);
    }
}

/// Issue 4: `run --json -` printed the table after the JSON on stdout (with
/// -q too), so stdout was not JSON. A `-` output has stdout to itself: the
/// table goes to stderr (nowhere with -q); `--format markdown` or `json`
/// with a `-` output is refused before any work.
#[test]
fn a_dash_output_has_stdout_to_itself() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    for (flag, format) in [
        ("--json", "markdown"),
        ("--json", "json"),
        ("--junit", "markdown"),
    ] {
        let o = small("run", &py.exe, top.path(), &[flag, "-", "--format", format]);
        let err = one_line_error(&o);
        assert!(
            err.contains(&format!(
                "{flag} - and --format {format} both write to stdout"
            )),
            "{err}"
        );
        assert!(o.stdout.is_empty());
        assert!(!py.started());
    }
    assert!(names(top.path()).is_empty());
    let o = small("run", &py.exe, top.path(), &["--json", "-"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON alone");
    assert_eq!(json["schema_version"], 1);
    assert!(o.stderr.is_empty(), "-q: no table anywhere");
    // Without -q the table is on stderr.
    let o = bin()
        .current_dir(top.path())
        .args([
            "run",
            "--python",
            arg(&py.exe),
            "--scenario",
            "three-process",
        ])
        .args(["--variant", "stock", "--jobs", "1", "--junit", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with("<?xml") && !stdout.contains("interpreter  source"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("interpreter  source"), "{stderr}");
    assert!(names(top.path()).is_empty());
}

/// Issue 5: `merge --json mrep/extra.json --report mrep --force` exited 0
/// and the bundle replaced mrep with extra.json in it; without --force the
/// tool's own JSON made mrep "not empty". A file output inside the bundle
/// (named there, or through a link there) is refused before anything is
/// read or written.
#[test]
fn a_file_output_inside_the_bundle_is_refused_before_any_work() {
    let py = any_python();
    let top = tempfile::tempdir().unwrap();
    let o = small("run", &py.exe, top.path(), &["--json", "leg.json"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    std::fs::create_dir(top.path().join("mrep")).unwrap();
    std::fs::create_dir(top.path().join("elsewhere")).unwrap();
    let merge = |args: &[&str]| {
        bin()
            .current_dir(top.path())
            .args(["merge", "--quiet", "leg.json"])
            .args(args)
            .output()
            .unwrap()
    };
    // An empty mrep, no --force.
    let before = tree(top.path());
    let o = merge(&["--json", "mrep/extra.json", "--report", "mrep"]);
    let err = one_line_error(&o);
    assert!(
        err.contains(
            "--json mrep/extra.json is inside the bundle mrep, which is replaced as a whole; \
             the bundle has results.json and junit.xml already"
        ),
        "{err}"
    );
    assert_eq!(tree(top.path()), before);
    // A full mrep, --force.
    std::fs::write(top.path().join("mrep/old.md"), "old").unwrap();
    // A link in mrep to a file outside: the link goes with the bundle.
    std::fs::write(top.path().join("elsewhere/x.xml"), "mine").unwrap();
    std::os::unix::fs::symlink("../elsewhere/x.xml", top.path().join("mrep/link.xml")).unwrap();
    let before = tree(top.path());
    for args in [
        &["--json", "mrep/extra.json", "--report", "mrep", "--force"][..],
        &[
            "--junit",
            "elsewhere/../mrep/j.xml",
            "--report",
            "mrep/",
            "--force",
        ][..],
        &["--junit", "mrep/link.xml", "--report", "mrep", "--force"][..],
        &["--report", "mrep", "--json", "mrep/extra.json", "--force"][..],
    ] {
        let err = one_line_error(&merge(args));
        assert!(err.contains("is inside the bundle mrep"), "{args:?}: {err}");
        assert_eq!(tree(top.path()), before, "{args:?}");
    }
    // Outside it, all three are written.
    let o = merge(&["--json", "out.json", "--report", "mrep", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(top.path().join("out.json").is_file());
    assert!(top.path().join("mrep/results.json").is_file());
}

/// Issue 6a: a symlink loop was "a symlink to loopb, which does not exist".
#[test]
fn a_symlink_loop_is_named_as_one() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("loopb", top.path().join("loopa")).unwrap();
    std::os::unix::fs::symlink("loopa", top.path().join("loopb")).unwrap();
    let before = tree(top.path());
    for (cmd, flag, path, says) in [
        (
            "run",
            "--json",
            "loopa",
            "loopa: it is a symlink loop (loopa -> loopb -> loopa)",
        ),
        (
            "report",
            "--out",
            "loopb",
            "loopb: it is a symlink loop (loopb -> loopa -> loopb)",
        ),
        (
            "run",
            "--junit",
            "loopa/x.xml",
            "loopa/x.xml: loopa is a symlink loop",
        ),
    ] {
        let err = one_line_error(&small(cmd, &py.exe, top.path(), &[flag, path]));
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
        assert!(!py.started());
    }
    assert_eq!(tree(top.path()), before);
}

/// Issue 6b: replacing an existing --out folder reset its mode (700 became
/// 755). The new bundle keeps the old folder's permissions.
#[test]
fn a_replaced_bundle_folder_keeps_its_permissions() {
    let py = any_python();
    let top = tempfile::tempdir().unwrap();
    let empty = top.path().join("empty");
    let full = top.path().join("full");
    for (dir, mode) in [(&empty, 0o700), (&full, 0o750)] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::write(full.join("old.md"), "old").unwrap();
    for (dir, mode, force) in [(&empty, 0o700, false), (&full, 0o750, true)] {
        let mut args = vec!["--out", arg(dir)];
        if force {
            args.push("--force");
        }
        let o = small("report", &py.exe, top.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        assert!(dir.join("results.json").is_file());
        let got = std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "{}: {got:o}", dir.display());
    }
    assert!(!full.join("old.md").exists());
    assert_eq!(names(top.path()), ["empty", "full"]);
}

/// Issue 6c: a path with a newline or control characters broke "one line
/// on stderr". The path is shown escaped.
#[test]
fn a_path_with_control_characters_is_shown_on_one_line() {
    let py = Wrapped::new();
    let top = tempfile::tempdir().unwrap();
    for (cmd, flag, path, shown) in [
        ("run", "--json", "bad\nname/x.json", "bad\\nname/x.json"),
        ("run", "--junit", "tab\there/x.xml", "tab\\there/x.xml"),
        ("report", "--out", "esc\x1b[2J/b", "esc\\u{1b}[2J/b"),
    ] {
        let err = one_line_error(&small(cmd, &py.exe, top.path(), &[flag, path]));
        assert!(err.contains(&format!("cannot write {shown}")), "{err:?}");
        assert!(!py.started());
    }
    assert!(names(top.path()).is_empty());
}
