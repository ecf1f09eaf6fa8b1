//! Overlays: a patched copy of an interpreter's `multiprocessing` package
//! in a temp dir, put first on `PYTHONPATH`.
//!
//! Why `PYTHONPATH` and not `sys.path` tricks inside the role scripts: the
//! resource tracker is a separate interpreter started with `sys.executable`;
//! it inherits the environment, not the parent's `sys.path`. An environment
//! variable is the one thing that reaches it (and multiprocessing children).
//! The installed stdlib is only ever read.

pub mod cache;
pub mod git;
pub mod patch;
pub mod user;
pub mod variant;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::contract::Interpreter;
use crate::host::proc::{Running, Termination};
use crate::overlay::variant::Variant;
use patch::{ApplyError, FilePatch, Package, PatchError};

/// A built overlay: `dir` goes on PYTHONPATH; `diff` is the exact text applied.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub dir: PathBuf,
    pub origin: String,
    pub diff: String,
}

/// Why an overlay could not be built. `Apply`, `Parse` and `Compile` are
/// about the patch; the rest about the machine (no space, a timeout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    #[error("{0}")]
    NoPatch(String),
    #[error("{origin}: {source}")]
    Parse { origin: String, source: PatchError },
    #[error("patch does not apply to {interpreter} ({origin}): {source}")]
    Apply {
        interpreter: String,
        origin: String,
        source: Box<ApplyError>,
    },
    #[error("cannot copy {path}: {reason}")]
    Copy { path: String, reason: String },
    #[error("cannot write the overlay ({path}): {reason}")]
    Write { path: String, reason: String },
    #[error("the patched package does not compile on {interpreter}: {detail}")]
    Compile { interpreter: String, detail: String },
    #[error("cannot compile the overlay on {interpreter}: {reason}")]
    CompileDidNotRun { interpreter: String, reason: String },
}

impl OverlayError {
    /// The error and where to look next: where the branch's code differs,
    /// how to see it (a patch that applied but does not compile needs no
    /// map of the branch).
    pub fn with_hint(&self, v: crate::contract::Version) -> String {
        match self {
            OverlayError::Compile { .. } => self.to_string(),
            _ => format!(
                "{self}; `shmharness patch show --variant create-only --python {}.{}` shows this branch's code around the register call",
                v.major, v.minor
            ),
        }
    }

    /// Is this about the patch text (the user's to fix), rather than the
    /// machine?
    pub fn is_patch_problem(&self) -> bool {
        matches!(
            self,
            OverlayError::NoPatch(_)
                | OverlayError::Parse { .. }
                | OverlayError::Apply { .. }
                | OverlayError::Compile { .. }
        )
    }
}

/// Build the overlay of `variant` for `interp` under `root`, or `None` when
/// the variant runs the stock stdlib.
/// With `cache` (the cache dir), a built overlay is reused across runs
/// (see `cache`); without, it is built under `root` for this run only.
pub fn build(
    interp: &Interpreter,
    variant: &Variant,
    root: &Path,
    timeout: Duration,
    cache: Option<&Path>,
) -> Result<Option<Overlay>, OverlayError> {
    let Some((origin, text, files)) = parsed(interp, variant)? else {
        return Ok(None);
    };
    let overlay = |dir: PathBuf| Overlay {
        dir,
        origin: origin.clone(),
        diff: text.to_string(),
    };
    let cached = cache.and_then(|c| Some((cache::dir(c), cache::key(interp, text)?)));
    if let Some((entries, key)) = &cached {
        let entry = entries.join(key);
        if cache::complete(&entry) {
            return Ok(Some(overlay(entry)));
        }
        // Build beside the entries, then rename into place.
        let write_error = |e: std::io::Error| OverlayError::Write {
            path: entries.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(entries).map_err(write_error)?;
        let tmp = tempfile::Builder::new()
            .prefix("shmharness-build-")
            .tempdir_in(entries)
            .map_err(write_error)?;
        crate::host::ledger::note_dir(tmp.path());
        fill(interp, &origin, &files, tmp.path(), timeout)?;
        cache::publish(&tmp.keep(), &entry).map_err(write_error)?;
        return Ok(Some(overlay(entry)));
    }
    let dir = root.join(format!(
        "overlay-{}-{}",
        crate::contract::slug(&interp.id),
        crate::contract::slug(&variant.name)
    ));
    fill(interp, &origin, &files, &dir, timeout)?;
    Ok(Some(overlay(dir)))
}

/// Copy, patch and compile the package into `dir/multiprocessing`.
fn fill(
    interp: &Interpreter,
    origin: &str,
    files: &[FilePatch],
    dir: &Path,
    timeout: Duration,
) -> Result<(), OverlayError> {
    let origin = origin.to_string();
    let package = dir.join("multiprocessing");
    copy_tree(&interp.multiprocessing, &package).map_err(|e| OverlayError::Copy {
        path: interp.multiprocessing.display().to_string(),
        reason: e.to_string(),
    })?;
    for file in patch::in_package(files, Package::Multiprocessing) {
        let patched = patched_text(&package, file).map_err(|source| OverlayError::Apply {
            interpreter: interp.id.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        })?;
        let target = package.join(&file.path);
        // A new module may live in a new subpackage.
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| OverlayError::Write {
                path: parent.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        std::fs::write(&target, patched).map_err(|e| OverlayError::Write {
            path: target.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    compile(interp, &package, timeout)
}

/// Check, in memory, that the variant's patch applies to the installed
/// package; returns where the diff comes from, its text, and where each
/// hunk landed.
pub fn check(
    interp: &Interpreter,
    variant: &Variant,
) -> Result<Option<(String, String, Vec<patch::Applied>)>, OverlayError> {
    let Some((origin, text, files)) = parsed(interp, variant)? else {
        return Ok(None);
    };
    let mut landed = Vec::new();
    for file in patch::in_package(&files, Package::Multiprocessing) {
        let apply_error = |source| OverlayError::Apply {
            interpreter: interp.id.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        };
        let original = read_original(&interp.multiprocessing, file).map_err(apply_error)?;
        let (_, applied) = patch::apply(&original, file).map_err(apply_error)?;
        landed.extend(applied);
    }
    Ok(Some((origin, text.to_string(), landed)))
}

/// Check, in memory, that the variant's `Lib/test/` hunks apply to the
/// installed test package (the stdlib is only read). An install without
/// CPython's shared-memory tests (Debian ships them apart) has nothing to
/// check: its tests are n/a, not a patch that does not apply.
pub fn check_tests(interp: &Interpreter, variant: &Variant) -> Result<(), OverlayError> {
    let installed = test_package(interp);
    if !installed.join("_test_multiprocessing.py").is_file() {
        return Ok(());
    }
    let Some((origin, _, files)) = parsed(interp, variant)? else {
        return Ok(());
    };
    for file in patch::in_package(&files, Package::Test) {
        patched_text(&installed, file).map_err(|source| OverlayError::Apply {
            interpreter: interp.id.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        })?;
    }
    Ok(())
}

/// The installed `test` package, beside `multiprocessing`.
fn test_package(interp: &Interpreter) -> PathBuf {
    interp
        .multiprocessing
        .parent()
        .map(|lib| lib.join("test"))
        .unwrap_or_default()
}

/// A parsed patch: where it comes from, its text, its files.
type Parsed<'v> = (String, &'v str, Vec<FilePatch>);

/// The variant's patch for `interp`, parsed: `None` when it uses the stock
/// stdlib.
fn parsed<'v>(
    interp: &Interpreter,
    variant: &'v Variant,
) -> Result<Option<Parsed<'v>>, OverlayError> {
    let Some(patch) = variant.patch_for(interp.version) else {
        return Ok(None);
    };
    let (origin, text) = patch.map_err(OverlayError::NoPatch)?;
    let files = patch::parse(text).map_err(|source| OverlayError::Parse {
        origin: origin.clone(),
        source,
    })?;
    Ok(Some((origin, text, files)))
}

fn read_original(package: &Path, file: &FilePatch) -> Result<String, ApplyError> {
    let path = package.join(&file.path);
    if file.new_file && !path.exists() {
        return Ok(String::new());
    }
    std::fs::read_to_string(path).map_err(|_| ApplyError::missing(&file.path))
}

/// The text of `file` in `package` after its hunks are applied.
fn patched_text(package: &Path, file: &FilePatch) -> Result<String, ApplyError> {
    let original = read_original(package, file)?;
    patch::apply(&original, file).map(|(text, _)| text)
}

/// The tests' copy of the `test` package with a diff's `Lib/test/` hunks
/// applied, under `root`: a directory of symlinks to the installed package
/// (cheap: the package is large), with real, patched files where the diff
/// changes one, and real directories on the way to them. `None` when the
/// variant's diff has no such hunks. The installed package is only read;
/// the tests run with PYTHONDONTWRITEBYTECODE so nothing is written through
/// the links.
pub fn build_tests(
    interp: &Interpreter,
    variant: &Variant,
    root: &Path,
) -> Result<Option<PathBuf>, OverlayError> {
    let Some((origin, _, files)) = parsed(interp, variant)? else {
        return Ok(None);
    };
    let tests = patch::in_package(&files, Package::Test);
    if tests.is_empty() {
        return Ok(None);
    }
    let installed = test_package(interp);
    let dir = root.join(format!(
        "tests-{}-{}",
        crate::contract::slug(&interp.id),
        crate::contract::slug(&variant.name)
    ));
    let write_error = |e: std::io::Error| OverlayError::Write {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    let package = dir.join("test");
    for file in tests {
        let original = read_original(&installed, file).map_err(|source| OverlayError::Apply {
            interpreter: interp.id.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        })?;
        let (text, _) = patch::apply(&original, file).map_err(|source| OverlayError::Apply {
            interpreter: interp.id.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        })?;
        // Real directories from the package down to the file, each filled
        // with links to the installed entries.
        let rel = Path::new(&file.path);
        let mut real = PathBuf::new();
        for part in rel.parent().into_iter().flat_map(|p| p.components()) {
            link_farm(&installed.join(&real), &package.join(&real)).map_err(write_error)?;
            real.push(part);
        }
        link_farm(&installed.join(&real), &package.join(&real)).map_err(write_error)?;
        let target = package.join(rel);
        if target.is_symlink() {
            std::fs::remove_file(&target).map_err(write_error)?;
        }
        std::fs::write(&target, text).map_err(write_error)?;
    }
    Ok(Some(dir))
}

/// Make `to` a real directory whose entries link to those of `from`
/// (entries already there stay).
fn link_farm(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.is_symlink() {
        std::fs::remove_file(to)?;
    }
    if to.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    if let Ok(entries) = std::fs::read_dir(from) {
        for e in entries.flatten() {
            if e.file_name() == "__pycache__" {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Byte-compile the copy once, so the dozens of processes that import it do
/// not each compile it again (they run with -B and could not cache it).
/// `-B` here too: compileall still writes the copy's bytecode, but the
/// stdlib modules it imports to do so never get a cache written.
fn compile(interp: &Interpreter, package: &Path, timeout: Duration) -> Result<(), OverlayError> {
    let mut cmd = crate::host::python::command(&interp.executable, None);
    cmd.args(["-I", "-B", "-m", "compileall", "-q"])
        .arg(package);
    let did_not_run = |reason: String| OverlayError::CompileDidNotRun {
        interpreter: interp.id.clone(),
        reason,
    };
    let out = Running::run(&cmd, timeout)
        .map_err(|e| did_not_run(format!("cannot run {}: {e}", interp.executable.display())))?;
    if out.timed_out {
        return Err(did_not_run(format!("timed out after {:?}", timeout)));
    }
    match out.termination {
        Termination::Exited(0) => Ok(()),
        _ => {
            let text = format!("{}\n{}", out.stdout, out.stderr);
            match compile_error(&text, package) {
                Some(detail) => Err(OverlayError::Compile {
                    interpreter: interp.id.clone(),
                    detail,
                }),
                // No SyntaxError: the machine failed (ENOSPC writing .pyc).
                None => Err(did_not_run(
                    text.lines()
                        .rfind(|l| !l.trim().is_empty())
                        .unwrap_or("no output")
                        .trim()
                        .to_string(),
                )),
            }
        }
    }
}

/// `shared_memory.py:120: SyntaxError: expected ':'` from compileall's
/// output, or `None` when it reports no syntax error.
fn compile_error(output: &str, package: &Path) -> Option<String> {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines.iter().rposition(|l| {
        let l = l.trim_start();
        l.starts_with("SyntaxError")
            || l.starts_with("IndentationError")
            || l.starts_with("TabError")
    })?;
    let error = lines[at].trim();
    let place = lines[..at].iter().rev().find_map(|l| {
        let rest = l.trim_start().strip_prefix("File \"")?;
        let (file, rest) = rest.split_once('"')?;
        let line = rest
            .trim_start_matches(", line ")
            .split(|c: char| !c.is_ascii_digit())
            .next()?;
        let file = Path::new(file)
            .strip_prefix(package)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| file.to_string());
        Some(format!("{file}:{line}: "))
    });
    Some(format!("{}{error}", place.unwrap_or_default()))
}

/// Copy a package directory, skipping bytecode caches.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if ty.is_file() {
            let dest = to.join(&name);
            std::fs::copy(entry.path(), &dest)?;
            // Read-only installs (Nix, some distros) copy read-only files.
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_errors_name_file_line_and_error() {
        let out = "*** Error compiling '/t/mp/shared_memory.py'...\n  File \"/t/mp/shared_memory.py\", line 120\n    if create\n             ^\nSyntaxError: expected ':'\n";
        assert_eq!(
            compile_error(out, Path::new("/t/mp")).unwrap(),
            "shared_memory.py:120: SyntaxError: expected ':'"
        );
        assert_eq!(
            compile_error(
                "OSError: [Errno 28] No space left on device",
                Path::new("/t")
            ),
            None
        );
    }
}
