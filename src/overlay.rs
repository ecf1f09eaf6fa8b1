//! Overlays: a patched copy of an interpreter's `multiprocessing` package
//! in a temp dir, put first on `PYTHONPATH`.
//!
//! Why `PYTHONPATH` and not `sys.path` tricks inside the role scripts: the
//! resource tracker is a separate interpreter started with `sys.executable`;
//! it inherits the environment, not the parent's `sys.path`. An environment
//! variable is the one thing that reaches it (and multiprocessing children).
//! The installed stdlib is only ever read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::discovery::Interpreter;
use crate::patch::{self, FilePatch};
use crate::proc::{Running, Termination};
use crate::variant::Variant;

/// A built overlay: `dir` goes on PYTHONPATH; `diff` is the exact text applied.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub dir: PathBuf,
    pub origin: String,
    pub diff: String,
}

/// Build the overlay of `variant` for `interp` under `root`, or `None` when
/// the variant runs the stock stdlib. The error is one line naming the
/// interpreter, the patch, the file and the hunk.
pub fn build(
    interp: &Interpreter,
    variant: &Variant,
    root: &Path,
    timeout: Duration,
) -> Result<Option<Overlay>, String> {
    let Some(patch) = variant.patch_for(interp.version) else {
        return Ok(None);
    };
    let (origin, text) = patch?;
    let files = patch::parse(text).map_err(|e| format!("{origin}: {e}"))?;
    let dir = root.join(format!(
        "overlay-{}-{}",
        sanitize(&interp.id),
        sanitize(&variant.name)
    ));
    let package = dir.join("multiprocessing");
    copy_tree(&interp.multiprocessing, &package)
        .map_err(|e| format!("cannot copy {}: {e}", interp.multiprocessing.display()))?;
    for file in &files {
        apply_file(&package, file)
            .map_err(|e| format!("patch does not apply to {} ({origin}): {e}", interp.id))?;
    }
    compile(interp, &package, timeout)?;
    Ok(Some(Overlay {
        dir,
        origin,
        diff: text.to_string(),
    }))
}

fn apply_file(package: &Path, file: &FilePatch) -> Result<(), String> {
    let target = package.join(&file.path);
    let patched = patched_text(package, file)?;
    std::fs::write(&target, patched).map_err(|e| format!("cannot write {}: {e}", target.display()))
}

/// The text of `file` in `package` after its hunks are applied.
fn patched_text(package: &Path, file: &FilePatch) -> Result<String, String> {
    let original = std::fs::read_to_string(package.join(&file.path))
        .map_err(|_| format!("{} is not in its multiprocessing package", file.path))?;
    patch::apply(&original, file)
        .map(|(text, _)| text)
        .map_err(|e| e.to_string())
}

/// Check, in memory, that the variant's patch applies to the installed
/// package; returns where the diff comes from and its text.
pub fn check(interp: &Interpreter, variant: &Variant) -> Result<Option<(String, String)>, String> {
    let Some(patch) = variant.patch_for(interp.version) else {
        return Ok(None);
    };
    let (origin, text) = patch?;
    let files = patch::parse(text).map_err(|e| format!("{origin}: {e}"))?;
    for file in &files {
        patched_text(&interp.multiprocessing, file)
            .map_err(|e| format!("patch does not apply to {} ({origin}): {e}", interp.id))?;
    }
    Ok(Some((origin, text.to_string())))
}

/// Byte-compile the copy once, so the dozens of processes that import it do
/// not each compile it again (they run with -B and could not cache it).
/// `-B` here too: compileall still writes the copy's bytecode, but the
/// stdlib modules it imports to do so never get a cache written.
fn compile(interp: &Interpreter, package: &Path, timeout: Duration) -> Result<(), String> {
    let mut cmd = crate::python::command(&interp.executable, None);
    cmd.args(["-I", "-B", "-m", "compileall", "-q"])
        .arg(package);
    let out = Running::spawn(cmd, timeout)
        .map_err(|e| format!("cannot run {}: {e}", interp.executable.display()))?
        .finish();
    match out.termination {
        Termination::Exited(0) if !out.timed_out => Ok(()),
        _ => Err(format!(
            "the patched package does not compile on {}: {}",
            interp.id,
            out.stdout
                .lines()
                .chain(out.stderr.lines())
                .last()
                .unwrap_or("no output")
        )),
    }
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

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
