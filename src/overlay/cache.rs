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
//! entries (0700, listed in the run's ledger), sealed with a manifest of
//! every file's size and content hash (written last), and renamed into
//! place; a run that loses the race uses the winner's and drops its own.
//!
//! Never trusted unchecked: every use reads the whole entry against its
//! manifest. An entry with no manifest (a build that died or ran out of
//! space) is built again; one whose files changed is discarded and rebuilt
//! with a note, so a tampered or corrupt cache never yields a verdict.
//! `--no-cache` bypasses all of it.

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

/// The file that says what an entry holds: every other file's path, size
/// and content hash. Written last, so an entry without it is half-built.
pub const MANIFEST: &str = ".manifest";

const MANIFEST_HEADER: &str = "shmharness-overlay-manifest 1";

/// FNV-1a (64 bits): stable across Rust versions and machines, unlike
/// std's `DefaultHasher`. It guards against corruption and a changed file
/// (who can rewrite an entry can rewrite its manifest too: the cache dir
/// itself must be this user's alone, see `commands::check_cache_dir`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every file under `entry` but the manifest, sorted by path: `path size
/// hash` lines. Anything but a file or a directory (a symlink, a FIFO) is
/// an error: an entry never holds one.
fn listing(entry: &Path) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut stack = vec![entry.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            let ty = e.file_type()?;
            let rel = p
                .strip_prefix(entry)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            if ty.is_dir() {
                stack.push(p);
            } else if !ty.is_file() || rel.contains('\n') {
                return Err(std::io::Error::other(format!("{rel}: not a plain file")));
            } else if rel != MANIFEST {
                let bytes = std::fs::read(&p)?;
                lines.push(format!("{rel} {} {:016x}", bytes.len(), fnv1a(&bytes)));
            }
        }
    }
    lines.sort();
    Ok(lines)
}

/// Write the manifest of a finished build, last.
pub fn seal(built: &Path) -> std::io::Result<()> {
    let lines = listing(built)?;
    let text = format!(
        "{MANIFEST_HEADER}\n{}\nend {}\n",
        lines.join("\n"),
        lines.len()
    );
    std::fs::write(built.join(MANIFEST), text)
}

/// What a cache entry turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// Every file is the one its build wrote.
    Sound,
    /// Not there, or half-built (no manifest: a build died, or its disk
    /// filled, before the end).
    Incomplete,
    /// A file differs from the manifest (changed, missing, added): the
    /// first one, named.
    Changed(String),
}

/// Check `entry` against its manifest, reading every file.
pub fn check(entry: &Path) -> Entry {
    let Ok(text) = std::fs::read_to_string(entry.join(MANIFEST)) else {
        return Entry::Incomplete;
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let complete = lines.first() == Some(&MANIFEST_HEADER)
        && lines.last() == Some(&format!("end {}", lines.len().saturating_sub(2)).as_str());
    if !complete {
        return Entry::Incomplete;
    }
    lines.pop();
    let want = &lines[1..];
    let have = match listing(entry) {
        Ok(have) => have,
        Err(e) => return Entry::Changed(e.to_string()),
    };
    let path = |l: &str| l.rsplitn(3, ' ').last().unwrap_or_default().to_string();
    match want.iter().zip(&have).find(|(w, h)| **w != h.as_str()) {
        Some((w, h)) => Entry::Changed(path(w).min(path(h))),
        None if want.len() == have.len() => Entry::Sound,
        None if want.len() > have.len() => Entry::Changed(path(want[have.len()])),
        None => Entry::Changed(path(&have[want.len()])),
    }
}

/// Move `entry` out of the way into a fresh `shmharness-discard-*` dir
/// under `entries` (recorded in the ledger, so a SIGKILL leaves nothing
/// for long) and delete it there. A run still reading it keeps its open
/// files; no run starts using it again.
pub fn discard(entries: &Path, entry: &Path) -> std::io::Result<()> {
    let bin = tempfile::Builder::new()
        .prefix("shmharness-discard-")
        .tempdir_in(entries)?;
    crate::host::ledger::note_dir(bin.path());
    match std::fs::rename(entry, bin.path().join("entry")) {
        Ok(()) => Ok(()),
        // Another run moved it first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    // `bin` drops here: the entry is deleted.
}

/// Put a finished, sealed build in place as `entry`. If another run got
/// there first with a sound entry, theirs is kept; a half-built or changed
/// one in the way is discarded first. On any error the build is deleted.
pub fn publish(built: tempfile::TempDir, entry: &Path) -> std::io::Result<()> {
    let entries = entry.parent().unwrap_or(Path::new("."));
    let mut last = None;
    for _ in 0..3 {
        match std::fs::rename(built.path(), entry) {
            Ok(()) => {
                // Renamed away: nothing left for the drop to delete.
                let _ = built.keep();
                return Ok(());
            }
            Err(e) => {
                if check(entry) == Entry::Sound {
                    return Ok(());
                }
                if std::fs::symlink_metadata(entry).is_err() {
                    return Err(e);
                }
                discard(entries, entry)?;
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot publish")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(top: &Path) -> PathBuf {
        let e = top.join("e");
        std::fs::create_dir_all(e.join("multiprocessing/__pycache__")).unwrap();
        std::fs::write(e.join("multiprocessing/shared_memory.py"), "patched").unwrap();
        std::fs::write(e.join("multiprocessing/__pycache__/x.pyc"), "bytecode").unwrap();
        e
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // The FNV test vectors (draft-eastlake-fnv).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_sealed_entry_is_sound_until_a_file_changes_or_appears_or_goes() {
        let top = tempfile::tempdir().unwrap();
        let e = entry(top.path());
        assert_eq!(check(&e), Entry::Incomplete, "no manifest yet");
        seal(&e).unwrap();
        assert_eq!(check(&e), Entry::Sound);
        let sm = e.join("multiprocessing/shared_memory.py");
        std::fs::write(&sm, "stock").unwrap();
        assert_eq!(
            check(&e),
            Entry::Changed("multiprocessing/shared_memory.py".into())
        );
        std::fs::write(&sm, "patched").unwrap();
        assert_eq!(check(&e), Entry::Sound);
        std::fs::write(e.join("multiprocessing/evil.py"), "").unwrap();
        assert_eq!(check(&e), Entry::Changed("multiprocessing/evil.py".into()));
        std::fs::remove_file(e.join("multiprocessing/evil.py")).unwrap();
        std::fs::remove_file(e.join("multiprocessing/__pycache__/x.pyc")).unwrap();
        assert_eq!(
            check(&e),
            Entry::Changed("multiprocessing/__pycache__/x.pyc".into())
        );
        // A manifest cut short (no space) is no manifest.
        let text = std::fs::read_to_string(e.join(MANIFEST)).unwrap();
        std::fs::write(e.join(MANIFEST), &text[..text.len() - 8]).unwrap();
        assert_eq!(check(&e), Entry::Incomplete);
    }

    #[test]
    fn a_file_added_or_gone_after_every_other_is_seen_too() {
        // The file that sorts last: no line pair differs, only the count.
        let top = tempfile::tempdir().unwrap();
        let e = entry(top.path());
        seal(&e).unwrap();
        let last = e.join("multiprocessing/zz.py");
        std::fs::write(&last, "").unwrap();
        assert_eq!(check(&e), Entry::Changed("multiprocessing/zz.py".into()));
        std::fs::remove_file(&last).unwrap();
        assert_eq!(check(&e), Entry::Sound);
        std::fs::remove_file(e.join("multiprocessing/shared_memory.py")).unwrap();
        assert_eq!(
            check(&e),
            Entry::Changed("multiprocessing/shared_memory.py".into())
        );
    }

    #[test]
    fn a_link_or_a_name_with_a_newline_is_never_sound() {
        let top = tempfile::tempdir().unwrap();
        let e = entry(top.path());
        seal(&e).unwrap();
        let link = e.join("multiprocessing/link.py");
        std::os::unix::fs::symlink("shared_memory.py", &link).unwrap();
        assert!(
            matches!(check(&e), Entry::Changed(why) if why.contains("link.py: not a plain file"))
        );
        std::fs::remove_file(&link).unwrap();
        assert_eq!(check(&e), Entry::Sound);
        // A newline would forge a manifest line.
        std::fs::write(e.join("multiprocessing/a\nb"), "").unwrap();
        assert!(matches!(check(&e), Entry::Changed(why) if why.contains("not a plain file")));
    }

    #[test]
    fn discarding_an_entry_another_run_moved_is_done_and_other_errors_are_said() {
        let top = tempfile::tempdir().unwrap();
        let e = entry(top.path());
        discard(top.path(), &e).unwrap();
        assert!(!e.exists());
        // Gone already: nothing to do.
        discard(top.path(), &e).unwrap();
        // Not a directory in the path: an error, not success.
        let file = top.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = discard(top.path(), &file.join("entry")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory);
        let left: Vec<_> = std::fs::read_dir(top.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["file"], "no discard dir left");
    }

    #[test]
    fn a_build_replaces_a_half_built_entry_and_keeps_a_sound_one() {
        let top = tempfile::tempdir().unwrap();
        let target = top.path().join("key");
        std::fs::create_dir_all(target.join("multiprocessing")).unwrap();
        let build = |text: &str| {
            let b = tempfile::Builder::new()
                .prefix("shmharness-build-")
                .tempdir_in(top.path())
                .unwrap();
            std::fs::create_dir(b.path().join("multiprocessing")).unwrap();
            std::fs::write(b.path().join("multiprocessing/x.py"), text).unwrap();
            seal(b.path()).unwrap();
            b
        };
        publish(build("first"), &target).unwrap();
        assert_eq!(check(&target), Entry::Sound);
        publish(build("second"), &target).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("multiprocessing/x.py")).unwrap(),
            "first",
            "a sound entry stays"
        );
        let names: Vec<_> = std::fs::read_dir(top.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["key"], "no build or discarded dir left");
    }
}

#[cfg(test)]
mod key_tests {
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
}
