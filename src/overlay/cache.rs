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
    feed(include_str!("patch.rs").as_bytes());
    feed(include_str!("mod.rs").as_bytes());
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
