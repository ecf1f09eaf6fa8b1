//! The bug-report bundle (`report --out DIR`, `merge --report DIR`):
//! report.md, results.json, junit.xml, repro.py, patches/, transcripts/.
//!
//! Written atomically: everything goes into a temp dir next to DIR, which
//! is renamed into place at the end, so an error leaves no half bundle.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::commands::verify::{InterpreterVerdict, judge_candidate};
use crate::results::{Case, Results};

/// The standalone reproduction script (stdlib only).
pub const REPRO_PY: &str = include_str!("../../pyscenarios/repro.py");

/// Fail before any work if the bundle cannot be written to `out`.
pub fn check_target(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            bail!(
                "cannot write {}: it exists and is not a directory",
                out.display()
            );
        }
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            bail!(
                "{} exists and is not empty; pass --force to replace it",
                out.display()
            );
        }
    }
    let parent = parent_of(out);
    tempfile::Builder::new()
        .prefix(".shmharness-check-")
        .tempdir_in(&parent)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))
}

fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A path component from free text (interpreter ids, variant names).
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write the whole bundle for `results` to `out`.
pub fn write(results: &Results, out: &Path, force: bool) -> Result<()> {
    check_target(out, force)?;
    let parent = parent_of(out);
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    fill(results, tmp.path()).with_context(|| format!("cannot write {}", out.display()))?;
    if out.exists() {
        // --force: move the old one aside, put the new one in, then delete.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        let aside = old.path().join("old");
        std::fs::rename(out, &aside)
            .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", out.display()))?;
        if let Err(e) = std::fs::rename(tmp.path(), out) {
            let _ = std::fs::rename(&aside, out);
            bail!("cannot write {}: {e}", out.display());
        }
    } else {
        std::fs::rename(tmp.path(), out)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    }
    // The temp dir was renamed away; its drop finds nothing to remove.
    Ok(())
}

fn put(root: &Path, rel: &str, text: &str) -> Result<()> {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&p, text).with_context(|| format!("writing {rel}"))
}

fn fill(results: &Results, root: &Path) -> Result<()> {
    put(
        root,
        "results.json",
        &(serde_json::to_string_pretty(results)? + "\n"),
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
                &format!("patches/{}/{}.diff", slug(&p.interpreter), slug(&v.name)),
                &p.diff,
            )?;
        }
    }
    for c in &results.cases {
        for p in &c.processes {
            let dir = format!(
                "transcripts/{}/{}/{}",
                slug(&c.interpreter),
                slug(&c.scenario),
                slug(&c.variant)
            );
            put(root, &format!("{dir}/{}.stdout", slug(&p.label)), &p.stdout)?;
            put(root, &format!("{dir}/{}.stderr", slug(&p.label)), &p.stderr)?;
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
        let ended = match (p.exit_code, p.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "did not finish".into(),
        };
        let _ = writeln!(out, "### {} ({}): {ended}", p.label, p.role);
        for l in p.stdout.lines() {
            let _ = writeln!(out, "stdout | {l}");
        }
        for l in p.stderr.lines() {
            let _ = writeln!(out, "stderr | {l}");
        }
    }
    out
}

/// Candidates to judge against stock: every non-stock variant, when stock ran.
fn candidates(results: &Results) -> Vec<&str> {
    if !results.variants.iter().any(|v| v.name == "stock") {
        return Vec::new();
    }
    results
        .variants
        .iter()
        .filter(|v| v.name != "stock")
        .map(|v| v.name.as_str())
        .collect()
}

pub fn verdict_markdown(verdicts: &[InterpreterVerdict], candidate: &str) -> String {
    let (_, text) = crate::commands::verify::headline(verdicts, &format!("`{candidate}`"));
    let mut out = format!("**{text}**\n\n");
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            let verdict = if v.ok { "OK" } else { "FAIL" };
            vec![
                v.interpreter.clone(),
                v.source.clone(),
                verdict.into(),
                v.lines.join("<br>"),
            ]
        })
        .collect();
    out += &super::markdown::table(
        &strings(&["interpreter", "source", "verdict", "why"]),
        &rows,
    );
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
        super::summary_line(results)
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
    md += &super::markdown::table(&strings(&["fact", "value"]), &rows);
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
    md += &super::markdown::table(
        &strings(&[
            "id",
            "implementation",
            "source",
            "executable",
            "multiprocessing",
        ]),
        &rows,
    );
    md += "\n## Outcomes\n\nOne row per interpreter (and scenario), one column per variant. \
           `pass` means the observed symptoms are exactly the expected ones: on `stock` the \
           bug is expected to reproduce.\n\n";
    md += &super::markdown::matrix(results);
    md += "\nScenarios:\n\n";
    for s in &results.scenarios {
        let _ = writeln!(md, "- `{}`: {}", s.name, s.summary);
    }
    for cand in candidates(results) {
        let _ = writeln!(md, "\n## Verdict: `{cand}` vs stock\n");
        md += &verdict_markdown(&judge_candidate(results, cand), cand);
    }
    if !results.cpython_tests.is_empty() {
        md += "\n## CPython's own shared-memory tests\n\n`test._test_multiprocessing` \
               (names matching `*SharedMemory*` / `*shared_memory*`) run against each \
               variant's overlay.\n\n";
        md += &cpython_tests_table(results);
    }
    md += "\n## Stock vs patched, per interpreter\n\nUnified diffs of normalised transcripts \
           (segment names, pids, paths and line numbers replaced).\n";
    for interp in &results.interpreters {
        let _ = writeln!(md, "\n### {}\n", interp.id);
        for cand in candidates(results) {
            for s in &results.scenarios {
                let (Some(a), Some(b)) = (
                    results.case(&interp.id, "stock", &s.name),
                    results.case(&interp.id, cand, &s.name),
                ) else {
                    continue;
                };
                let text = super::diff::unified(a, b);
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
        .filter(|c| c.scenario == "three-process")
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Interpreters x variants, each cell the counts (and failing tests).
fn cpython_tests_table(results: &Results) -> String {
    let mut headers = strings(&["interpreter"]);
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let rows: Vec<Vec<String>> = results
        .interpreters
        .iter()
        .map(|i| {
            std::iter::once(i.id.clone())
                .chain(results.variants.iter().map(|v| {
                    results
                        .cpython_tests
                        .iter()
                        .find(|r| r.interpreter == i.id && r.variant == v.name)
                        .map_or_else(|| "-".to_string(), |r| r.cell())
                }))
                .collect()
        })
        .collect();
    super::markdown::table(&headers, &rows)
}
