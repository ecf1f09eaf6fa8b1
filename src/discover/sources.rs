//! Where interpreters come from, in search order.
//!
//! Each candidate carries its [`Source`] so every output can say where it
//! was found. The order matters only for naming: when two candidates turn
//! out to be one interpreter (same real executable), the first source wins
//! and the others become aliases. Managed installs come before `PATH`
//! because a `PATH` entry is often a shim or a symlink into one of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

pub use crate::contract::Source;

/// A path that may be a Python, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: Source,
}

/// The environment discovery reads, captured once so tests can point it at
/// a fake HOME.
#[derive(Debug, Clone, Default)]
pub struct SearchEnv {
    pub home: Option<PathBuf>,
    pub path: Option<std::ffi::OsString>,
    pub pyenv_root: Option<PathBuf>,
    pub uv_python_dir: Option<PathBuf>,
    pub asdf_data_dir: Option<PathBuf>,
    pub mise_data_dir: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub conda_prefix: Option<PathBuf>,
    pub system_dirs: Vec<PathBuf>,
    pub homebrew_roots: Vec<PathBuf>,
    /// `$VIRTUAL_ENV`: the active virtual environment.
    pub virtual_env: Option<PathBuf>,
    /// The current directory, for its `.venv` (as uv looks for one).
    pub cwd: Option<PathBuf>,
    /// Where `.ci/newer-pythons` installs (`$SHMH_NEWER_PYTHONS`).
    pub newer_pythons: Option<PathBuf>,
}

impl SearchEnv {
    pub fn from_process() -> SearchEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        // Test hooks (undocumented in --help): the system and Homebrew
        // roots are absolute paths, so tests point them at a fake tree.
        // A colon-separated list; empty means none.
        let hook = |k: &str| std::env::var_os(k).map(|v| std::env::split_paths(&v).collect());
        let mut homebrew_roots: Vec<PathBuf> = Vec::new();
        if let Some(prefix) = var("HOMEBREW_PREFIX") {
            homebrew_roots.push(prefix.join("opt"));
        }
        for root in [
            "/opt/homebrew/opt",
            "/usr/local/opt",
            "/home/linuxbrew/.linuxbrew/opt",
        ] {
            if !homebrew_roots.iter().any(|r| r == Path::new(root)) {
                homebrew_roots.push(root.into());
            }
        }
        SearchEnv {
            home: var("HOME"),
            path: std::env::var_os("PATH"),
            pyenv_root: var("PYENV_ROOT"),
            uv_python_dir: var("UV_PYTHON_INSTALL_DIR"),
            asdf_data_dir: var("ASDF_DATA_DIR"),
            mise_data_dir: var("MISE_DATA_DIR"),
            xdg_data_home: var("XDG_DATA_HOME"),
            conda_prefix: var("CONDA_PREFIX"),
            system_dirs: hook("SHMHARNESS_SYSTEM_DIRS")
                .unwrap_or_else(|| vec!["/usr/bin".into(), "/usr/local/bin".into()]),
            homebrew_roots: hook("SHMHARNESS_HOMEBREW_ROOTS").unwrap_or(homebrew_roots),
            virtual_env: var("VIRTUAL_ENV"),
            cwd: std::env::current_dir().ok(),
            // The default is an absolute install dir like /usr/bin: the
            // SHMHARNESS_SYSTEM_DIRS test hook replaces it too.
            newer_pythons: var("SHMH_NEWER_PYTHONS").or_else(|| {
                std::env::var_os("SHMHARNESS_SYSTEM_DIRS")
                    .is_none()
                    .then(|| NEWER_PYTHONS_DIR.into())
            }),
        }
    }

    fn home(&self, rel: &str) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(rel))
    }

    /// `$XDG_DATA_HOME/rel`, else `~/.local/share/rel`.
    fn data_dir(&self, rel: &str) -> Option<PathBuf> {
        match &self.xdg_data_home {
            Some(d) => Some(d.join(rel)),
            None => self.home(".local/share").map(|d| d.join(rel)),
        }
    }
}

/// Where `.ci/newer-pythons` puts CPython 3.13.x, 3.14 and 3.15 (one
/// `3.X/bin/python3.X` each).
pub const NEWER_PYTHONS_DIR: &str = "/opt/shmharness-pythons";

/// `python3`, `python3.X`, `python3.Xt` (free-threaded), `python3.Xd` /
/// `python3.Xtd` (debug builds that install under their ABI name), and
/// `pypy3`, `pypy3.X` (probed and listed; run only with
/// `--implementation any`).
fn python_name() -> Regex {
    Regex::new(r"^(python3(\.\d+(t|d|td)?)?|pypy3(\.\d+)?)$").expect("valid regex")
}

/// A version manager's shim (`~/.pyenv/shims/python3`, `~/.asdf/shims`,
/// mise's `shims`): a script that picks an installed version by the
/// current directory and environment. The version it leads to is already
/// found in the manager's install tree, so a shim only adds an alias (or a
/// failure): shims are probed only when asked for (`list --all`, or a path
/// given with `--python`), and never cached.
pub fn is_shim(path: &Path) -> bool {
    path.parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "shims")
}

/// Every candidate, in search order. The same file may appear more than
/// once (a link and its target); grouping happens in `discover`.
pub fn candidates(env: &SearchEnv, explicit: &[PathBuf]) -> Vec<Candidate> {
    let names = python_name();
    let mut out = Vec::new();
    for path in explicit {
        out.push(Candidate {
            path: path.clone(),
            source: Source::Explicit,
        });
    }
    let mut seen_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    // The active venv first, then `./.venv` (uv's order): a venv runs as
    // itself, never as the base interpreter it links to.
    let mut venvs: Vec<PathBuf> = env.virtual_env.iter().map(|v| v.join("bin")).collect();
    if let Some(cwd) = &env.cwd {
        let local = cwd.join(".venv");
        if local.join("pyvenv.cfg").is_file() {
            venvs.push(local.join("bin"));
        }
    }
    let mut bin_dirs = |source: Source, dirs: Vec<PathBuf>| {
        for dir in dirs {
            // A directory listed twice (PATH often repeats one) is read once.
            if !seen_dirs.insert(dir.clone()) {
                continue;
            }
            for path in pythons_in(&dir, &names) {
                out.push(Candidate { path, source });
            }
        }
    };
    bin_dirs(Source::Venv, venvs);
    bin_dirs(
        Source::Shmharness,
        subdirs(env.newer_pythons.clone(), "bin"),
    );
    let pyenv = env.pyenv_root.clone().or_else(|| env.home(".pyenv"));
    bin_dirs(
        Source::Pyenv,
        subdirs(pyenv.map(|r| r.join("versions")), "bin"),
    );
    let uv = env
        .uv_python_dir
        .clone()
        .or_else(|| env.data_dir("uv/python"));
    // `cpython-3.12.1-linux-x86_64-gnu`, `cpython-3.13.0+freethreaded-...`,
    // `pypy-3.10.14-...`; uv's own `.lock`, `.cache`, `.temp` are skipped.
    bin_dirs(Source::Uv, subdirs_matching(uv, "", "bin"));
    let asdf = env.asdf_data_dir.clone().or_else(|| env.home(".asdf"));
    bin_dirs(
        Source::Asdf,
        subdirs(asdf.map(|r| r.join("installs/python")), "bin"),
    );
    let mise = env.mise_data_dir.clone().or_else(|| env.data_dir("mise"));
    bin_dirs(
        Source::Mise,
        subdirs(mise.map(|r| r.join("installs/python")), "bin"),
    );
    bin_dirs(Source::Conda, conda_dirs(env));
    let brew = env.homebrew_roots.iter().cloned().map(Some);
    bin_dirs(
        Source::Homebrew,
        brew.flat_map(|root| subdirs_matching(root, "python@3", "bin"))
            .collect(),
    );
    bin_dirs(Source::System, env.system_dirs.clone());
    if let Some(path) = &env.path {
        let system: BTreeSet<_> = env.system_dirs.iter().collect();
        let dirs = std::env::split_paths(path)
            .filter(|d| !system.contains(d))
            .collect();
        bin_dirs(Source::Path, dirs);
    }
    out
}

fn conda_dirs(env: &SearchEnv) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = env.conda_prefix.iter().cloned().collect();
    for base in ["miniconda3", "anaconda3", "miniforge3", "mambaforge"] {
        if let Some(root) = env.home(base) {
            roots.push(root.clone());
            roots.extend(subdirs(Some(root.join("envs")), ""));
        }
    }
    // `conda create -n NAME` without write access to the base puts it here.
    roots.extend(subdirs(env.home(".conda/envs"), ""));
    roots.into_iter().map(|r| r.join("bin")).collect()
}

/// `root/*/leaf`, sorted.
fn subdirs(root: Option<PathBuf>, leaf: &str) -> Vec<PathBuf> {
    subdirs_matching(root, "", leaf)
}

fn subdirs_matching(root: Option<PathBuf>, prefix: &str, leaf: &str) -> Vec<PathBuf> {
    let Some(root) = root else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && !name.starts_with('.')
        })
        .map(|e| {
            if leaf.is_empty() {
                e.path()
            } else {
                e.path().join(leaf)
            }
        })
        .collect();
    dirs.sort();
    dirs
}

/// Files in `dir` named like a Python 3, sorted (`python3` first). Broken
/// links are kept: they are rejected later, with a reason.
fn pythons_in(dir: &Path, names: &Regex) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| names.is_match(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort_by_key(|p| (p.file_name().map(|n| n.len()), p.clone()));
    found
}

#[cfg(test)]
mod tests {
    //! Where candidates come from, in a fake tree of every layout: which
    //! files are taken, under which source, in which order.
    use super::*;

    /// A temp dir with empty files at `rels` (a name is all a candidate
    /// needs).
    fn tree(rels: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for rel in rels {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        dir
    }

    /// One installation of every layout discovery knows, and things it
    /// must skip (configs, python2, a uv lock dir).
    const EVERY_LAYOUT: &[&str] = &[
        "venv/bin/python3",
        "venv/bin/python",
        "proj/.venv/pyvenv.cfg",
        "proj/.venv/bin/python3",
        "newer/3.14/bin/python3.14",
        "home/.pyenv/versions/3.12.1/bin/python3.12",
        "home/.pyenv/versions/3.12.1/bin/python3",
        "home/.pyenv/versions/3.12.1/bin/python3.12-config",
        "home/.pyenv/versions/3.12.1/bin/python",
        "xdg/uv/python/cpython-3.13.0-linux/bin/python3.13",
        "xdg/uv/python/.lock/bin/python3",
        "asdf/installs/python/3.11.2/bin/python3.11",
        "xdg/mise/installs/python/3.10.1/bin/python3.10",
        "condaenv/bin/python3",
        "home/miniconda3/bin/python3",
        "home/miniconda3/envs/e1/bin/python3",
        "home/.conda/envs/e2/bin/python3",
        "brew/python@3.12/bin/python3.12",
        "brew/pypy3/bin/pypy3",
        "sys/python3.13t",
        "sys/python3.12d",
        "sys/python3",
        "sys/pypy3.10",
        "sys/python2.7",
        "sys/python3-config",
        "pathbin/python3.14td",
    ];

    #[test]
    fn every_layout_is_searched_in_order_and_each_directory_once() {
        let dir = tree(EVERY_LAYOUT);
        let t = dir.path();
        // A broken link is a candidate too (rejected later, with why).
        std::os::unix::fs::symlink(t.join("gone"), t.join("pathbin/python3")).unwrap();
        let env = SearchEnv {
            home: Some(t.join("home")),
            path: Some(
                std::env::join_paths([
                    t.join("sys"),
                    t.join("pathbin"),
                    t.join("pathbin"),
                    t.join("home/.pyenv/versions/3.12.1/bin"),
                ])
                .unwrap(),
            ),
            asdf_data_dir: Some(t.join("asdf")),
            xdg_data_home: Some(t.join("xdg")),
            conda_prefix: Some(t.join("condaenv")),
            system_dirs: vec![t.join("sys")],
            homebrew_roots: vec![t.join("brew")],
            virtual_env: Some(t.join("venv")),
            cwd: Some(t.join("proj")),
            newer_pythons: Some(t.join("newer")),
            ..SearchEnv::default()
        };
        let explicit = PathBuf::from("/given/python3");
        let found: Vec<(String, Source)> = candidates(&env, std::slice::from_ref(&explicit))
            .into_iter()
            .map(|c| {
                let rel = c.path.strip_prefix(t).unwrap_or(&c.path);
                (rel.display().to_string(), c.source)
            })
            .collect();
        let want: Vec<(String, Source)> = [
            ("/given/python3", Source::Explicit),
            ("venv/bin/python3", Source::Venv),
            ("proj/.venv/bin/python3", Source::Venv),
            ("newer/3.14/bin/python3.14", Source::Shmharness),
            ("home/.pyenv/versions/3.12.1/bin/python3", Source::Pyenv),
            ("home/.pyenv/versions/3.12.1/bin/python3.12", Source::Pyenv),
            (
                "xdg/uv/python/cpython-3.13.0-linux/bin/python3.13",
                Source::Uv,
            ),
            ("asdf/installs/python/3.11.2/bin/python3.11", Source::Asdf),
            (
                "xdg/mise/installs/python/3.10.1/bin/python3.10",
                Source::Mise,
            ),
            ("condaenv/bin/python3", Source::Conda),
            ("home/miniconda3/bin/python3", Source::Conda),
            ("home/miniconda3/envs/e1/bin/python3", Source::Conda),
            ("home/.conda/envs/e2/bin/python3", Source::Conda),
            ("brew/python@3.12/bin/python3.12", Source::Homebrew),
            ("sys/python3", Source::System),
            ("sys/pypy3.10", Source::System),
            ("sys/python3.12d", Source::System),
            ("sys/python3.13t", Source::System),
            // PATH: the system dir and the pyenv dir were read already.
            ("pathbin/python3", Source::Path),
            ("pathbin/python3.14td", Source::Path),
        ]
        .into_iter()
        .map(|(p, s)| (p.to_string(), s))
        .collect();
        assert_eq!(found, want);
    }

    #[test]
    fn home_relative_places_follow_their_variables() {
        let dir = tree(&[
            "pyenv/versions/3.9.1/bin/python3.9",
            "home/.pyenv/versions/3.8.1/bin/python3.8",
            "uvdir/cpython-3.13.0/bin/python3.13",
            "home/.local/share/uv/python/cpython-3.12.0/bin/python3.12",
            "home/.local/share/mise/installs/python/3.11.0/bin/python3.11",
            "home/.asdf/installs/python/3.10.0/bin/python3.10",
            "mise/installs/python/3.14.0/bin/python3.14",
        ]);
        let t = dir.path();
        let list = |env: &SearchEnv| -> Vec<String> {
            candidates(env, &[])
                .into_iter()
                .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let home = SearchEnv {
            home: Some(t.join("home")),
            ..SearchEnv::default()
        };
        // HOME alone: ~/.pyenv, ~/.local/share/uv, ~/.asdf, ~/.local/share/mise.
        assert_eq!(
            list(&home),
            ["python3.8", "python3.12", "python3.10", "python3.11"]
        );
        let overridden = SearchEnv {
            pyenv_root: Some(t.join("pyenv")),
            uv_python_dir: Some(t.join("uvdir")),
            mise_data_dir: Some(t.join("mise")),
            ..home
        };
        assert_eq!(
            list(&overridden),
            ["python3.9", "python3.13", "python3.10", "python3.14"]
        );
        // Nothing to go on: nothing found, nothing read.
        assert!(candidates(&SearchEnv::default(), &[]).is_empty());
    }

    #[test]
    fn a_shim_is_a_file_in_a_shims_folder() {
        assert!(is_shim(Path::new("/home/u/.pyenv/shims/python3")));
        assert!(!is_shim(Path::new("/home/u/.pyenv/versions/shims")));
        assert!(!is_shim(Path::new("/usr/bin/python3")));
        assert!(!is_shim(Path::new("python3")));
    }

    #[test]
    fn the_process_environment_is_read_as_documented() {
        let env = SearchEnv::from_process();
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        assert_eq!(env.home, var("HOME"));
        assert_eq!(env.virtual_env, var("VIRTUAL_ENV"));
        assert_eq!(env.path, std::env::var_os("PATH"));
        assert_eq!(env.cwd, std::env::current_dir().ok());
        if std::env::var_os("SHMHARNESS_SYSTEM_DIRS").is_none() {
            assert_eq!(
                env.system_dirs,
                [Path::new("/usr/bin"), Path::new("/usr/local/bin")]
            );
        }
        if std::env::var_os("SHMHARNESS_HOMEBREW_ROOTS").is_none() {
            // Every usual root, each once, after $HOMEBREW_PREFIX/opt.
            let roots = &env.homebrew_roots;
            for usual in [
                "/opt/homebrew/opt",
                "/usr/local/opt",
                "/home/linuxbrew/.linuxbrew/opt",
            ] {
                let n = roots.iter().filter(|r| *r == Path::new(usual)).count();
                assert_eq!(n, 1, "{usual} in {roots:?}");
            }
            if let Some(prefix) = var("HOMEBREW_PREFIX") {
                assert_eq!(roots[0], prefix.join("opt"));
            }
        }
    }
}
