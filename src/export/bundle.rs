//! The bug-report bundle (`report --out DIR`, `merge --report DIR`):
//! report.md, results.json, junit.xml, repro.py, patches/, transcripts/.
//!
//! Written atomically: everything goes into a temp dir next to DIR, which
//! is renamed into place at the end, so an error leaves no half bundle.

use std::fmt::Write as _;
use std::path::Path;

use super::output::{OutputError, parent_of, safe_component};
use super::{Destination, Exporter};
use crate::contract::{Case, Results, ScenarioId, VariantId};

/// The standalone reproduction script (stdlib only).
pub const REPRO_PY: &str = include_str!("../../pyscenarios/repro.py");

/// The bundle: `report.md` is its text form.
pub struct Bundle;

impl Exporter for Bundle {
    fn render(&self, results: &Results) -> String {
        markdown(results)
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
    put(root, "repro.py", REPRO_PY)?;
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
            let dir = format!(
                "transcripts/{}/{}/{}",
                slug("interpreter", &c.interpreter)?,
                c.scenario.name(),
                slug("variant", &c.variant)?
            );
            let label = slug("process label", &p.label)?;
            put(root, &format!("{dir}/{label}.stdout"), &p.stdout)?;
            put(root, &format!("{dir}/{label}.stderr"), &p.stderr)?;
        }
    }
    put(root, "report.md", &markdown(results))?;
    Ok(())
}

/// Fenced code that survives backticks in the text.
fn fenced(lang: &str, text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{text}{nl}{fence}\n")
}

fn details(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n</details>\n\n")
}

fn transcript_text(case: &Case) -> String {
    let mut out = String::new();
    for p in &case.processes {
        let _ = writeln!(out, "### {} ({}): {}", p.label, p.role, p.ended());
        for l in p.stdout.lines() {
            let _ = writeln!(out, "stdout | {l}");
        }
        for l in p.stderr.lines() {
            let _ = writeln!(out, "stderr | {l}");
        }
    }
    out
}

pub fn markdown(results: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# multiprocessing.shared_memory: an attacher's resource tracker unlinks the segment\n"
    );
    let _ = writeln!(
        md,
        "CPython bug bpo-38119 / [gh-82300](https://github.com/python/cpython/issues/82300) \
         (also bpo-39959 / gh-84140): `SharedMemory(name, create=False)` registers the segment \
         with the process's resource tracker, which unlinks it when that process exits. \
         Produced by `{}`; `{}`.\n",
        results.tool,
        super::matrix::summary_line(results, false)
    );
    md += "## Environment\n\n";
    let h = &results.host;
    let facts = [
        ("OS", h.os.clone()),
        (
            "kernel",
            format!("{} {} {}", h.kernel, h.kernel_release, h.machine),
        ),
        ("CPUs", h.cpus.to_string()),
        ("tool", results.tool.clone()),
        ("schema_version", results.schema_version.to_string()),
        (
            "wall time",
            format!("{:.1} s", results.timing.wall_ms as f64 / 1000.0),
        ),
    ];
    let rows: Vec<Vec<String>> = facts
        .iter()
        .map(|(k, v)| vec![k.to_string(), format!("`{}`", v.trim())])
        .collect();
    md += &md_table(&["fact", "value"], rows);
    if !results.merged_from.is_empty() {
        md += "\nMerged from:\n\n";
        for leg in &results.merged_from {
            let _ = writeln!(
                md,
                "- `{}`: {} on {} {} ({} CPUs)",
                leg.file,
                leg.interpreters.join(", "),
                leg.host.kernel,
                leg.host.kernel_release,
                leg.host.cpus
            );
        }
    }
    md += "\n## Interpreters\n\n";
    let rows: Vec<Vec<String>> = results
        .interpreters
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.implementation.clone(),
                i.source.to_string(),
                format!("`{}`", i.executable.display()),
                format!("`{}`", i.multiprocessing.display()),
            ]
        })
        .collect();
    md += &md_table(
        &[
            "id",
            "implementation",
            "source",
            "executable",
            "multiprocessing",
        ],
        rows,
    );
    md += "\n## Outcomes\n\nOne row per interpreter (and scenario), one column per variant. \
           `pass` means the observed symptoms are exactly the expected ones: on `stock` the \
           bug is expected to reproduce.\n\n";
    md += &format!(
        "{}\n{}\n",
        super::matrix::matrix(results).markdown(),
        super::matrix::summary_line(results, false)
    );
    md += "\nScenarios:\n\n";
    for s in &results.scenarios {
        let _ = writeln!(md, "- `{}`: {}", s.name, s.summary);
    }
    for cand in &results.candidates {
        let _ = writeln!(md, "\n## Verdict: `{}` vs stock\n", cand.candidate);
        md += &super::matrix::verdict_markdown(cand);
    }
    if !results.cpython_tests.is_empty() {
        md += "\n## CPython's own shared-memory tests\n\n`test._test_multiprocessing` \
               (names matching `*SharedMemory*` / `*shared_memory*`) run against each \
               variant's overlay.\n\n";
        md += &super::cpython_tests_table(results).markdown();
    }
    md += "\n## Stock vs patched, per interpreter\n\nUnified diffs of normalised transcripts \
           (segment names, pids, paths and line numbers replaced).\n";
    for interp in &results.interpreters {
        let _ = writeln!(md, "\n### {}\n", interp.id);
        for cand in results.candidates.iter().map(|c| c.candidate.as_str()) {
            for s in &results.scenarios {
                let (Some(a), Some(b)) = (
                    results.case(&interp.id, VariantId::Stock.name(), s.name),
                    results.case(&interp.id, cand, s.name),
                ) else {
                    continue;
                };
                let text = super::transcript::unified(a, b);
                let title = format!("{}: stock vs <code>{cand}</code>", s.name);
                if text.is_empty() {
                    let _ = writeln!(md, "- {title}: no difference");
                } else {
                    md += &details(&title, &fenced("diff", &text));
                }
            }
        }
    }
    md += "\n## Patches applied\n\nThe exact diff applied to each interpreter's copy of \
           `multiprocessing` (also in `patches/`). The installed stdlib is never changed.\n\n";
    for v in &results.variants {
        for p in &v.patches {
            md += &details(
                &format!("{} on {} ({})", v.name, p.interpreter, p.origin),
                &fenced("diff", &p.diff),
            );
        }
    }
    md += "## Transcripts\n\nRaw stdout/stderr of every process are in \
           `transcripts/<interpreter>/<scenario>/<variant>/`. The seed's scenario:\n\n";
    for c in results
        .cases
        .iter()
        .filter(|c| c.scenario == ScenarioId::ThreeProcess)
    {
        if c.processes.is_empty() {
            continue;
        }
        md += &details(
            &format!(
                "{} {}: {} ({})",
                c.interpreter,
                c.variant,
                c.outcome,
                c.verdict.as_str()
            ),
            &fenced("text", &transcript_text(c)),
        );
    }
    md += "## Reproduce without shmharness\n\n`repro.py` needs only the interpreter under test. \
           It runs the three processes on the stock stdlib, then on a temporary copy of \
           `multiprocessing` patched with `if create:`, and prints what happened:\n\n";
    let example = results
        .interpreters
        .first()
        .map(|i| {
            format!(
                "python{}.{}",
                i.version.to_string().split('.').next().unwrap_or("3"),
                i.version.to_string().split('.').nth(1).unwrap_or("x")
            )
        })
        .unwrap_or_else(|| "python3".into());
    md += &fenced(
        "sh",
        &format!(
            "{example} repro.py            # stock, then patched\n{example} repro.py --stock    # stock only\n"
        ),
    );
    md += "\nFiles: `results.json` (schema in `schema/results.schema.json` of shmharness), \
           `junit.xml`, `repro.py`, `patches/`, `transcripts/`.\n";
    md
}

/// A Markdown table of plain strings.
fn md_table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = super::table::Table::new(headers.iter().copied());
    for r in rows {
        t.plain_row(r);
    }
    t.markdown()
}
