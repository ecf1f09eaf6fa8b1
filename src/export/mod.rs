//! Exporters: every output is rendered from the same `Results` (hyperfine's
//! `export/` is the model). One trait, one implementation per format, and
//! one [`Outputs`] manager that checks every destination before the run and
//! writes each at the end through one code path.

pub mod bundle;
pub mod issue;
pub mod junit;
pub mod matrix;
pub mod output;
pub mod table;
pub mod transcript;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::contract::{Results, TestRun};
use output::{FileTarget, OutputError};
use table::{Cell, Table};

/// What `--format` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal (colored when it is one).
    Table,
    /// The whole results.json on stdout.
    Json,
    /// GitHub-flavoured Markdown, e.g. for $GITHUB_STEP_SUMMARY.
    Markdown,
}

/// Which part of the results a text format shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The outcome matrix (`run`, `report`, `merge`).
    Matrix,
    /// The candidate's verdict per interpreter (`verify`).
    Verify,
    /// CPython's own tests per interpreter and variant (`cpython-tests`).
    CpythonTests,
}

/// Where an export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    File(FileTarget),
    /// A bundle directory (its real path) and whether to replace it.
    Dir {
        path: PathBuf,
        force: bool,
    },
}

pub trait Exporter {
    /// The export as text.
    fn render(&self, results: &Results) -> String;

    /// Write it to `to` (file formats; the bundle writes a directory).
    fn export(&self, results: &Results, to: &Destination) -> Result<(), OutputError> {
        match to {
            Destination::File(target) => target.write(self.render(results).as_bytes()),
            Destination::Dir { path, .. } => Err(OutputError::IsDirectory {
                path: path.display().to_string(),
            }),
        }
    }
}

/// results.json (or, for `cpython-tests`, its runs).
pub struct Json(pub View);

impl Exporter for Json {
    fn render(&self, results: &Results) -> String {
        let text = match self.0 {
            View::CpythonTests => serde_json::to_string_pretty(&results.cpython_tests),
            _ => serde_json::to_string_pretty(results),
        };
        text.expect("results serialise") + "\n"
    }
}

/// The terminal view.
pub struct Terminal(pub View);

impl Exporter for Terminal {
    fn render(&self, results: &Results) -> String {
        match self.0 {
            View::Matrix => {
                let mut out = matrix::matrix(results).terminal();
                if !results.cpython_tests.is_empty() {
                    out += "\nCPython's own shared-memory tests (test._test_multiprocessing):\n";
                    out += &cpython_tests(results);
                }
                out
            }
            View::Verify => match &results.verify {
                Some(v) => matrix::verdict_lines(v),
                None => matrix::matrix(results).terminal(),
            },
            View::CpythonTests => cpython_tests(results),
        }
    }
}

/// GitHub-flavoured Markdown.
pub struct Markdown(pub View);

impl Exporter for Markdown {
    fn render(&self, results: &Results) -> String {
        match self.0 {
            View::CpythonTests => cpython_tests_table(results).markdown(),
            _ => {
                let mut out = format!(
                    "{}\n{}\n",
                    matrix::matrix(results).markdown(),
                    matrix::summary_line(results, false)
                );
                if let Some(v) = &results.verify {
                    out += &format!("\n{}", matrix::verdict_markdown(v));
                }
                out
            }
        }
    }
}

/// The exporter `--format` names.
pub fn for_format(format: Format, view: View) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(Terminal(view)),
        Format::Json => Box::new(Json(view)),
        Format::Markdown => Box::new(Markdown(view)),
    }
}

/// Every output of a command: stdout in `--format`, and the files
/// (`--json`, `--junit`, `--out`/`--report`), checked before any work.
pub struct Outputs {
    stdout: Box<dyn Exporter>,
    files: Vec<(Box<dyn Exporter>, Destination)>,
}

impl Outputs {
    pub fn new(format: Format, view: View) -> Outputs {
        Outputs {
            stdout: for_format(format, view),
            files: Vec::new(),
        }
    }

    /// `--json FILE`.
    pub fn json(mut self, path: Option<&Path>) -> Result<Outputs, OutputError> {
        if let Some(p) = path {
            self.files.push((
                Box::new(Json(View::Matrix)),
                Destination::File(FileTarget::check(p)?),
            ));
        }
        Ok(self)
    }

    /// `--junit FILE`.
    pub fn junit(mut self, path: Option<&Path>) -> Result<Outputs, OutputError> {
        if let Some(p) = path {
            self.files.push((
                Box::new(junit::Junit),
                Destination::File(FileTarget::check(p)?),
            ));
        }
        Ok(self)
    }

    /// `--out DIR` / `--report DIR`: the bundle.
    pub fn bundle(mut self, dir: Option<&Path>, force: bool) -> Result<Outputs, OutputError> {
        if let Some(d) = dir {
            let path = output::check_bundle_dir(d, force)?;
            self.files
                .push((Box::new(bundle::Bundle), Destination::Dir { path, force }));
        }
        Ok(self)
    }

    /// Write the files, then stdout.
    pub fn write(&self, results: &Results) -> Result<(), OutputError> {
        self.write_files(results)?;
        self.stdout
            .export(results, &Destination::File(FileTarget::Stdout))
    }

    /// Only the files (after a signal: the cases that completed).
    pub fn write_files(&self, results: &Results) -> Result<(), OutputError> {
        for (exporter, to) in &self.files {
            exporter.export(results, to)?;
        }
        Ok(())
    }
}

/// Interpreters x variants, each cell the counts (and failing tests).
pub fn cpython_tests_table(results: &Results) -> Table {
    let mut headers = vec!["interpreter".to_string()];
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let mut table = Table::new(headers);
    for i in &results.interpreters {
        let mut row = vec![Cell::plain(i.id.clone())];
        for v in &results.variants {
            row.push(
                match results
                    .cpython_tests
                    .iter()
                    .find(|r| r.interpreter == i.id && r.variant == v.name)
                {
                    Some(r) => Cell::judged(r.cell(), r.verdict),
                    None => Cell::plain("-"),
                },
            );
        }
        table.row(row);
    }
    table
}

/// The tests' table for a terminal, then the n/a reasons and one line per
/// failing test with its evidence.
fn cpython_tests(results: &Results) -> String {
    use crate::contract::{FailureKind, Verdict};
    let mut out = cpython_tests_table(results).terminal();
    let mut notes: Vec<String> = Vec::new();
    let runs: &[TestRun] = &results.cpython_tests;
    for r in runs.iter().filter(|r| r.verdict == Verdict::NotApplicable) {
        let note = format!("  {} n/a: {}\n", r.interpreter, r.reason);
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    out += &notes.concat();
    for r in runs {
        for f in &r.failing {
            out += &format!(
                "  {} {}: {} {}: {}\n",
                r.interpreter,
                r.variant,
                f.name,
                match f.kind {
                    FailureKind::Fail => "failed",
                    FailureKind::Error => "errored",
                },
                crate::style::short(&f.evidence)
            );
        }
    }
    out
}
