//! Probe results kept between runs, so a warm `list` starts no interpreter.
//!
//! One JSON file, `$XDG_CACHE_HOME/shmharness/probes.json` (else
//! `~/.cache/shmharness/probes.json`). An entry is used only when all of
//! these still match: the candidate path, the file it resolves to, that
//! file's mtime and size, and the probe version (a hash of `probe.py`, so
//! a new probe re-asks every interpreter). Reinstalling or upgrading an
//! interpreter changes its mtime, so the entry goes stale by itself.
//!
//! Never cached: scripts (a file starting with `#!`, e.g. a pyenv shim or
//! a wrapper, whose answer depends on the environment or on other files)
//! and anything in a `shims` directory; failed probes (they may be
//! transient: a timeout on a busy machine). A cache that cannot be read or
//! parsed is ignored and rewritten; one that cannot be written is skipped
//! silently: the cache is an optimisation, never a reason to fail.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::probe::{PROBE_SCRIPT, ProbeInfo};
use super::sources::is_shim;

const FILE: &str = "probes.json";
/// Most entries kept; the oldest-probed go first.
const MAX_ENTRIES: usize = 512;

/// Identifies one version of the probe script (FNV-1a of its text).
pub fn probe_version() -> String {
    fnv1a(PROBE_SCRIPT)
}

/// 64-bit FNV-1a of `text`, as 16 hex digits.
fn fnv1a(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What makes a cached answer still true for a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// The file it resolves to (symlinks followed).
    pub target: PathBuf,
    pub mtime_ns: u128,
    pub size: u64,
    pub probe: String,
}

impl Key {
    /// The key for `path`, or None if it must not be cached (a script, a
    /// shim, unreadable).
    pub fn of(path: &Path) -> Option<Key> {
        if is_shim(path) {
            return None;
        }
        let target = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&target).ok()?;
        if !meta.is_file() || is_script(&target) {
            return None;
        }
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(Key {
            target,
            mtime_ns,
            size: meta.len(),
            probe: probe_version(),
        })
    }
}

/// Starts with `#!`: an interpreter script, not an interpreter.
pub fn is_script(path: &Path) -> bool {
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#!")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: Key,
    info: ProbeInfo,
    /// When it was probed (seconds since the epoch), for pruning.
    probed: u64,
}

/// The cache file's contents, keyed by the candidate's absolute path.
#[derive(Debug, Default)]
pub struct Cache {
    file: Option<PathBuf>,
    entries: BTreeMap<PathBuf, Entry>,
    dirty: bool,
}

impl Cache {
    /// A cache that keeps nothing (`--no-cache`).
    pub fn disabled() -> Cache {
        Cache::default()
    }

    /// Load `dir/probes.json`; a missing or corrupt file is an empty cache
    /// (rewritten on save).
    pub fn load(dir: &Path) -> Cache {
        let file = dir.join(FILE);
        let (entries, dirty) = match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(entries) => (entries, false),
                Err(_) => (BTreeMap::new(), true),
            },
            Err(_) => (BTreeMap::new(), false),
        };
        Cache {
            file: Some(file),
            entries,
            dirty,
        }
    }

    fn abs(path: &Path) -> PathBuf {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    }

    /// The cached answer for `path`, if it is still true.
    pub fn get(&self, path: &Path, key: &Key) -> Option<ProbeInfo> {
        self.file.as_ref()?;
        let e = self.entries.get(&Self::abs(path))?;
        (e.key == *key).then(|| e.info.clone())
    }

    pub fn put(&mut self, path: &Path, key: Key, info: ProbeInfo) {
        if self.file.is_none() {
            return;
        }
        let probed = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.entries
            .insert(Self::abs(path), Entry { key, info, probed });
        self.dirty = true;
    }

    /// Write the file back if anything changed: atomically (a temp file and
    /// a rename), so a concurrent run reads the old or the new file, never
    /// half of one. Errors are ignored (see the module docs).
    pub fn save(mut self) {
        let Some(file) = self.file.take() else { return };
        if !self.dirty {
            return;
        }
        // Forget files that are gone, and the oldest beyond the cap.
        self.entries.retain(|p, _| p.exists());
        if self.entries.len() > MAX_ENTRIES {
            let mut by_age: Vec<(u64, PathBuf)> = self
                .entries
                .iter()
                .map(|(p, e)| (e.probed, p.clone()))
                .collect();
            by_age.sort();
            for (_, p) in by_age.iter().take(self.entries.len() - MAX_ENTRIES) {
                self.entries.remove(p);
            }
        }
        let Some(dir) = file.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(text) = serde_json::to_vec(&self.entries) else {
            return;
        };
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
            return;
        };
        use std::io::Write;
        if tmp.write_all(&text).is_ok() {
            let _ = tmp.persist(&file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ProbeInfo {
        serde_json::from_str(
            r#"{"implementation":"cpython","version":[3,12,1],"realpath":"/x","executable":"/x",
                "prefix":"/p","debug":false,"free_threaded":false,"multiprocessing":"/m","shared_memory":true}"#,
        )
        .unwrap()
    }

    #[test]
    fn scripts_and_shims_have_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("python3");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(Key::of(&script).is_none());
        let shims = dir.path().join("shims");
        std::fs::create_dir(&shims).unwrap();
        std::fs::write(shims.join("python3"), "\x7fELF").unwrap();
        assert!(Key::of(&shims.join("python3")).is_none());
        let binary = dir.path().join("python3.12");
        std::fs::write(&binary, "\x7fELF").unwrap();
        assert!(Key::of(&binary).is_some());
    }

    #[test]
    fn round_trip_stale_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("python3.12");
        std::fs::write(&exe, "\x7fELF").unwrap();
        let key = Key::of(&exe).unwrap();
        let mut c = Cache::load(dir.path());
        assert!(c.get(&exe, &key).is_none());
        c.put(&exe, key.clone(), info());
        c.save();
        let c = Cache::load(dir.path());
        assert_eq!(c.get(&exe, &key).unwrap().prefix, PathBuf::from("/p"));
        // A different size (the interpreter was replaced) misses.
        std::fs::write(&exe, "\x7fELF2").unwrap();
        let new_key = Key::of(&exe).unwrap();
        assert_ne!(new_key, key);
        assert!(c.get(&exe, &new_key).is_none());
        // A corrupt file is an empty cache, rewritten on save.
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        let mut c = Cache::load(dir.path());
        assert!(c.get(&exe, &new_key).is_none());
        c.put(&exe, new_key.clone(), info());
        c.save();
        assert!(Cache::load(dir.path()).get(&exe, &new_key).is_some());
    }

    #[test]
    fn a_directory_or_a_missing_file_has_no_key() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Key::of(dir.path()).is_none());
        assert!(Key::of(&dir.path().join("missing")).is_none());
        assert!(!is_script(dir.path()));
        std::fs::write(dir.path().join("one"), "#").unwrap();
        assert!(
            !is_script(&dir.path().join("one")),
            "too short to be a script"
        );
    }

    #[test]
    fn entries_are_kept_per_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::load(dir.path());
        let mut keys = Vec::new();
        for (name, prefix) in [("python3.11", "/p11"), ("python3.12", "/p12")] {
            let exe = dir.path().join(name);
            std::fs::write(&exe, name).unwrap();
            let key = Key::of(&exe).unwrap();
            let mut i = info();
            i.prefix = PathBuf::from(prefix);
            c.put(&exe, key.clone(), i);
            keys.push((exe, key));
        }
        c.save();
        let c = Cache::load(dir.path());
        let prefix = |exe: &Path, key: &Key| c.get(exe, key).map(|i| i.prefix);
        assert_eq!(prefix(&keys[0].0, &keys[0].1), Some(PathBuf::from("/p11")));
        assert_eq!(prefix(&keys[1].0, &keys[1].1), Some(PathBuf::from("/p12")));
        // A key is for its own path only.
        assert_eq!(prefix(&keys[0].0, &keys[1].1), None);
        // A disabled cache keeps nothing.
        let mut off = Cache::disabled();
        off.put(&keys[0].0, keys[0].1.clone(), info());
        assert!(off.get(&keys[0].0, &keys[0].1).is_none());
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_cap_and_gone_files_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::of(&std::env::current_exe().unwrap()).unwrap();
        let mut c = Cache::load(dir.path());
        // Three over the cap, probed at 0, 1, 2, ...: 0, 1 and 2 go.
        for n in 0..MAX_ENTRIES as u64 + 3 {
            let path = dir.path().join(format!("p{n}"));
            std::fs::write(&path, "").unwrap();
            let entry = Entry {
                key: key.clone(),
                info: info(),
                probed: n + 100,
            };
            c.entries.insert(path, entry);
        }
        c.entries.insert(
            dir.path().join("deleted"),
            Entry {
                key: key.clone(),
                info: info(),
                probed: 10_000,
            },
        );
        c.dirty = true;
        c.save();
        let kept = Cache::load(dir.path()).entries;
        assert_eq!(kept.len(), MAX_ENTRIES);
        for gone in ["p0", "p1", "p2", "deleted"] {
            assert!(!kept.contains_key(&dir.path().join(gone)), "{gone}");
        }
        assert!(kept.contains_key(&dir.path().join("p3")));
        // Nothing changed: the file is not written again.
        std::fs::write(dir.path().join(FILE), "{}").unwrap();
        Cache::load(dir.path()).save();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE)).unwrap(),
            "{}"
        );
    }

    #[test]
    fn the_probe_version_is_a_hash_of_the_probe() {
        // FNV-1a's published test vectors (Fowler, Noll, Vo): a hash that
        // lost its xor would name every probe.py ending alike the same.
        for (text, hash) in [
            ("", "cbf29ce484222325"),
            ("a", "af63dc4c8601ec8c"),
            ("foobar", "85944171f73967e8"),
        ] {
            assert_eq!(fnv1a(text), hash, "{text:?}");
        }
        let v = probe_version();
        assert_eq!(v, fnv1a(PROBE_SCRIPT));
        assert_eq!(Key::of(&std::env::current_exe().unwrap()).unwrap().probe, v);
    }
}
