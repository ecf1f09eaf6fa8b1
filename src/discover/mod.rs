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
