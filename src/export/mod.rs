//! Exporters: every output is rendered from the same `Results` (hyperfine's
//! `export/` is the model). One trait, one implementation per format, and
//! one [`Outputs`] manager that checks every destination before the run and
//! writes each at the end through one code path.

pub mod advice;
pub mod archive;
pub mod bundle;
pub mod document;
pub mod expectations;
pub mod issue;
pub mod junit;
pub mod matrix;
pub mod merge;
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
/// (`--json`, `--junit`, `--out`/`--report`), checked before any work:
/// each on its own, and against each other (two naming the same file, a
/// file inside the bundle, two claims on stdout).
pub struct Outputs {
    format: Format,
    stdout: Box<dyn Exporter>,
    files: Vec<FileOutput>,
}

/// One file output and how it was asked for.
struct FileOutput {
    /// `--json`, `the bundle`: what asked for it.
    flag: &'static str,
    /// The path as given (escaped for a message).
    name: String,
    exporter: Box<dyn Exporter>,
    to: Destination,
    /// Where it is named (absolute, not through a final symlink): a link
    /// inside a bundle goes with the bundle.
    named: Option<PathBuf>,
}

impl FileOutput {
    /// `--json x.json`: how messages name it.
    fn shown(&self) -> String {
        format!("{} {}", self.flag, self.name)
    }

    /// The paths this output writes or names (none for stdout).
    fn paths(&self) -> Vec<PathBuf> {
        let written = match &self.to {
            Destination::File(t) => t.identity(),
            Destination::Dir { path, .. } => Some(path.clone()),
        };
        written.into_iter().chain(self.named.clone()).collect()
    }
}

impl Outputs {
    pub fn new(format: Format, view: View) -> Outputs {
        Outputs {
            format,
            stdout: for_format(format, view),
            files: Vec::new(),
        }
    }

    /// `--json FILE`.
    pub fn json(self, path: Option<&Path>) -> Result<Outputs, OutputError> {
        match path {
            Some(p) => self.file("--json", p, Box::new(Json(View::Matrix))),
            None => Ok(self),
        }
    }

    /// `--junit FILE`.
    pub fn junit(self, path: Option<&Path>) -> Result<Outputs, OutputError> {
        match path {
            Some(p) => self.file("--junit", p, Box::new(junit::Junit)),
            None => Ok(self),
        }
    }

    fn file(
        self,
        flag: &'static str,
        path: &Path,
        exporter: Box<dyn Exporter>,
    ) -> Result<Outputs, OutputError> {
        let target = FileTarget::check(path)?;
        let named = match target {
            FileTarget::Stdout | FileTarget::InPlace(_) => None,
            _ => Some(output::locate(path)?),
        };
        self.add(FileOutput {
            flag,
            name: output::show(path),
            exporter,
            to: Destination::File(target),
            named,
        })
    }

    /// `--archive`: the bundle `dir` also as `DIR.tar.gz` beside it. A file
    /// already there is replaced only with `force`, as the bundle is: its
    /// name was not given, so replacing it must be asked for.
    pub fn archive(self, dir: &Path, force: bool) -> Result<Outputs, OutputError> {
        let path = archive::path_for(dir);
        if !force && std::fs::symlink_metadata(&path).is_ok() {
            return Err(OutputError::ArchiveExists {
                path: output::show(&path),
            });
        }
        let top = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into());
        self.file(
            "--archive",
            &archive::path_for(dir),
            Box::new(archive::Archive { top }),
        )
    }

    /// `--out DIR` / `--report DIR`: the bundle.
    pub fn bundle(self, dir: Option<&Path>, force: bool) -> Result<Outputs, OutputError> {
        match dir {
            Some(d) => {
                let path = output::check_bundle_dir(d, force)?;
                self.add(FileOutput {
                    flag: "the bundle",
                    name: output::show(d),
                    exporter: Box::new(bundle::Bundle),
                    to: Destination::Dir { path, force },
                    named: None,
                })
            }
            None => Ok(self),
        }
    }

    /// Add `new` unless it collides with what is there.
    fn add(mut self, new: FileOutput) -> Result<Outputs, OutputError> {
        if new.to == Destination::File(FileTarget::Stdout) && self.format != Format::Table {
            return Err(OutputError::StdoutAndFormat {
                flag: new.flag.to_string(),
                output: new.shown(),
                format: self
                    .format
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default(),
            });
        }
        for old in &self.files {
            collision(old, &new)?;
        }
        self.files.push(new);
        Ok(self)
    }

    /// A `-` output has stdout: the terminal view then goes to stderr.
    fn stdout_taken(&self) -> bool {
        self.files
            .iter()
            .any(|f| f.to == Destination::File(FileTarget::Stdout))
    }

    /// Write the files, then stdout (when a file output is stdout, the
    /// table goes to stderr instead, or nowhere with --quiet).
    pub fn write(&self, results: &Results) -> Result<(), OutputError> {
        use std::io::Write;
        self.write_files(results)?;
        if self.stdout_taken() {
            if !crate::term::progress::quiet() {
                let _ = std::io::stderr().write_all(self.stdout.render(results).as_bytes());
            }
            return Ok(());
        }
        self.stdout
            .export(results, &Destination::File(FileTarget::Stdout))
    }

    /// Only the files (after a signal: the cases that completed).
    pub fn write_files(&self, results: &Results) -> Result<(), OutputError> {
        for f in &self.files {
            f.exporter.export(results, &f.to)?;
        }
        Ok(())
    }
}

/// Two outputs that would write over each other: the same file, both
/// stdout, or a file inside the bundle (which replaces its folder whole).
fn collision(a: &FileOutput, b: &FileOutput) -> Result<(), OutputError> {
    let stdout = Destination::File(FileTarget::Stdout);
    if a.to == stdout && b.to == stdout {
        return Err(OutputError::StdoutTwice {
            first: a.shown(),
            second: b.shown(),
        });
    }
    let b_paths = b.paths();
    if a.paths().iter().any(|p| b_paths.contains(p)) {
        return Err(OutputError::SameFile {
            first: a.shown(),
            second: b.shown(),
        });
    }
    let inside = |file: &FileOutput, bundle: &FileOutput, dir: &Path| {
        if file.paths().iter().any(|p| p.starts_with(dir)) {
            return Err(OutputError::InsideBundle {
                output: file.shown(),
                bundle: bundle.name.clone(),
            });
        }
        Ok(())
    };
    match (&a.to, &b.to) {
        (Destination::File(_), Destination::Dir { path, .. }) => inside(a, b, path),
        (Destination::Dir { path, .. }, Destination::File(_)) => inside(b, a, path),
        _ => Ok(()),
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
        let failed = r.failing.iter().map(|f| (f, ""));
        let flaky = r
            .flaky
            .iter()
            .map(|f| (f, " once (flaky: passed when run again)"));
        for (f, how) in failed.chain(flaky) {
            out += &format!(
                "  {} {}: {} {}{how}: {}\n",
                r.interpreter,
                r.variant,
                f.name,
                match f.kind {
                    FailureKind::Fail => "failed",
                    FailureKind::Error => "errored",
                },
                crate::term::style::short(&f.evidence)
            );
        }
    }
    out
}

#[cfg(test)]
mod collisions {
    use super::*;

    fn new() -> Outputs {
        Outputs::new(Format::Table, View::Matrix)
    }

    fn err(r: Result<Outputs, OutputError>) -> String {
        r.err().expect("refused").to_string()
    }

    #[test]
    fn two_outputs_on_one_file_or_on_stdout_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("same.out");
        let same = dir.path().join("x/../same.out");
        std::fs::create_dir(dir.path().join("x")).unwrap();
        let e = err(new().json(Some(&f)).and_then(|o| o.junit(Some(&same))));
        assert!(e.contains("name the same file"), "{e}");
        let e = err(new()
            .json(Some(Path::new("-")))
            .and_then(|o| o.junit(Some(Path::new("-")))));
        assert_eq!(
            e,
            "--json - and --junit - both write to stdout; send one of them to a file"
        );
        let e =
            err(Outputs::new(Format::Markdown, View::Matrix).json(Some(Path::new("/dev/stdout"))));
        assert!(
            e.contains("--json /dev/stdout and --format markdown both write to stdout"),
            "{e}"
        );
        // A table is fine: it goes to stderr.
        assert!(new().json(Some(Path::new("-"))).unwrap().stdout_taken());
        assert!(!new().json(Some(&f)).unwrap().stdout_taken());
    }

    #[test]
    fn a_file_inside_the_bundle_is_refused_in_either_order() {
        let dir = tempfile::tempdir().unwrap();
        let rep = dir.path().join("rep");
        std::fs::create_dir(&rep).unwrap();
        let inside = rep.join("extra.json");
        let e = err(new()
            .json(Some(&inside))
            .and_then(|o| o.bundle(Some(&rep), false)));
        assert!(e.contains("is inside the bundle"), "{e}");
        let e = err(new()
            .bundle(Some(&rep), false)
            .and_then(|o| o.junit(Some(&inside))));
        assert!(e.contains("is inside the bundle"), "{e}");
        let beside = dir.path().join("rep.json");
        assert!(
            new()
                .json(Some(&beside))
                .unwrap()
                .bundle(Some(&rep), false)
                .is_ok()
        );
    }
}
