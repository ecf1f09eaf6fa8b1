//! The bug-report bundle (`report --out DIR`, `merge --report DIR`):
//! report.md, results.json, junit.xml, repro.py, patches/, transcripts/.
//!
//! Written atomically: everything goes into a temp dir next to DIR, which
//! is renamed into place at the end, so an error leaves no half bundle. DIR
//! is an absolute path resolved before the run (`output::check_bundle_dir`),
//! never the current directory or one holding it, never a mount point.

use std::collections::BTreeMap;
use std::path::Path;

use super::output::{OutputError, parent_of, safe_component, show, unwritable};
use super::{Destination, Exporter};
use crate::contract::Results;

/// The standalone reproduction script (stdlib only).
pub const REPRO_PY: &str = include_str!("../../pyscenarios/repro.py");

/// The bundle: `report.md` is its text form.
pub struct Bundle;

impl Exporter for Bundle {
    fn render(&self, results: &Results) -> String {
        super::issue::report_md(results, &super::issue::shared_diffs(results))
    }

    fn export(&self, results: &Results, to: &Destination) -> Result<(), OutputError> {
        match to {
            Destination::Dir { path, force } => write(results, path, *force),
            Destination::File(_) => Err(OutputError::NotADirectory {
                path: "the bundle".into(),
            }),
        }
    }
}

/// A path component from a name in the results: checked (no `..`, no
/// separator), then made tidy.
fn slug(what: &'static str, s: &str) -> Result<String, OutputError> {
    safe_component(what, s)?;
    Ok(crate::contract::slug(s))
}

/// Write the whole bundle for `results` to `out` (its real, absolute path):
/// into a temp dir beside it, renamed into place at the end, so an error
/// leaves no half bundle.
pub fn write(results: &Results, out: &Path, force: bool) -> Result<(), OutputError> {
    let out = &super::output::check_bundle_dir(out, force)?;
    let parent = parent_of(out);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.tmp-", name_of(out)))
        .tempdir_in(&parent)
        .map_err(|e| unwritable(out, e))?;
    // A SIGKILL from here on leaves it: the ledger lets the next run (or
    // `clean`) remove it.
    crate::host::ledger::open();
    crate::host::ledger::note_dir(tmp.path());
    fill(results, tmp.path())?;
    replace(tmp, out, &|from, to| std::fs::rename(from, to))
}

/// `out`'s last component (`bundle` for none), for the temp dirs' names.
fn name_of(out: &Path) -> String {
    out.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into())
}

/// Put the finished bundle `new` at `out` (absolute). An existing `out`
/// (empty, or `--force`) is moved aside first, its permissions kept on the
/// new one, and deleted once the new one is in; if the new one cannot go
/// in, the old one is put back, and if even that fails, the error says
/// where both are (neither is deleted). `rename` is `std::fs::rename`
/// (a test's fails on cue).
fn replace(
    new: tempfile::TempDir,
    out: &Path,
    rename: &dyn Fn(&Path, &Path) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        // The temp dir was renamed away; its drop finds nothing to remove.
        return rename(new.path(), out).map_err(|e| unwritable(out, e));
    };
    // A 700 folder stays 700.
    std::fs::set_permissions(new.path(), meta.permissions()).map_err(|e| unwritable(out, e))?;
    let old = tempfile::Builder::new()
        .prefix(&format!(".{}.old-", name_of(out)))
        .tempdir_in(parent_of(out))
        .map_err(|e| unwritable(out, e))?;
    let aside = old.path().join("old");
    rename(out, &aside).map_err(|e| unwritable(out, e))?;
    if let Err(e) = rename(new.path(), out) {
        if let Err(back) = rename(&aside, out) {
            // Keep both: the old content and the new bundle stay where
            // they are, and the message says where.
            let _ = old.keep();
            let new = new.keep();
            return Err(OutputError::RollbackFailed {
                path: show(out),
                reason: e.to_string(),
                back: back.to_string(),
                old: show(&aside),
                new: show(&new),
            });
        }
        return Err(unwritable(out, e));
    }
    // Only now is the old bundle garbage (until here it is the only copy
    // of the user's folder, which a sweep must never delete): a SIGKILL
    // while it is deleted leaves it to the next run.
    crate::host::ledger::note_dir(old.path());
    // `old` drops here: the replaced bundle is deleted.
    Ok(())
}

fn put(root: &Path, rel: &str, text: &str) -> Result<(), OutputError> {
    let p = root.join(rel);
    let fail = |e: std::io::Error| OutputError::Unwritable {
        path: rel.to_string(),
        reason: e.to_string(),
    };
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(fail)?;
    }
    std::fs::write(&p, text).map_err(fail)
}

/// Every file of the bundle for `results`, under `root`.
pub fn fill(results: &Results, root: &Path) -> Result<(), OutputError> {
    put(
        root,
        "results.json",
        &super::Json(super::View::Matrix).render(results),
    )?;
    put(root, "junit.xml", &super::junit::render(results))?;
    put(root, "repro.py", &repro_py(results))?;
    put(root, "roles.py", crate::scenario::ROLES_PY)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            root.join("repro.py"),
            std::fs::Permissions::from_mode(0o755),
        );
    }
    for v in &results.variants {
        for p in &v.patches {
            put(
                root,
                &format!(
                    "patches/{}/{}.diff",
                    slug("interpreter", &p.interpreter)?,
                    slug("variant", &v.name)?
                ),
                &p.diff,
            )?;
        }
    }
    for c in &results.cases {
        for p in &c.processes {
            let method = c.start_method.map(|m| format!("-{m}")).unwrap_or_default();
            let dir = format!(
                "transcripts/{}/{}{method}/{}",
                slug("interpreter", &c.interpreter)?,
                c.scenario.name(),
                slug("variant", &c.variant)?
            );
            let label = slug("process label", &p.label)?;
            put(
                root,
                &format!("{dir}/{label}.stdout"),
                &cite_roles(&p.stdout),
            )?;
            put(
                root,
                &format!("{dir}/{label}.stderr"),
                &cite_roles(&p.stderr),
            )?;
        }
    }
    let diffs = super::issue::shared_diffs(results);
    for d in &diffs {
        put(root, &d.file, &d.body)?;
    }
    // report.md, summary.md, and the sections a too-big report.md moved
    // out to files of their own (it links them).
    for (file, text) in super::issue::bundle_markdown(results, &diffs) {
        put(root, &file, &text)?;
    }
    Ok(())
}

/// Transcripts cite the role script by its path in the run's temp dir,
/// which is gone: cite the bundle's copy instead.
fn cite_roles(text: &str) -> String {
    let re = regex::Regex::new(r"/[^\s\x22']*/roles/roles\.py").expect("regex");
    re.replace_all(text, "roles.py").into_owned()
}

/// repro.py with the report's candidate in it: for each minor version, the
/// diff that candidate applied there (the first non-stock variant with a
/// patch; none: the seed's `if create:`).
fn repro_py(results: &Results) -> String {
    let candidate = results
        .candidates
        .iter()
        .filter(|c| c.verdict == crate::contract::Verdict::Pass)
        .chain(&results.candidates)
        .map(|c| c.candidate.as_str())
        .find(|name| {
            results
                .variants
                .iter()
                .any(|v| v.name == *name && !v.patches.is_empty())
        });
    let Some(name) = candidate else {
        return REPRO_PY.to_string();
    };
    let variant = results.variants.iter().find(|v| v.name == name);
    let mut by_minor: BTreeMap<String, &str> = BTreeMap::new();
    for p in variant.map(|v| v.patches.as_slice()).unwrap_or_default() {
        if let Some(i) = results.interpreter(&p.interpreter) {
            by_minor
                .entry(format!("{}.{}", i.version.major, i.version.minor))
                .or_insert(&p.diff);
        }
    }
    let mut block = format!("CANDIDATE = {}\nPATCHES = {{\n", py_str(name));
    for (minor, diff) in by_minor {
        block += &format!("    {}: {},\n", py_str(&minor), py_str(diff));
    }
    block += "}\n";
    REPRO_PY.replacen("CANDIDATE = None\nPATCHES = {}\n", &block, 1)
}

/// A Python string literal (JSON's escapes are Python's too).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::os::unix::fs::PermissionsExt;

    /// A bundle `new` and an existing `out` (mode 700, one file) in `top`.
    fn setup(top: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
        let out = top.join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.txt"), "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700)).unwrap();
        let new = tempfile::Builder::new()
            .prefix(".out.tmp-")
            .tempdir_in(top)
            .unwrap();
        std::fs::write(new.path().join("results.json"), "new").unwrap();
        (new, out)
    }

    /// std::fs::rename, except that the calls numbered in `fail` fail.
    fn renamer(fail: &'static [usize]) -> impl Fn(&Path, &Path) -> std::io::Result<()> {
        let n = Cell::new(0);
        move |from, to| {
            n.set(n.get() + 1);
            if fail.contains(&n.get()) {
                return Err(std::io::Error::from_raw_os_error(libc::EBUSY));
            }
            std::fs::rename(from, to)
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_new_bundle_replaces_the_old_and_keeps_its_mode() {
        let top = tempfile::tempdir().unwrap();
        let (new, out) = setup(top.path());
        replace(new, &out, &renamer(&[])).unwrap();
        assert_eq!(names(&out), ["results.json"]);
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(names(top.path()), ["out"], "nothing left beside it");
    }

    #[test]
    fn a_new_bundle_that_cannot_go_in_puts_the_old_one_back() {
        let top = tempfile::tempdir().unwrap();
        let (new, out) = setup(top.path());
        let err = replace(new, &out, &renamer(&[2])).unwrap_err();
        assert!(matches!(err, OutputError::Unwritable { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(out.join("old.txt")).unwrap(), "old");
        assert_eq!(names(top.path()), ["out"], "nothing left beside it");
    }

    #[test]
    fn a_rollback_that_fails_says_where_the_old_and_new_content_are() {
        let top = tempfile::tempdir().unwrap();
        let (new, out) = setup(top.path());
        let new_at = new.path().to_path_buf();
        let err = replace(new, &out, &renamer(&[2, 3])).unwrap_err();
        let OutputError::RollbackFailed { old, new, .. } = &err else {
            panic!("{err}");
        };
        let msg = err.to_string();
        assert!(msg.contains("putting the old"), "{msg}");
        // Both are kept, where the message says.
        assert_eq!(
            std::fs::read_to_string(Path::new(old).join("old.txt")).unwrap(),
            "old"
        );
        assert_eq!(Path::new(new), new_at);
        assert_eq!(
            std::fs::read_to_string(new_at.join("results.json")).unwrap(),
            "new"
        );
        assert!(!out.exists());
    }
}
