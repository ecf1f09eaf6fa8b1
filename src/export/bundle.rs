//! The bug-report bundle (`report --out DIR`, `merge --report DIR`):
//! report.md, results.json, junit.xml, repro.py, patches/, transcripts/.
//!
//! Written atomically: everything goes into a temp dir next to DIR, which
//! is renamed into place at the end, so an error leaves no half bundle.

use std::collections::BTreeMap;
use std::path::Path;

use super::output::{OutputError, parent_of, safe_component};
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
    Ok(s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect())
}

/// Write the whole bundle for `results` to `out` (its real path): into a
/// temp dir beside it, renamed into place at the end, so an error leaves no
/// half bundle.
pub fn write(results: &Results, out: &Path, force: bool) -> Result<(), OutputError> {
    let fail = |e: &dyn std::fmt::Display| OutputError::Unwritable {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let out = &super::output::check_bundle_dir(out, force)?;
    let parent = parent_of(out);
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| fail(&e))?;
    fill(results, tmp.path())?;
    if out.exists() {
        // --force: move the old one aside, put the new one in, then delete.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| fail(&e))?;
        let aside = old.path().join("old");
        std::fs::rename(out, &aside).map_err(|e| fail(&e))?;
        if let Err(e) = std::fs::rename(tmp.path(), out) {
            let _ = std::fs::rename(&aside, out);
            return Err(fail(&e));
        }
    } else {
        std::fs::rename(tmp.path(), out).map_err(|e| fail(&e))?;
    }
    // The temp dir was renamed away; its drop finds nothing to remove.
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

fn fill(results: &Results, root: &Path) -> Result<(), OutputError> {
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
    put(root, "report.md", &super::issue::report_md(results, &diffs))?;
    put(root, "summary.md", &super::issue::summary_md(results))?;
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
