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
        let write_error = |e: std::io::Error| OverlayError::Write {
            path: entries.display().to_string(),
            reason: e.to_string(),
        };
        match cache::check(&entry) {
            cache::Entry::Sound => return Ok(Some(overlay(entry))),
            // A half-built entry is simply built again (publish replaces it).
            cache::Entry::Incomplete => {}
            cache::Entry::Changed(file) => {
                // Never a verdict from it: rebuilt, and said once.
                let note = format!(
                    "the cached overlay of {} for {} was changed since it was built ({file} differs from its manifest): discarded and rebuilt",
                    variant.name, interp.id
                );
                eprintln!("note: {}", crate::term::style::printable(&note));
                cache::discard(entries, &entry).map_err(write_error)?;
            }
        }
        // Build beside the entries (a 0700 temp dir, in the ledger), seal
        // it, then rename into place; on any error the build is deleted.
        std::fs::create_dir_all(entries).map_err(write_error)?;
        let tmp = tempfile::Builder::new()
            .prefix("shmharness-build-")
            .tempdir_in(entries)
            .map_err(write_error)?;
        crate::host::ledger::note_dir(tmp.path());
        fill(interp, &origin, &files, tmp.path(), timeout)?;
        cache::seal(tmp.path()).map_err(write_error)?;
        cache::publish(tmp, &entry).map_err(write_error)?;
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

    /// An installed `multiprocessing` in a temp dir, and a fake interpreter
    /// whose compile step logs its arguments to `python3.compiled` and then
    /// runs `then` (shell).
    struct Installed {
        dir: tempfile::TempDir,
        interp: Interpreter,
    }

    impl Installed {
        fn new(then: &str) -> Installed {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let mp = dir.path().join("lib/multiprocessing");
            write_all(
                &mp,
                &[
                    ("__init__.py", ""),
                    ("shared_memory.py", "a\nb\nc\n"),
                    ("resource_tracker.py", "x\ny\n"),
                    ("util.py", "u\n"),
                    ("dummy/__init__.py", "d\n"),
                    ("__pycache__/util.cpython-312.pyc", "\u{cb}\r\r\nbytecode"),
                ],
            );
            // Installed read-only (Nix, some distros).
            let ro = std::fs::Permissions::from_mode(0o444);
            std::fs::set_permissions(mp.join("util.py"), ro).unwrap();
            let python = crate::contract::fixtures::script(
                &dir.path().join("bin/python3"),
                &format!("echo \"$@\" >> \"$0.compiled\"\n{then}"),
            );
            let mut interp = crate::contract::fixtures::interpreter("3.12.1");
            interp.multiprocessing = mp;
            interp.executable = python;
            Installed { dir, interp }
        }

        fn p(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        /// The arguments of every compile run so far.
        fn compiled(&self) -> Vec<String> {
            let log = std::fs::read_to_string(self.p("bin/python3.compiled")).unwrap_or_default();
            log.lines().map(str::to_string).collect()
        }

        fn build(
            &self,
            variant: &Variant,
            cache: Option<&Path>,
        ) -> Result<Option<Overlay>, OverlayError> {
            build(
                &self.interp,
                variant,
                &self.p("run"),
                Duration::from_secs(60),
                cache,
            )
        }
    }

    /// `(rel, text)` files under `root`, their directories made.
    fn write_all(root: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
    }

    /// `--patch fix.diff` with `text`, for every version.
    fn fix(text: &str) -> Variant {
        Variant::user(
            "fix",
            vec![variant::UserPatch {
                range: crate::contract::VersionRange::ALL,
                origin: "fix".into(),
                text: text.into(),
                from: variant::PatchFrom::File("fix.diff".into()),
                code: true,
            }],
        )
    }

    /// One file's diff in git's form; `old` empty: a new file.
    fn diff(path: &str, old: &[&str], new: &[&str]) -> String {
        let mut d = format!("diff --git a/{path} b/{path}\n");
        if old.is_empty() {
            d.push_str(&format!(
                "new file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            ));
        } else {
            d.push_str(&format!("--- a/{path}\n+++ b/{path}\n"));
        }
        let at = if old.is_empty() { 0 } else { 1 };
        d.push_str(&format!("@@ -{at},{} +1,{} @@\n", old.len(), new.len()));
        d.extend(old.iter().map(|l| format!("-{l}\n")));
        d.extend(new.iter().map(|l| format!("+{l}\n")));
        d
    }

    /// Every file under `dir`, relative, with its text.
    fn files(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                    out.push((rel, std::fs::read_to_string(e.path()).unwrap_or_default()));
                }
            }
        }
        out.sort();
        out
    }

    const SHM: &str = "Lib/multiprocessing/shared_memory.py";
    const TRACKER: &str = "Lib/multiprocessing/resource_tracker.py";

    #[test]
    fn a_multi_file_patch_writes_every_file_and_creates_new_ones() {
        let t = Installed::new("");
        let text = [
            diff(SHM, &["a", "b", "c"], &["a", "B", "c"]),
            diff(TRACKER, &["x", "y"], &["X", "y"]),
            diff("Lib/multiprocessing/_new.py", &[], &["new = 1"]),
            diff("Lib/multiprocessing/sub/deep.py", &[], &["deep = 2"]),
            diff("Misc/NEWS.d/next/fix.rst", &[], &["news"]),
        ]
        .concat();
        let overlay = t.build(&fix(&text), None).unwrap().unwrap();
        assert_eq!(overlay.dir, t.p("run/overlay-3.12.1-patch_fix"));
        assert_eq!(
            (overlay.origin.as_str(), overlay.diff.as_str()),
            ("fix.diff", text.as_str())
        );
        let package = overlay.dir.join("multiprocessing");
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        // Every file of the diff patched or made; the rest copied as they
        // were, bytecode caches left out; nothing outside the package.
        assert_eq!(
            files(&package),
            pairs(&[
                ("__init__.py", ""),
                ("_new.py", "new = 1\n"),
                ("dummy/__init__.py", "d\n"),
                ("resource_tracker.py", "X\ny\n"),
                ("shared_memory.py", "a\nB\nc\n"),
                ("sub/deep.py", "deep = 2\n"),
                ("util.py", "u\n"),
            ])
        );
        assert_eq!(files(&overlay.dir).len(), 7, "only the package");
        // The copy of a read-only file can be written (by compileall).
        let mode = std::fs::metadata(package.join("util.py"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o644
        );
        // Compiled once, by the interpreter, isolated, without bytecode of
        // its own.
        assert_eq!(
            t.compiled(),
            [format!("-I -B -m compileall -q {}", package.display())]
        );
        // The installed package is only read.
        assert_eq!(
            std::fs::read_to_string(t.p("lib/multiprocessing/shared_memory.py")).unwrap(),
            "a\nb\nc\n"
        );
    }

    #[test]
    fn a_cached_overlay_is_built_once_per_patch_text() {
        let t = Installed::new("");
        let cache = t.p("cache");
        let one = fix(&diff(SHM, &["a"], &["A"]));
        let first = t.build(&one, Some(&cache)).unwrap().unwrap();
        let again = t.build(&one, Some(&cache)).unwrap().unwrap();
        assert_eq!(first.dir, again.dir);
        assert!(first.dir.starts_with(cache.join("overlays")));
        assert!(first.dir.join(cache::MANIFEST).is_file());
        assert_eq!(t.compiled().len(), 1, "the second build reused the first");
        assert_eq!(
            std::fs::read_to_string(first.dir.join("multiprocessing/shared_memory.py")).unwrap(),
            "A\nb\nc\n"
        );
        // Another text is another overlay; no build dir is left beside them.
        let other = t
            .build(&fix(&diff(SHM, &["a"], &["AA"])), Some(&cache))
            .unwrap()
            .unwrap();
        assert_ne!(other.dir, first.dir);
        assert_eq!(t.compiled().len(), 2);
        let entries = std::fs::read_dir(cache.join("overlays")).unwrap().count();
        assert_eq!(entries, 2);
        // Nothing was built under the run's own dir.
        assert!(!t.p("run").exists());
    }

    #[test]
    fn the_stock_variant_has_no_overlay() {
        let t = Installed::new("exit 1");
        let stock = variant::builtin(crate::contract::VariantId::Stock);
        assert!(t.build(&stock, None).unwrap().is_none());
        assert!(check(&t.interp, &stock).unwrap().is_none());
        assert!(
            build_tests(&t.interp, &stock, &t.p("run"))
                .unwrap()
                .is_none()
        );
        assert!(t.compiled().is_empty());
    }

    #[test]
    fn what_fails_says_whether_the_patch_or_the_machine_is_to_blame() {
        // A hunk that does not apply: the patch's problem, nothing compiled.
        let t = Installed::new("");
        let stale = fix(&diff(TRACKER, &["nope"], &["X"]));
        let e = t.build(&stale, None).unwrap_err();
        assert!(e.is_patch_problem());
        assert_eq!(
            e.to_string(),
            "patch does not apply to 3.12.1 (fix.diff): resource_tracker.py hunk #1 (at line 1) does not match: expected `nope`, found nowhere"
        );
        assert_eq!(check(&t.interp, &stale).unwrap_err(), e);
        assert!(t.compiled().is_empty());
        // A patch to a file the package lacks, or a new file it has.
        for (path, old, why) in [
            (
                "gone.py",
                &["a"][..],
                "gone.py does not exist in this interpreter's stdlib (a diff may add a file only as new)",
            ),
            (
                "util.py",
                &[],
                "util.py is a new file in the diff, but this interpreter's package already has it",
            ),
        ] {
            let p = fix(&diff(&format!("Lib/multiprocessing/{path}"), old, &["b"]));
            let e = t.build(&p, None).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("patch does not apply to 3.12.1 (fix.diff): {why}")
            );
        }
        // compileall reports a syntax error: the patch's. It fails without
        // one: the machine's, in its last word.
        for (compileall, error, patch_problem) in [
            (
                "echo \"  File \\\"$6/shared_memory.py\\\", line 2\" >&2\necho 'SyntaxError: invalid syntax' >&2\nexit 1",
                OverlayError::Compile {
                    interpreter: "3.12.1".into(),
                    detail: "shared_memory.py:2: SyntaxError: invalid syntax".into(),
                },
                true,
            ),
            (
                "echo 'OSError: [Errno 28] No space left on device' >&2\necho >&2\nexit 1",
                OverlayError::CompileDidNotRun {
                    interpreter: "3.12.1".into(),
                    reason: "OSError: [Errno 28] No space left on device".into(),
                },
                false,
            ),
        ] {
            let t = Installed::new(compileall);
            let e = t.build(&fix(&diff(SHM, &["a"], &["A"])), None).unwrap_err();
            assert_eq!(e, error);
            assert_eq!(e.is_patch_problem(), patch_problem, "{e}");
        }
        // No package to copy.
        let mut t = Installed::new("");
        t.interp.multiprocessing = t.p("nowhere");
        let e = t.build(&fix(&diff(SHM, &["a"], &["A"])), None).unwrap_err();
        assert!(
            matches!(e, OverlayError::Copy { .. }) && !e.is_patch_problem(),
            "{e}"
        );
        // A builtin variant with no patch for the version.
        t.interp.version = crate::contract::Version::new(3, 7, 0);
        let e = check(
            &t.interp,
            &variant::builtin(crate::contract::VariantId::CreateOnly),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "create-only has no patch for Python 3.7.0");
        assert!(e.is_patch_problem());
    }

    #[test]
    fn check_says_where_each_hunk_landed_without_writing() {
        let t = Installed::new("");
        std::fs::write(
            t.p("lib/multiprocessing/shared_memory.py"),
            "z\nz\na\nb\nc\n",
        )
        .unwrap();
        let text = [
            diff(SHM, &["a", "b"], &["a", "B"]),
            diff(TRACKER, &["x"], &["X"]),
            diff("Lib/multiprocessing/_new.py", &[], &["n"]),
        ]
        .concat();
        let (origin, shown, landed) = check(&t.interp, &fix(&text)).unwrap().unwrap();
        assert_eq!((origin.as_str(), shown), ("fix.diff", text));
        let landed: Vec<(&str, isize)> =
            landed.iter().map(|a| (a.path.as_str(), a.offset)).collect();
        assert_eq!(
            landed,
            [
                ("shared_memory.py", 2),
                ("resource_tracker.py", 0),
                ("_new.py", 0)
            ]
        );
        assert!(!t.p("run").exists() && t.compiled().is_empty());
    }

    #[test]
    fn the_tests_copy_links_the_installed_tests_and_writes_the_patched_ones() {
        let t = Installed::new("");
        let test = t.p("lib/test");
        write_all(
            &test,
            &[
                ("test_a.py", "a\n"),
                ("support/__init__.py", "s\n"),
                ("support/other.py", "o\n"),
                ("__pycache__/x.pyc", "pyc"),
            ],
        );
        let text = [
            diff(SHM, &["a"], &["A"]),
            diff("Lib/test/support/__init__.py", &["s"], &["S"]),
            diff("Lib/test/test_new.py", &[], &["new"]),
        ]
        .concat();
        let dir = build_tests(&t.interp, &fix(&text), &t.p("run"))
            .unwrap()
            .unwrap();
        assert_eq!(dir, t.p("run/tests-3.12.1-patch_fix"));
        let copy = dir.join("test");
        // Patched and new files are real; the rest links to the install.
        assert_eq!(
            std::fs::read_to_string(copy.join("support/__init__.py")).unwrap(),
            "S\n"
        );
        assert!(!copy.join("support/__init__.py").is_symlink());
        assert!(!copy.join("support").is_symlink());
        assert_eq!(
            std::fs::read_to_string(copy.join("test_new.py")).unwrap(),
            "new\n"
        );
        assert_eq!(
            std::fs::read_link(copy.join("test_a.py")).unwrap(),
            test.join("test_a.py")
        );
        assert_eq!(
            std::fs::read_link(copy.join("support/other.py")).unwrap(),
            test.join("support/other.py")
        );
        assert!(!copy.join("__pycache__").exists());
        // The installed tests are untouched.
        assert_eq!(
            std::fs::read_to_string(test.join("support/__init__.py")).unwrap(),
            "s\n"
        );
        // A diff without Lib/test/ hunks has no tests copy.
        let code_only = fix(&diff(SHM, &["a"], &["A"]));
        assert!(
            build_tests(&t.interp, &code_only, &t.p("run2"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn test_hunks_are_checked_against_the_installed_tests_when_there_are_any() {
        let t = Installed::new("");
        let stale = fix(&[
            diff(SHM, &["a"], &["A"]),
            diff("Lib/test/test_a.py", &["nope"], &["X"]),
        ]
        .concat());
        // No test package (Debian ships it apart): nothing to check.
        assert_eq!(check_tests(&t.interp, &stale), Ok(()));
        write_all(
            &t.p("lib/test"),
            &[("_test_multiprocessing.py", "m\n"), ("test_a.py", "a\n")],
        );
        let e = check_tests(&t.interp, &stale).unwrap_err();
        assert_eq!(
            e.to_string(),
            "patch does not apply to 3.12.1 (fix.diff): test_a.py hunk #1 (at line 1) does not match: expected `nope`, found nowhere"
        );
        let good = fix(&[
            diff(SHM, &["a"], &["A"]),
            diff("Lib/test/test_a.py", &["a"], &["X"]),
        ]
        .concat());
        assert_eq!(check_tests(&t.interp, &good), Ok(()));
        assert_eq!(
            check_tests(
                &t.interp,
                &variant::builtin(crate::contract::VariantId::Stock)
            ),
            Ok(())
        );
        // Where to look next, except for a patch that applied but does not
        // compile.
        let v = crate::contract::Version::new(3, 12, 1);
        assert_eq!(
            e.with_hint(v),
            format!(
                "{e}; `shmharness patch show --variant create-only --python 3.12` shows this branch's code around the register call"
            )
        );
        let compile = OverlayError::Compile {
            interpreter: "3.12.1".into(),
            detail: "x.py:1: SyntaxError".into(),
        };
        assert_eq!(compile.with_hint(v), compile.to_string());
    }

    #[test]
    fn every_kind_of_syntax_error_is_the_patchs() {
        for error in [
            "IndentationError: unexpected indent",
            "TabError: inconsistent use of tabs and spaces in indentation",
            "SyntaxError: invalid syntax",
        ] {
            let out = format!("  File \"/t/mp/util.py\", line 7\n    x\n{error}\n");
            assert_eq!(
                compile_error(&out, Path::new("/t/mp")),
                Some(format!("util.py:7: {error}"))
            );
        }
        // Where it is said with no file, the error alone.
        assert_eq!(
            compile_error("SyntaxError: bad\n", Path::new("/t")).as_deref(),
            Some("SyntaxError: bad")
        );
    }
}
