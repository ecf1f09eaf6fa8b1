//! Built overlays, kept across runs: content-addressed under the cache dir,
//! so a warm run copies, patches and compiles nothing.
//!
//! The key covers everything the overlay is made of: the interpreter (its
//! executable, version, build flags and the executable's size and mtime),
//! every file of its installed `multiprocessing` package, the patch text,
//! the bytecode magic number of its stdlib, and this tool's version. A
//! different key is a different directory; an entry is never changed.
//!
//! Safe with concurrent runs: an overlay is built in a temp dir beside the
//! entries and renamed into place; a run that loses the race uses the
//! winner's and drops its own. `--no-cache` bypasses all of it.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::contract::Interpreter;

/// `<cache>/overlays`.
pub fn dir(cache_root: &Path) -> PathBuf {
    cache_root.join("overlays")
}

/// A file's modification time, in nanoseconds since the epoch (0 if unknown).
fn mtime_nanos(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The entry for this interpreter and patch text, if the package can be
/// read (else no caching).
pub fn key(interp: &Interpreter, patch: &str) -> Option<String> {
    key_with(
        &[include_str!("patch.rs"), include_str!("mod.rs")],
        interp,
        patch,
    )
}

/// `key`, with the applier's source as given (a test changes it).
fn key_with(applier: &[&str], interp: &Interpreter, patch: &str) -> Option<String> {
    // Two independent 64-bit hashes: a 128-bit key.
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    "shmharness-overlay-b".hash(&mut b);
    let mut feed = |bytes: &[u8]| {
        bytes.hash(&mut a);
        bytes.hash(&mut b);
    };
    feed(env!("CARGO_PKG_VERSION").as_bytes());
    // The code that turns a diff into files: the same diff text gives other
    // files when the applier changes (an empty new module it once dropped),
    // and the version number does not move with every change. Its source,
    // not the binary, so that a rebuild for anything else keeps the cache.
    for source in applier {
        feed(source.as_bytes());
    }
    feed(interp.executable.as_os_str().as_encoded_bytes());
    feed(interp.version.to_string().as_bytes());
    feed(&[u8::from(interp.debug), u8::from(interp.free_threaded)]);
    let meta = std::fs::metadata(&interp.executable).ok()?;
    feed(&meta.len().to_le_bytes());
    feed(&mtime_nanos(&meta).to_le_bytes());
    feed(&magic(&interp.multiprocessing));
    for (rel, bytes) in package_files(&interp.multiprocessing)? {
        feed(rel.as_bytes());
        feed(&bytes);
    }
    feed(patch.as_bytes());
    Some(format!(
        "{}-{}-{:016x}{:016x}",
        interp.version,
        crate::contract::slug(&interp.implementation),
        a.finish(),
        b.finish()
    ))
}

/// The bytecode magic number of the installed package's own caches (the
/// first 4 bytes of any `.pyc` there), or nothing if there is none.
fn magic(package: &Path) -> Vec<u8> {
    let cache = package.join("__pycache__");
    std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            (bytes.len() >= 4).then(|| bytes[..4].to_vec())
        })
        .unwrap_or_default()
}

/// Every source file of the package, sorted, with its bytes.
fn package_files(package: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut stack = vec![package.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if e.file_name() == "__pycache__" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(package).ok()?.display().to_string();
                out.push((rel, std::fs::read(&p).ok()?));
            }
        }
    }
    out.sort();
    Some(out)
}

/// A complete entry: its marker file exists (written last, before the
/// rename, so a half-built entry never has it).
pub fn complete(entry: &Path) -> bool {
    entry.join(MARKER).is_file()
}

pub const MARKER: &str = ".complete";

/// Put a finished build (`built`, a temp dir beside the entries) in place
/// as `entry`; if another run got there first, theirs is kept.
pub fn publish(built: &Path, entry: &Path) -> std::io::Result<()> {
    std::fs::write(built.join(MARKER), "")?;
    match std::fs::rename(built, entry) {
        Ok(()) => Ok(()),
        Err(_) if complete(entry) => {
            let _ = std::fs::remove_dir_all(built);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    //! The key over a fake install: every input that makes a different
    //! overlay gives a different key, and nothing else does.
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::contract::Version;

    const PATCH: &str = "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n";
    const APPLIER: &[&str] = &["fn apply() {}"];

    /// An executable, and a package with a module, a subpackage and a
    /// bytecode cache, in a temp dir.
    fn install() -> (tempfile::TempDir, Interpreter) {
        let dir = tempfile::tempdir().unwrap();
        let mp = dir.path().join("multiprocessing");
        for (rel, bytes) in [
            ("bin/python3", &b"\x7fELF"[..]),
            ("multiprocessing/__init__.py", b""),
            ("multiprocessing/shared_memory.py", b"a = 1\n"),
            ("multiprocessing/dummy/__init__.py", b"d = 1\n"),
            (
                "multiprocessing/__pycache__/x.cpython-312.pyc",
                b"\xcb\r\r\nrest",
            ),
        ] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
        }
        let mut interp = crate::contract::fixtures::interpreter("3.12.1");
        interp.executable = dir.path().join("bin/python3");
        interp.multiprocessing = mp;
        set_mtime(&interp.executable, 1_000);
        (dir, interp)
    }

    fn set_mtime(path: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    fn k(interp: &Interpreter) -> String {
        kw(APPLIER, interp, PATCH)
    }

    fn kw(applier: &[&str], interp: &Interpreter, patch: &str) -> String {
        key_with(applier, interp, patch).unwrap()
    }

    #[test]
    fn the_same_inputs_give_the_same_key_and_it_names_the_interpreter() {
        let (_dir, interp) = install();
        let first = k(&interp);
        assert_eq!(k(&interp), first);
        let (prefix, hash) = first.rsplit_once('-').unwrap();
        assert_eq!(prefix, "3.12.1-cpython");
        assert_eq!(hash.len(), 32);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
        // The real key covers this build's applier: not the test's one.
        assert_ne!(key(&interp, PATCH).unwrap(), first);
        assert_eq!(key(&interp, PATCH), key(&interp, PATCH));
        // What does not change the overlay does not change the key.
        let mut other = interp.clone();
        other.id = "3.12.1@uv".into();
        other.path = PathBuf::from("/elsewhere/python3");
        other.prefix = PathBuf::from("/elsewhere");
        other.source = crate::contract::Source::Uv;
        assert_eq!(k(&other), first);
        // Nor do a cache's bytes after its magic number.
        let pyc = interp.multiprocessing.join("__pycache__/x.cpython-312.pyc");
        std::fs::write(&pyc, b"\xcb\r\r\nother").unwrap();
        assert_eq!(k(&interp), first);
    }

    #[test]
    fn every_input_of_the_overlay_changes_the_key() {
        let (dir, interp) = install();
        let base = k(&interp);
        let mut keys: Vec<(&str, String)> = Vec::new();
        let mp = interp.multiprocessing.clone();
        let mut edit = |what, change: &dyn Fn(&mut Interpreter), undo: &dyn Fn()| {
            let mut changed = interp.clone();
            change(&mut changed);
            keys.push((what, k(&changed)));
            undo();
            assert_eq!(k(&interp), base, "{what} undone");
        };
        let none = &|| {};
        edit("version", &|i| i.version = Version::new(3, 12, 2), none);
        edit(
            "implementation",
            &|i| i.implementation = "pypy".into(),
            none,
        );
        edit("debug build", &|i| i.debug = true, none);
        edit("free-threaded build", &|i| i.free_threaded = true, none);
        let copy = dir.path().join("bin/python3.12");
        std::fs::copy(&interp.executable, &copy).unwrap();
        set_mtime(&copy, 1_000);
        edit("executable path", &|i| i.executable = copy.clone(), none);
        let exe = interp.executable.clone();
        edit("executable mtime", &|_| set_mtime(&exe, 2_000), &|| {
            set_mtime(&exe, 1_000)
        });
        let write = |rel: &str, bytes: &[u8]| std::fs::write(mp.join(rel), bytes).unwrap();
        edit(
            "executable size",
            &|_| {
                std::fs::write(&exe, b"\x7fELF2").unwrap();
                set_mtime(&exe, 1_000);
            },
            &|| {
                std::fs::write(&exe, b"\x7fELF").unwrap();
                set_mtime(&exe, 1_000);
            },
        );
        edit(
            "a module's text",
            &|_| write("shared_memory.py", b"a = 2\n"),
            &|| write("shared_memory.py", b"a = 1\n"),
        );
        edit(
            "a subpackage's module",
            &|_| write("dummy/__init__.py", b"d = 2\n"),
            &|| write("dummy/__init__.py", b"d = 1\n"),
        );
        edit(
            "a module's name",
            &|_| std::fs::rename(mp.join("shared_memory.py"), mp.join("shm.py")).unwrap(),
            &|| std::fs::rename(mp.join("shm.py"), mp.join("shared_memory.py")).unwrap(),
        );
        edit("one more module", &|_| write("new.py", b""), &|| {
            std::fs::remove_file(mp.join("new.py")).unwrap()
        });
        let pyc = "__pycache__/x.cpython-312.pyc";
        edit(
            "the bytecode magic number",
            &|_| write(pyc, b"\xcc\r\r\nrest"),
            &|| write(pyc, b"\xcb\r\r\nrest"),
        );
        keys.push(("patch text", kw(APPLIER, &interp, "other")));
        let one_more_byte = format!("{PATCH} ");
        keys.push((
            "patch text's last byte",
            kw(APPLIER, &interp, &one_more_byte),
        ));
        keys.push(("applier source", kw(&["fn apply() { }"], &interp, PATCH)));
        keys.push(("applier split", kw(&["fn apply()", " {}"], &interp, PATCH)));
        for (what, key) in &keys {
            assert_ne!(*key, base, "{what} does not change the key");
        }
        let mut distinct: Vec<&String> = keys.iter().map(|(_, k)| k).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn an_install_that_cannot_be_read_is_not_cached() {
        let (dir, mut interp) = install();
        // No bytecode cache at all, or a truncated one: no magic number.
        let pyc = interp.multiprocessing.join("__pycache__/x.cpython-312.pyc");
        std::fs::write(&pyc, b"\xcb\r").unwrap();
        let truncated = k(&interp);
        std::fs::remove_file(&pyc).unwrap();
        assert_eq!(k(&interp), truncated);
        interp.multiprocessing = dir.path().join("gone");
        assert_eq!(key_with(APPLIER, &interp, PATCH), None);
        let (_dir, mut interp) = install();
        interp.executable = PathBuf::from("/nonexistent/python3");
        assert_eq!(key(&interp, PATCH), None);
    }

    #[test]
    fn an_entry_is_complete_once_published_and_a_lost_race_keeps_the_winner() {
        let dir = tempfile::tempdir().unwrap();
        let entries = super::dir(dir.path());
        assert_eq!(entries, dir.path().join("overlays"));
        let built = |name: &str, text: &str| {
            let b = entries.join(name);
            std::fs::create_dir_all(b.join("multiprocessing")).unwrap();
            std::fs::write(b.join("multiprocessing/x.py"), text).unwrap();
            b
        };
        let entry = entries.join("key");
        let ours = built("build-1", "ours");
        assert!(!complete(&ours));
        publish(&ours, &entry).unwrap();
        assert!(complete(&entry) && !ours.exists());
        // Another run built the same entry: its build goes, ours stays.
        let theirs = built("build-2", "theirs");
        publish(&theirs, &entry).unwrap();
        assert!(!theirs.exists());
        let kept = std::fs::read_to_string(entry.join("multiprocessing/x.py")).unwrap();
        assert_eq!(kept, "ours");
        // An entry left half-built (no marker) is an error, not a winner.
        let half = entries.join("half");
        std::fs::create_dir_all(half.join("multiprocessing")).unwrap();
        assert!(!complete(&half));
        let third = built("build-3", "third");
        assert!(publish(&third, &half).is_err());
    }
}
