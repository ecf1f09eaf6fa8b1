//! Issue 6: discovery in fake HOME trees. Every source's layout is built
//! under a temp dir with links to a real interpreter (so real probes run)
//! and `#!/bin/sh` fakes that print canned probe answers; the
//! binary runs with HOME, PATH, XDG_* and the system/Homebrew test hooks
//! pointed there, so nothing on the machine leaks in.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::util::*;

/// A fake HOME plus the dirs the run may see.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `rel` -> `target` (parents created).
    fn link(&self, rel: &str, target: &Path) -> PathBuf {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, &p).unwrap();
        p
    }

    /// An executable `#!/bin/sh` script at `rel`.
    fn script(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// A fake interpreter answering the probe with canned JSON.
    fn fake_python(
        &self,
        rel: &str,
        version: [u32; 3],
        free_threaded: bool,
        debug: bool,
    ) -> PathBuf {
        let p = self.p(rel);
        let json = serde_json::json!({
            "implementation": "cpython",
            "version": version,
            "executable": p,
            "realpath": p,
            "prefix": p.parent().unwrap().parent().unwrap(),
            "debug": debug,
            "free_threaded": free_threaded,
            "multiprocessing": "/nonexistent/lib/multiprocessing",
            "shared_memory": true,
        });
        self.script(
            rel,
            &format!("printf '%s\\n' '@@SHMHARNESS-PROBE@@{json}@@END@@'"),
        )
    }

    fn cache_file(&self) -> PathBuf {
        self.p("cache/shmharness/probes.json")
    }

    /// `shmharness list` in this HOME with a hermetic env.
    fn list_cmd(&self, path: &[&Path]) -> assert_cmd::Command {
        std::fs::create_dir_all(self.p("sys")).unwrap();
        std::fs::create_dir_all(self.p("brew")).unwrap();
        let path = std::env::join_paths(path).unwrap();
        let mut cmd = bin();
        cmd.env_clear()
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env("PATH", path)
            .env("XDG_CACHE_HOME", self.p("cache"))
            .env("SHMHARNESS_SYSTEM_DIRS", self.p("sys"))
            .env("SHMHARNESS_HOMEBREW_ROOTS", self.p("brew"))
            .arg("list");
        cmd
    }

    /// `shmharness list ARGS --format json` in this HOME with a hermetic env.
    fn list(&self, args: &[&str], path: &[&Path]) -> (i32, Value, String) {
        let out = self
            .list_cmd(path)
            .args(args)
            .args(["--format", "json"])
            // Generous unless a test sets its own: a cold probe of a real
            // interpreter on a loaded machine must not be cut off.
            .args(if args.contains(&"--probe-timeout") {
                &[][..]
            } else {
                &["--probe-timeout", "60"][..]
            })
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), json, stderr)
    }
}

fn interpreters(json: &Value) -> Vec<&Value> {
    json["interpreters"].as_array().unwrap().iter().collect()
}

fn rejected(json: &Value) -> Vec<&Value> {
    json["rejected"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn by_id<'a>(json: &'a Value, id: &str) -> &'a Value {
    interpreters(json)
        .into_iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no interpreter {id} in {json:#}"))
}

fn rejection<'a>(json: &'a Value, path: &Path) -> &'a Value {
    rejected(json)
        .into_iter()
        .find(|r| r["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not rejected in {json:#}", path.display()))
}

/// Every source's layout in one fake HOME. One real interpreter (in the
/// pyenv tree) is probed for real; the others are fakes with canned probe
/// answers and versions no real interpreter has (x.y.99), so the test
/// needs one CPython, whichever it is.
#[test]
fn every_source_in_a_fake_home_is_listed_once_with_its_source() {
    let real = any_python();
    let h = Home::new();
    let l = lay_out_every_source(&h, &real);
    let path = [h.p("bin"), h.p(".pyenv/shims"), h.p("sys")];
    let path: Vec<&Path> = path.iter().map(PathBuf::as_path).collect();

    let (code, json, stderr) = h.list(&["--all"], &path);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let real_id = real.version.clone()
        + if real.free_threaded { "t" } else { "" }
        + if real.debug { "d" } else { "" };
    check_each_source_once(&json, &h, &real, &real_id);
    // Rejected with reasons; uv's dot-dirs are not candidates.
    assert!(
        rejection(&json, &l.broken)["reason"]
            .as_str()
            .unwrap()
            .contains("broken symlink"),
        "{json:#}"
    );
    let r = rejection(&json, &l.shim);
    assert_eq!(r["source"], "PATH");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("exit 127") && reason.contains("python3.9: command not found"),
        "{reason}"
    );
    assert!(!json.to_string().contains("/.cache/"), "{json:#}");
    // Scripts (the fakes, the shim) are never cached; real binaries are.
    let cache = std::fs::read_to_string(h.cache_file()).unwrap();
    for f in l.fakes.iter().chain([&l.shim]) {
        assert!(!cache.contains(arg(f)), "{} cached: {cache}", f.display());
    }
    assert!(
        cache.contains(arg(&l.pyenv_real)) || cache.contains(real.arg()),
        "the real interpreter is not cached: {cache}"
    );

    // Without --all the shim is not even started (it would only add an
    // alias or a failure); the interpreters are the same.
    let (code, quick, _) = h.list(&[], &path);
    assert_eq!(code, 0);
    assert_eq!(interpreters(&quick).len(), interpreters(&json).len());
}

/// What [`lay_out_every_source`] made.
struct Layout {
    pyenv_real: PathBuf,
    shim: PathBuf,
    broken: PathBuf,
    fakes: Vec<PathBuf>,
}

/// Every source's layout in `h`: the real interpreter under pyenv, fakes
/// everywhere else, a failing shim, a broken link and duplicate links.
fn lay_out_every_source(h: &Home, real: &Py) -> Layout {
    let minor = real.minor_str();
    // pyenv: the real interpreter in a version dir, plus a shim that fails
    // the way pyenv's do for a version that is not selected.
    let pyenv_real = h.link(
        &format!(".pyenv/versions/{}/bin/python{minor}", real.version),
        &real.exe,
    );
    let shim = h.script(
        ".pyenv/shims/python3.9",
        "echo 'pyenv: python3.9: command not found' >&2\necho >&2\necho \"The \\`python3.9' command exists in these Python versions:\" >&2\nexit 127",
    );
    // uv: the real layout, uv's own dot-dirs, a free-threaded build and a
    // broken link.
    let uv = ".local/share/uv/python";
    let uv310 = h.fake_python(
        &format!("{uv}/cpython-3.10.99-linux-x86_64-gnu/bin/python3.10"),
        [3, 10, 99],
        false,
        false,
    );
    std::fs::create_dir_all(h.p(&format!("{uv}/.cache/bin"))).unwrap();
    let uv313t = h.fake_python(
        &format!("{uv}/cpython-3.13.99+freethreaded-linux-x86_64-gnu/bin/python3.13t"),
        [3, 13, 99],
        true,
        false,
    );
    let broken = h.link(
        &format!("{uv}/cpython-3.12.9-linux-x86_64-gnu/bin/python3.12"),
        Path::new("/nonexistent/python3.12"),
    );
    // asdf, mise (with mise's `3.12 -> 3.12.99` directory link: a
    // duplicate), conda (base and a debug build in an env), Homebrew, and
    // the system dir.
    let fakes = [
        h.fake_python(
            ".asdf/installs/python/3.9.99/bin/python3.9",
            [3, 9, 99],
            false,
            false,
        ),
        h.fake_python(
            ".local/share/mise/installs/python/3.12.99/bin/python3.12",
            [3, 12, 99],
            false,
            false,
        ),
        h.fake_python("miniconda3/bin/python3.8", [3, 8, 99], false, false),
        h.fake_python(
            "miniconda3/envs/dbg/bin/python3.13",
            [3, 13, 99],
            false,
            true,
        ),
        h.fake_python("brew/python@3.13/bin/python3.13", [3, 13, 99], false, false),
        h.fake_python("sys/python3.11", [3, 11, 99], false, false),
        uv310.clone(),
        uv313t,
    ];
    h.link(
        ".local/share/mise/installs/python/3.12",
        Path::new("3.12.99"),
    );
    // A PATH dir whose python3 leads to uv's 3.10.
    h.link("bin/python3", &uv310);
    Layout {
        pyenv_real,
        shim,
        broken,
        fakes: fakes.to_vec(),
    }
}

/// Each interpreter listed once, with its source, its build, and its
/// duplicates as aliases.
fn check_each_source_once(json: &Value, h: &Home, real: &Py, real_id: &str) {
    let want = [
        ("3.8.99", "conda"),
        ("3.9.99", "asdf"),
        ("3.10.99", "uv"),
        (real_id, "pyenv"),
        ("3.11.99", "system"),
        ("3.12.99", "mise"),
        ("3.13.99", "homebrew"),
        ("3.13.99t", "uv"),
        ("3.13.99d", "conda"),
    ];
    for (id, source) in want {
        let i = by_id(json, id);
        assert_eq!(i["source"], source, "{id}: {i:#}");
        assert!(
            i["executable"].is_string() && i["version"].is_string(),
            "{i:#}"
        );
        assert!(i.get("reason").is_none(), "{i:#}");
    }
    assert_eq!(
        interpreters(json).len(),
        want.len(),
        "each interpreter once: {json:#}"
    );
    // The real one was really probed: its real executable.
    assert_eq!(by_id(json, real_id)["executable"], real.arg());
    // Labels tell the builds apart.
    assert_eq!(by_id(json, "3.13.99t")["free_threaded"], true);
    assert_eq!(by_id(json, "3.13.99d")["debug"], true);
    // Duplicates are aliases: the PATH link to uv's 3.10, mise's dir link.
    let aliases = |id: &str| -> Vec<(String, String)> {
        by_id(json, id)["aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| {
                        (
                            a["path"].as_str().unwrap().to_string(),
                            a["source"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        aliases("3.10.99").contains(&(h.p("bin/python3").display().to_string(), "PATH".into())),
        "{json:#}"
    );
    let mise_link = h.p(".local/share/mise/installs/python/3.12/bin/python3.12");
    assert!(
        aliases("3.12.99").contains(&(mise_link.display().to_string(), "mise".into())),
        "{json:#}"
    );
}

#[test]
fn sitecustomize_and_pth_output_do_not_break_the_probe() {
    let py = any_python();
    let h = Home::new();
    // A venv is a real prefix with its own site-packages, which `-I` still
    // reads (it drops only the environment and the user site).
    let venv = h.p("miniconda3/envs/noisy");
    let ok = std::process::Command::new(&py.exe)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success());
    let site = venv.join(format!("lib/python{}/site-packages", py.minor_str()));
    // Noise before the probe's answer (a fake answer end marker, a fake
    // version) and after it (a start marker at exit). As sitecustomize.py,
    // and imported from a .pth too: Debian's stdlib has a sitecustomize of
    // its own that shadows a venv's.
    let noise = "import atexit\nprint('sitecustomize says {\"version\": [9, 9, 9]} @@END@@')\n\
         atexit.register(lambda: print('@@SHMHARNESS-PROBE@@ at exit'))\n";
    std::fs::write(site.join("sitecustomize.py"), noise).unwrap();
    std::fs::write(site.join("shmh_noise.py"), noise).unwrap();
    std::fs::write(
        site.join("noisy.pth"),
        "import sys; sys.stdout.write('pth junk @@SHMHARNESS-PROBE@@ {\\n')\nimport shmh_noise\n",
    )
    .unwrap();
    // The noise really is printed under -I.
    let out = std::process::Command::new(venv.join("bin/python3"))
        .args(["-I", "-c", "pass"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("sitecustomize says") && said.contains("pth junk"),
        "{said}"
    );

    let (code, json, stderr) = h.list(&["--all", "--no-cache"], &[]);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let i = by_id(&json, &py.version);
    assert_eq!(i["source"], "conda");
    assert_eq!(i["prefix"], venv.to_str().unwrap());
}

/// `--python SOURCE:VERSION` selects by both: the same minor version in
/// two sources is told apart, and a source that lacks the version is an
/// error even when another source has it (issue 22, M9: a selection that
/// ignored the source picked pyenv's interpreter for `system:`).
#[test]
fn a_source_version_spec_selects_by_the_source_too() {
    let h = Home::new();
    h.fake_python("sys/python3.11", [3, 11, 99], false, false);
    h.fake_python(
        ".pyenv/versions/3.11.98/bin/python3.11",
        [3, 11, 98],
        false,
        false,
    );
    h.fake_python(
        ".pyenv/versions/3.12.97/bin/python3.12",
        [3, 12, 97],
        false,
        false,
    );
    let listed = |spec: &str| -> Vec<(String, String)> {
        let (code, json, stderr) = h.list(&["--python", spec], &[]);
        assert_eq!(code, 0, "{spec}: {stderr}");
        interpreters(&json)
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().into(),
                    i["source"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let one = |id: &str, source: &str| vec![(id.to_string(), source.to_string())];
    assert_eq!(listed("system:3.11"), one("3.11.99", "system"));
    assert_eq!(listed("pyenv:3.11"), one("3.11.98", "pyenv"));
    assert_eq!(listed("pyenv:3.11.98"), one("3.11.98", "pyenv"));
    assert_eq!(listed("3.11").len(), 2);
    // pyenv has a 3.12, the system dir has not.
    let out = h
        .list_cmd(&[])
        .args(["--python", "system:3.12"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("system:3.12") && stderr.contains("matches none"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_candidates_are_rejected_with_reasons_and_do_not_stall_the_listing() {
    let h = Home::new();
    let failing = h.script(
        "uv/cpython-3.12.0-linux-x86_64-gnu/bin/python3.12",
        "echo 'Fatal Python error: init_fs_encoding: failed to get the Python codec' >&2\nexit 1",
    );
    let traceback = h.script(
        "uv/cpython-3.12.1-linux-x86_64-gnu/bin/python3.12",
        "printf 'Traceback (most recent call last):\\n  File \"x\", line 1\\nImportError: no site\\n' >&2\nexit 1",
    );
    let hanging = Hang::new();
    let hangs = h.script(
        "uv/cpython-3.12.2-linux-x86_64-gnu/bin/python3.12",
        &hanging.body(false),
    );
    let floods = h.script(
        "uv/cpython-3.12.3-linux-x86_64-gnu/bin/python3.12",
        "/usr/bin/head -c 30000000 /dev/zero | /usr/bin/tr '\\0' x",
    );
    let garbage = h.script(
        "uv/cpython-3.12.4-linux-x86_64-gnu/bin/python3.12",
        "echo hello",
    );
    let dir = h.p("uv/cpython-3.12.5-linux-x86_64-gnu/bin/python3");
    std::fs::create_dir_all(&dir).unwrap();
    let good = h.fake_python(
        "uv/cpython-3.12.6-linux-x86_64-gnu/bin/python3.12",
        [3, 12, 6],
        false,
        false,
    );

    let out = bin()
        .env_clear()
        .env("HOME", h.dir.path())
        .env("UV_PYTHON_INSTALL_DIR", h.p("uv"))
        .env("XDG_CACHE_HOME", h.p("cache"))
        .env("SHMHARNESS_SYSTEM_DIRS", "")
        .env("SHMHARNESS_HOMEBREW_ROOTS", "")
        // Generous, so that the good fake and the flood are answered under
        // any load; the hang (until killed) is certain to reach it.
        .args(["list", "--all", "--format", "json", "--probe-timeout", "15"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    // What is tested: the hanging probe was cut off, not waited for.
    hanging.assert_killed_with_its_group();
    assert_eq!(by_id(&json, "3.12.6")["executable"], good.to_str().unwrap());
    let reason = |p: &Path| rejection(&json, p)["reason"].as_str().unwrap().to_string();
    let r = reason(&failing);
    assert!(
        r.contains("exit 1") && r.contains("Fatal Python error"),
        "{r}"
    );
    assert!(
        reason(&traceback).contains("ImportError: no site"),
        "{json:#}"
    );
    assert!(reason(&hangs).contains("timed out"), "{json:#}");
    assert!(reason(&floods).contains("no answer"), "{json:#}");
    assert!(reason(&garbage).contains("no answer"), "{json:#}");
    assert!(reason(&dir).contains("directory"), "{json:#}");
}

/// Rewrite `path` with `bytes` and give it back its old mtime.
fn replace_keeping_mtime(path: &Path, bytes: &[u8], mtime: SystemTime) {
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(mtime).unwrap();
}

#[test]
fn cache_hits_start_nothing_and_go_stale_when_the_file_changes() {
    let py = any_python();
    let id = py.version.as_str();
    let h = Home::new();
    // A copy of the real binary (in a prefix that links the real stdlib),
    // so the test can change it without touching the real one.
    let exe = h.p(&format!(
        ".asdf/installs/python/{}/bin/python{}",
        py.version,
        py.minor_str()
    ));
    copy_interpreter(&py, &exe);
    let real = std::fs::read(&exe).unwrap();
    let mtime = std::fs::metadata(&exe).unwrap().modified().unwrap();

    // Miss: probed and cached.
    let (code, json, _) = h.list(&[], &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(by_id(&json, id)["source"], "asdf");
    assert!(h.cache_file().exists());

    // Hit: same path, mtime and size, but the bytes can no longer run.
    // Still listed, so no interpreter was started.
    replace_keeping_mtime(&exe, &vec![0u8; real.len()], mtime);
    let (code, json, _) = h.list(&[], &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(by_id(&json, id)["source"], "asdf");
    // ... and --no-cache does start it, and finds it broken.
    let (_, json, _) = h.list(&["--all", "--no-cache"], &[]);
    assert!(interpreters(&json).is_empty(), "{json:#}");
    assert!(
        rejection(&json, &exe)["reason"]
            .as_str()
            .unwrap()
            .contains("not an executable")
    );

    // Miss after the file changes (new mtime): probed again, rejected.
    let f = std::fs::File::options().write(true).open(&exe).unwrap();
    f.set_modified(mtime + Duration::from_secs(60)).unwrap();
    drop(f);
    let (code, json, _) = h.list(&["--all"], &[]);
    assert_eq!(code, 2, "{json:#}");
    assert!(
        rejection(&json, &exe)["reason"]
            .as_str()
            .unwrap()
            .contains("not an executable")
    );

    // A corrupt cache is ignored and rewritten.
    std::fs::write(&exe, &real).unwrap();
    std::fs::write(h.cache_file(), b"{\"truncated\": [").unwrap();
    let (code, json, stderr) = h.list(&[], &[]);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(by_id(&json, id)["source"], "asdf");
    let text = std::fs::read(h.cache_file()).unwrap();
    let cache: Value = serde_json::from_slice(&text).expect("cache rewritten as JSON");
    assert!(cache.to_string().contains(arg(&exe)), "{cache}");
}
