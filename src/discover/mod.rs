//! Discover interpreters: gather candidates, probe each real file once (in
//! parallel), merge the ones that are the same interpreter, and keep a
//! reason for every candidate that cannot be used.

pub mod cache;
mod probe;
pub mod select;
pub mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::contract::{Alias, Interpreter, Rejected, Version};
pub use probe::ProbeError;
pub use sources::{Candidate, SearchEnv, Source};

/// Oldest version with `multiprocessing.shared_memory`.
pub const MIN_VERSION: Version = Version::new(3, 8, 0);

#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub found: Vec<Interpreter>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub probe_timeout: Duration,
    /// Accept implementations other than CPython.
    pub any_implementation: bool,
    /// Where probe results are cached; None: probe every candidate.
    pub cache_dir: Option<PathBuf>,
    /// Also probe version-manager shims found in the search (see
    /// [`sources::is_shim`]); a shim given with `--python` is always probed.
    pub shims: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            probe_timeout: Duration::from_secs(3),
            any_implementation: false,
            cache_dir: None,
            shims: false,
        }
    }
}

/// What `--python` completes to: every CPython found (probes cached as a
/// run caches them), as its version, its minor version, SOURCE:VERSION
/// and its executable, each with a word on which interpreter it is. Empty
/// when discovery is interrupted: a completion never prints an error.
pub fn completions() -> Vec<(String, String)> {
    let candidates = sources::candidates(&SearchEnv::from_process(), &[]);
    let opts = Options {
        cache_dir: crate::host::sys::cache_dir(),
        ..Options::default()
    };
    let Ok(found) = discover(candidates, &opts) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for i in &found.found {
        let what = format!("{} ({})", i.id, i.source);
        let v = i.version;
        for spec in [
            format!("{}.{}", v.major, v.minor),
            v.to_string(),
            format!("{}:{}.{}", i.source, v.major, v.minor),
            i.executable.display().to_string(),
        ] {
            if !out.iter().any(|(s, _)| *s == spec) {
                out.push((spec, what.clone()));
            }
        }
    }
    out
}

/// Probe every candidate and sort the results into usable and rejected.
/// `Err` when a signal stopped the probes: a partial listing is never
/// returned as if it were complete.
pub fn discover(
    candidates: Vec<Candidate>,
    opts: &Options,
) -> Result<Discovery, crate::host::signal::Signal> {
    let groups = group(candidates, opts);
    let probed = probe_all(&groups, opts)?;
    let mut out = Discovery::default();
    // Real executable -> index in out.found, for merging.
    let mut by_exe: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (members, result) in groups.into_iter().zip(probed) {
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                out.reject(&members, None, &e.to_string());
                continue;
            }
        };
        if let Err(reason) = usable(&info, opts) {
            out.reject(&members, Some(info.version()), &reason);
            continue;
        }
        let found = interpreter(&members, &info);
        match by_exe.get(&found.executable) {
            // The same interpreter reached another way: more aliases.
            Some(&i) => out.found[i].aliases.extend(members.iter().map(alias)),
            None => {
                by_exe.insert(found.executable.clone(), out.found.len());
                out.found.push(found);
            }
        }
    }
    out.found.sort_by(|a, b| {
        (a.version, a.free_threaded, a.debug, a.source, &a.executable).cmp(&(
            b.version,
            b.free_threaded,
            b.debug,
            b.source,
            &b.executable,
        ))
    });
    assign_ids(&mut out.found);
    Ok(out)
}

/// Candidates that are the same file (a link and its target) in one group:
/// the file is probed once, the rest are aliases. Within a group the first
/// source wins, but a path reached through a symlinked directory (mise's
/// `3.12 -> 3.12.1`) is the alias of the real one, not the other way round.
fn group(candidates: Vec<Candidate>, opts: &Options) -> Vec<Vec<Candidate>> {
    let mut groups: Vec<(PathBuf, Vec<Candidate>)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in candidates {
        if !seen.insert((c.path.clone(), c.source)) {
            continue;
        }
        if !opts.shims && c.source != Source::Explicit && sources::is_shim(&c.path) {
            continue;
        }
        let key = identity(&c.path);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(c),
            None => groups.push((key, vec![c])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_by_cached_key(|c| (c.source, !parent_is_real(&c.path)));
            members
        })
        .collect()
}

/// Each group's first member probed: a cache hit starts no interpreter,
/// every miss is probed in parallel (and cached). `Err` on a signal.
fn probe_all(
    groups: &[Vec<Candidate>],
    opts: &Options,
) -> Result<Vec<Result<probe::ProbeInfo, ProbeError>>, crate::host::signal::Signal> {
    let mut cache = match &opts.cache_dir {
        Some(dir) => cache::Cache::load(dir),
        None => cache::Cache::disabled(),
    };
    let keys: Vec<Option<cache::Key>> = groups
        .iter()
        .map(|members| {
            opts.cache_dir
                .as_ref()
                .and_then(|_| cache::Key::of(&members[0].path))
        })
        .collect();
    let probed: Vec<Result<probe::ProbeInfo, ProbeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .zip(&keys)
            .map(|(members, key)| {
                let path = members[0].path.clone();
                match key.as_ref().and_then(|k| cache.get(&path, k)) {
                    Some(info) => Pending::Cached(info),
                    None => {
                        Pending::Probing(s.spawn(move || probe::probe(&path, opts.probe_timeout)))
                    }
                }
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Pending::Probing(h) => h.join().expect("probe thread"),
                Pending::Cached(info) => Ok(info),
            })
            .collect()
    });
    for ((members, key), result) in groups.iter().zip(keys).zip(&probed) {
        if let (Some(key), Ok(info)) = (key, result)
            && cache.get(&members[0].path, &key).is_none()
        {
            cache.put(&members[0].path, key, info.clone());
        }
    }
    if let Some(sig) = crate::host::signal::received().or_else(|| {
        probed
            .iter()
            .any(|r| matches!(r, Err(ProbeError::Interrupted)))
            .then_some(crate::host::signal::Signal::Interrupt)
    }) {
        return Err(sig);
    }
    cache.save();
    Ok(probed)
}

/// A usable group as an interpreter: the first member is its path, the
/// rest its aliases.
fn interpreter(members: &[Candidate], info: &probe::ProbeInfo) -> Interpreter {
    let first = &members[0];
    // A virtual environment runs as itself (its own sys.prefix, its
    // site-packages, VIRTUAL_ENV behaviour), never as its base.
    let executable = if in_venv(&first.path) {
        venv_executable(&first.path)
    } else {
        info.realpath
            .clone()
            .unwrap_or_else(|| identity(&first.path))
    };
    Interpreter {
        id: String::new(),
        implementation: info.implementation.clone(),
        version: info.version(),
        executable,
        path: first.path.clone(),
        // `--python venv/bin/python` is listed as what it is.
        source: if first.source == Source::Explicit && in_venv(&first.path) {
            Source::Venv
        } else {
            first.source
        },
        aliases: members.iter().skip(1).map(alias).collect(),
        prefix: info.prefix.clone(),
        multiprocessing: info.multiprocessing.clone().unwrap_or_default(),
        debug: info.debug,
        free_threaded: info.free_threaded,
        features: features(info.multiprocessing.as_deref()),
    }
}

fn alias(c: &Candidate) -> Alias {
    Alias {
        path: c.path.clone(),
        source: c.source,
    }
}

/// What the installed `multiprocessing` says about itself (read, never
/// imported): behaviour that changed within a minor version.
pub fn features(multiprocessing: Option<&Path>) -> Vec<crate::contract::Feature> {
    use crate::contract::Feature;
    let Some(dir) = multiprocessing else {
        return Vec::new();
    };
    let tracker = std::fs::read_to_string(dir.join("resource_tracker.py")).unwrap_or_default();
    let mut out = Vec::new();
    // gh-146313: `os.register_at_fork(after_in_child=..._after_fork_in_child)`.
    if tracker.contains("_after_fork_in_child") {
        out.push(Feature::TrackerForkHandler);
    }
    out
}

/// Is `path` the `bin/python` of a virtual environment (`pyvenv.cfg` one
/// level above its directory)?
pub fn in_venv(path: &Path) -> bool {
    path.parent()
        .and_then(Path::parent)
        .is_some_and(|root| root.join("pyvenv.cfg").is_file())
}

/// What makes two candidates the same interpreter: the real file, except
/// in a venv, whose `bin/python*` are links to its base that must stay
/// themselves: there the venv's (resolved) `bin` directory is the identity.
fn identity(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if in_venv(path) => {
            std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
        }
        _ => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The path a venv's interpreter runs as: its own `bin/python3` link (the
/// directory resolved), not the base it points to.
pub fn venv_executable(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default();
    identity(path).join(name)
}

/// `path`'s directory is not reached through a symlink.
fn parent_is_real(path: &Path) -> bool {
    path.parent()
        .is_some_and(|dir| std::fs::canonicalize(dir).is_ok_and(|real| real == dir))
}

enum Pending<'scope> {
    Cached(probe::ProbeInfo),
    Probing(std::thread::ScopedJoinHandle<'scope, Result<probe::ProbeInfo, ProbeError>>),
}

impl Discovery {
    /// Every member of a group rejected, for the same reason.
    fn reject(&mut self, members: &[Candidate], version: Option<Version>, reason: &str) {
        self.rejected.extend(members.iter().map(|c| Rejected {
            path: c.path.clone(),
            source: c.source,
            version,
            reason: reason.to_string(),
        }));
    }
}

/// Why a probed interpreter cannot run the scenarios, if it cannot.
fn usable(info: &probe::ProbeInfo, opts: &Options) -> Result<(), String> {
    let v = info.version();
    if info.implementation != "cpython" && !opts.any_implementation {
        return Err(format!(
            "{} {v} is not CPython (use --implementation any to include it)",
            info.implementation
        ));
    }
    if v < MIN_VERSION {
        return Err(format!(
            "{v} has no multiprocessing.shared_memory (needs 3.8+)"
        ));
    }
    if !info.shared_memory || info.multiprocessing.is_none() {
        return Err(format!("{v} has no multiprocessing.shared_memory module"));
    }
    Ok(())
}

/// Give every interpreter a unique id: its label, or `label@source` (and a
/// number, if still ambiguous) when two share a version.
fn assign_ids(found: &mut [Interpreter]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in found.iter() {
        *counts.entry(i.label()).or_default() += 1;
    }
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for i in found.iter_mut() {
        let label = i.label();
        let mut id = if counts[&label] > 1 {
            format!("{label}@{}", i.source)
        } else {
            label
        };
        let n = used.entry(id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            id = format!("{id}-{n}");
        }
        i.id = id;
    }
}

/// Is `path` a usable interpreter? Used for `--python PATH` errors.
pub fn explain(path: &Path, d: &Discovery) -> Option<String> {
    d.rejected
        .iter()
        .find(|r| r.path == path && r.source == Source::Explicit)
        .map(|r| r.reason.clone())
}

#[cfg(test)]
mod tests {
    //! Discovery over fake interpreters (`#!/bin/sh` scripts printing a
    //! canned probe answer) in a temp dir: what is one interpreter, what
    //! is two, what is rejected and why, and how each is named.
    use serde_json::json;

    use super::*;
    use crate::contract::fixtures::{probe_answer, script};

    /// A temp dir, resolved (so `parent_is_real` holds for its files).
    struct Tree(tempfile::TempDir);

    impl Tree {
        fn new() -> Tree {
            Tree(tempfile::tempdir().unwrap())
        }

        fn p(&self, rel: &str) -> PathBuf {
            std::fs::canonicalize(self.0.path()).unwrap().join(rel)
        }

        /// A fake CPython `version` at `rel` whose probe says it is `real`
        /// (`None`: it does not know its real path).
        fn python(&self, rel: &str, version: [u32; 3], real: Option<&Path>) -> PathBuf {
            self.answer(rel, json!({"version": version, "realpath": real}))
        }

        /// A fake interpreter at `rel` answering a CPython 3.12.1 with a
        /// shared_memory module, changed by `fields`.
        fn answer(&self, rel: &str, fields: serde_json::Value) -> PathBuf {
            let path = self.p(rel);
            let mut info = json!({
                "implementation": "cpython", "version": [3, 12, 1],
                "realpath": path, "prefix": "/prefix", "debug": false,
                "free_threaded": false, "multiprocessing": "/lib/multiprocessing",
                "shared_memory": true,
            });
            for (k, v) in fields.as_object().unwrap() {
                info[k] = v.clone();
            }
            script(&path, &probe_answer(&info))
        }

        fn link(&self, rel: &str, target: &Path) -> PathBuf {
            let p = self.p(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, &p).unwrap();
            p
        }

        /// `rel/bin/python3`, a venv's link to `base`.
        fn venv(&self, rel: &str, base: &Path) -> PathBuf {
            let root = self.p(rel);
            std::fs::create_dir_all(root.join("bin")).unwrap();
            std::fs::write(root.join("pyvenv.cfg"), "home = /base\n").unwrap();
            self.link(&format!("{rel}/bin/python3"), base)
        }
    }

    fn candidate(path: &Path, source: Source) -> Candidate {
        Candidate {
            path: path.to_path_buf(),
            source,
        }
    }

    fn opts() -> Options {
        Options {
            // Generous: a loaded machine must not turn a probe into a reason.
            probe_timeout: Duration::from_secs(120),
            ..Options::default()
        }
    }

    fn run(candidates: Vec<Candidate>, opts: &Options) -> Discovery {
        discover(candidates, opts).expect("no signal")
    }

    /// Discovery of these paths, found under these sources.
    fn of(paths: &[(&Path, Source)]) -> Discovery {
        run(
            paths.iter().map(|&(p, s)| candidate(p, s)).collect(),
            &opts(),
        )
    }

    /// (id, path, source, executable, aliases as (path, source)) of each.
    type Row = (String, PathBuf, Source, PathBuf, Vec<(PathBuf, Source)>);

    fn rows(d: &Discovery) -> Vec<Row> {
        d.found
            .iter()
            .map(|i| {
                let aliases = i.aliases.iter().map(|a| (a.path.clone(), a.source));
                let id = i.id.clone();
                (
                    id,
                    i.path.clone(),
                    i.source,
                    i.executable.clone(),
                    aliases.collect(),
                )
            })
            .collect()
    }

    #[test]
    fn a_venv_is_detected_by_its_pyvenv_cfg() {
        let t = Tree::new();
        let base = t.python("base/bin/python3.12", [3, 12, 1], None);
        let link = t.venv("venv", &base);
        assert!(in_venv(&link));
        assert!(!in_venv(&base));
        // No grandparent, or a pyvenv.cfg that is a directory: no venv.
        assert!(!in_venv(Path::new("python3")));
        assert!(!in_venv(Path::new("/")));
        std::fs::create_dir_all(t.p("odd/pyvenv.cfg")).unwrap();
        assert!(!in_venv(&t.link("odd/bin/python3", &base)));
        // Its identity is its own bin directory, not the base it links to.
        assert_eq!(identity(&link), t.p("venv/bin"));
        assert_eq!(identity(&base), base);
        assert_eq!(identity(&t.link("other/python3", &base)), base);
        assert_eq!(venv_executable(&link), t.p("venv/bin/python3"));
        // Reached through a linked directory, it is still the venv's own.
        let via = t.link("venv-link", &t.p("venv"));
        assert_eq!(
            venv_executable(&via.join("bin/python3")),
            t.p("venv/bin/python3")
        );
        // A path that does not exist is its own identity.
        assert_eq!(identity(&t.p("gone/python3")), t.p("gone/python3"));
    }

    #[test]
    fn a_venv_is_not_merged_into_its_base() {
        // The probe of a venv's python3 reports the base's real path, as
        // CPython does: only the venv logic keeps the two apart.
        let t = Tree::new();
        let base = t.p("base/bin/python3.12");
        t.python("base/bin/python3.12", [3, 12, 1], Some(&base));
        let link = t.venv("venv", &base);
        let d = of(&[(&link, Source::Venv), (&base, Source::Pyenv)]);
        assert_eq!(
            rows(&d),
            [
                (
                    "3.12.1@venv".into(),
                    link.clone(),
                    Source::Venv,
                    t.p("venv/bin/python3"),
                    vec![]
                ),
                (
                    "3.12.1@pyenv".into(),
                    base.clone(),
                    Source::Pyenv,
                    base.clone(),
                    vec![]
                ),
            ]
        );
        // Given with --python, it is listed as the venv it is; another
        // explicit path keeps its source.
        let other = t.python("other/bin/python3.11", [3, 11, 2], None);
        let d = of(&[(&link, Source::Explicit), (&other, Source::Explicit)]);
        let sources: Vec<_> = d.found.iter().map(|i| (i.id.as_str(), i.source)).collect();
        assert_eq!(
            sources,
            [("3.11.2", Source::Explicit), ("3.12.1", Source::Venv)]
        );
        assert_eq!(d.found[1].executable, t.p("venv/bin/python3"));
    }

    #[test]
    fn links_to_one_file_are_one_interpreter_with_aliases() {
        let t = Tree::new();
        let real = t.python("pyenv/3.12.1/bin/python3.12", [3, 12, 1], None);
        let on_path = t.link("bin/python3", &real);
        let d = run(
            vec![
                candidate(&real, Source::Pyenv),
                candidate(&real, Source::Pyenv),
                candidate(&on_path, Source::Path),
                candidate(&real, Source::Path),
            ],
            &opts(),
        );
        // The same path from the same source once; from another, an alias.
        assert_eq!(
            rows(&d),
            [(
                "3.12.1".into(),
                real.clone(),
                Source::Pyenv,
                real.clone(),
                vec![(on_path, Source::Path), (real.clone(), Source::Path)]
            )]
        );
        // Two files whose probes name one real executable are one too.
        let wrapper = t.python("wrap/python3", [3, 12, 1], Some(&real));
        let d = of(&[(&real, Source::Pyenv), (&wrapper, Source::Path)]);
        assert_eq!(rows(&d)[0].4, [(wrapper, Source::Path)]);
        assert_eq!(d.found.len(), 1);
    }

    #[test]
    fn a_path_through_a_linked_directory_is_the_alias() {
        // mise's `3.12 -> 3.12.1`: found first through the link, named by
        // the real directory.
        let t = Tree::new();
        let real = t.python("mise/3.12.1/bin/python3", [3, 12, 1], None);
        t.link("mise/3.12", &t.p("mise/3.12.1"));
        let via = t.p("mise/3.12/bin/python3");
        let d = of(&[(&via, Source::Mise), (&real, Source::Mise)]);
        assert_eq!(
            rows(&d),
            [(
                "3.12.1".into(),
                real.clone(),
                Source::Mise,
                real,
                vec![(via, Source::Mise)]
            )]
        );
    }

    #[test]
    fn what_cannot_run_the_scenarios_is_rejected_with_why() {
        let t = Tree::new();
        let old = t.python("a/python3.7", [3, 7, 17], None);
        let old_link = t.link("b/python3", &old);
        let pypy = t.answer(
            "pypy/pypy3.10",
            json!({"implementation": "pypy", "version": [3, 10, 14]}),
        );
        let no_shm = t.answer("c/python3.12", json!({"shared_memory": false}));
        let no_mp = t.answer("d/python3.12", json!({"multiprocessing": null}));
        let failing = script(&t.p("e/python3"), "echo 'boom' >&2; exit 3");
        let oldest = t.python("f/python3.8", [3, 8, 0], None);
        let candidates = vec![
            candidate(&old, Source::Pyenv),
            candidate(&old_link, Source::Path),
            candidate(&pypy, Source::Pyenv),
            candidate(&no_shm, Source::Uv),
            candidate(&no_mp, Source::Uv),
            candidate(&failing, Source::Explicit),
            candidate(&oldest, Source::Pyenv),
        ];
        let d = run(candidates, &opts());
        let rejected: Vec<_> = d
            .rejected
            .iter()
            .map(|r| {
                (
                    r.path.clone(),
                    r.source,
                    r.version.map(|v| v.to_string()),
                    r.reason.as_str(),
                )
            })
            .collect();
        let v = |s: &str| Some(s.to_string());
        let too_old = "3.7.17 has no multiprocessing.shared_memory (needs 3.8+)";
        assert_eq!(
            rejected,
            [
                (old.clone(), Source::Pyenv, v("3.7.17"), too_old),
                // Every path to it, each with its own source.
                (old_link, Source::Path, v("3.7.17"), too_old),
                (
                    pypy.clone(),
                    Source::Pyenv,
                    v("3.10.14"),
                    "pypy 3.10.14 is not CPython (use --implementation any to include it)"
                ),
                (
                    no_shm,
                    Source::Uv,
                    v("3.12.1"),
                    "3.12.1 has no multiprocessing.shared_memory module"
                ),
                (
                    no_mp,
                    Source::Uv,
                    v("3.12.1"),
                    "3.12.1 has no multiprocessing.shared_memory module"
                ),
                (
                    failing.clone(),
                    Source::Explicit,
                    None,
                    "probe failed (exit 3): boom"
                ),
            ]
        );
        // 3.8.0 is the first with shared_memory.
        let ids: Vec<&str> = d.found.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["3.8.0"]);
        assert_eq!(
            explain(&failing, &d).as_deref(),
            Some("probe failed (exit 3): boom")
        );
    }

    #[test]
    fn not_cpython_is_found_and_named_when_any_implementation_is_asked() {
        let t = Tree::new();
        let pypy = t.answer(
            "pypy/pypy3.10",
            json!({"implementation": "pypy", "version": [3, 10, 14]}),
        );
        let oldest = t.python("f/python3.8", [3, 8, 0], None);
        let candidates = vec![
            candidate(&pypy, Source::Pyenv),
            candidate(&oldest, Source::Pyenv),
        ];
        let any = Options {
            any_implementation: true,
            ..opts()
        };
        let d = run(candidates, &any);
        let ids: Vec<&str> = d.found.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["3.8.0", "pypy-3.10.14"]);
        assert!(d.rejected.is_empty());
    }

    #[test]
    fn ids_are_unique_and_the_order_is_by_version() {
        let t = Tree::new();
        let mut cs = Vec::new();
        for (rel, version, source) in [
            ("uv/a/python3.13", [3, 13, 0], Source::Uv),
            ("pyenv/a/python3.12", [3, 12, 1], Source::Pyenv),
            ("uv/b/python3.12", [3, 12, 1], Source::Uv),
            ("pyenv/b/python3.12", [3, 12, 1], Source::Pyenv),
            ("pyenv/c/python3.9", [3, 9, 18], Source::Pyenv),
        ] {
            cs.push(candidate(&t.python(rel, version, None), source));
        }
        let ft = t.answer(
            "ft/python3.13t",
            json!({"version": [3, 13, 0], "free_threaded": true}),
        );
        cs.push(candidate(&ft, Source::Uv));
        let d = run(cs, &opts());
        let ids: Vec<&str> = d.found.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "3.9.18",
                "3.12.1@pyenv",
                "3.12.1@pyenv-2",
                "3.12.1@uv",
                "3.13.0",
                "3.13.0t"
            ]
        );
        assert_eq!(d.found[1].path, t.p("pyenv/a/python3.12"));
    }

    #[test]
    fn shims_are_probed_only_when_asked_for() {
        let t = Tree::new();
        let shim = t.python("pyenv/shims/python3", [3, 12, 1], None);
        let found = |source, shims| {
            let o = Options { shims, ..opts() };
            let d = run(vec![candidate(&shim, source)], &o);
            (d.found.len(), d.rejected.len())
        };
        assert_eq!(found(Source::Path, false), (0, 0));
        assert_eq!(found(Source::Path, true), (1, 0));
        assert_eq!(found(Source::Explicit, false), (1, 0));
    }

    #[test]
    fn features_are_read_from_the_installed_tracker() {
        let t = Tree::new();
        let mp = t.p("lib/multiprocessing");
        std::fs::create_dir_all(&mp).unwrap();
        let py = t.answer("bin/python3.13", json!({"multiprocessing": mp}));
        let features = || {
            run(vec![candidate(&py, Source::Uv)], &opts()).found[0]
                .features
                .clone()
        };
        assert_eq!(features(), []);
        std::fs::write(
            mp.join("resource_tracker.py"),
            "os.register_at_fork(after_in_child=_after_fork_in_child)\n",
        )
        .unwrap();
        assert_eq!(features(), [crate::contract::Feature::TrackerForkHandler]);
        assert_eq!(super::features(None), []);
    }

    #[test]
    fn a_found_interpreter_keeps_what_its_probe_said() {
        let t = Tree::new();
        let real = t.p("real/python3.12");
        let py = t.answer(
            "bin/python3.12d",
            json!({"realpath": real, "prefix": "/opt/p", "debug": true, "multiprocessing": "/opt/p/mp"}),
        );
        let d = run(vec![candidate(&py, Source::Homebrew)], &opts());
        let i = &d.found[0];
        assert_eq!(
            (i.id.as_str(), i.version, &i.executable, &i.path, i.source),
            (
                "3.12.1d",
                Version::new(3, 12, 1),
                &real,
                &py,
                Source::Homebrew
            )
        );
        assert_eq!(
            (
                i.prefix.as_path(),
                i.multiprocessing.as_path(),
                i.debug,
                i.free_threaded
            ),
            (Path::new("/opt/p"), Path::new("/opt/p/mp"), true, false)
        );
        assert_eq!(i.implementation, "cpython");
    }

    #[test]
    fn a_cached_answer_starts_no_interpreter() {
        // A binary that fails if it is ever run, with a cached answer.
        let t = Tree::new();
        let exe = t.p("bin/python3.12");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        std::fs::copy("/bin/false", &exe).unwrap();
        let answer = json!({
            "implementation": "cpython", "version": [3, 12, 7], "realpath": exe,
            "prefix": "/cached", "debug": false, "free_threaded": false,
            "multiprocessing": "/m", "shared_memory": true,
        });
        let mut cache = cache::Cache::load(&t.p("cache"));
        let key = cache::Key::of(&exe).unwrap();
        cache.put(&exe, key, serde_json::from_value(answer).unwrap());
        cache.save();
        let cached = Options {
            cache_dir: Some(t.p("cache")),
            ..opts()
        };
        let d = run(vec![candidate(&exe, Source::Pyenv)], &cached);
        assert_eq!(d.found[0].prefix, Path::new("/cached"));
        // Without the cache it is run, and fails.
        let d = run(vec![candidate(&exe, Source::Pyenv)], &opts());
        assert_eq!(
            (d.found.len(), d.rejected[0].reason.as_str()),
            (0, "probe failed (exit 1) with no output")
        );
    }
}
