//! Unified diffs, as a CPython developer makes them (`git diff` in a cpython
//! checkout), applied strictly.
//!
//! A diff may touch any file. Hunks under `Lib/multiprocessing/` go into the
//! overlay of the package; hunks under `Lib/test/` into a copy of the `test`
//! package that CPython's own tests run from; every other file (`Misc/NEWS.d`,
//! `Doc/`) is kept as `Package::Other` for callers to name and skip.
//!
//! Strict means what a CPython reviewer expects from `git apply`: every
//! context and removed line must match exactly. A hunk may land at an offset
//! from the line its header names (the offset is reported), but there is no
//! fuzz: a hunk whose context differs is an error naming file and hunk.
//! Hand-written because the errors must name the hunk and the file, and
//! because multi-file diffs with `a/`/`b/` prefixes are the common input.
//!
//! git's extended headers are read too, because some of git's output has no
//! `---`/`+++` lines at all: an empty new file (`new file mode` only) is
//! created; a rename or a copy (`rename from`/`copy to`) touching
//! `Lib/multiprocessing/` or `Lib/test/` is refused like a deletion, never
//! dropped, since dropping it would verify a different fix.

use std::fmt;

/// Which package of the stdlib a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// `Lib/multiprocessing/`: the overlay.
    Multiprocessing,
    /// `Lib/test/`: the tests' copy of the `test` package.
    Test,
    /// Anything else (`Misc/NEWS.d/...`, `Doc/...`): not applied.
    Other,
}

/// One file's part of a diff. `path` is relative to its package directory
/// (`shared_memory.py`, `_test_multiprocessing.py`), or the repository path
/// for `Package::Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    pub package: Package,
    pub path: String,
    /// The diff creates the file (`--- /dev/null`, or git's `new file
    /// mode` with no hunks: an empty file).
    pub new_file: bool,
    pub hunks: Vec<Hunk>,
}

/// The files of `files` in `package`.
pub fn in_package(files: &[FilePatch], package: Package) -> Vec<&FilePatch> {
    files.iter().filter(|f| f.package == package).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based line of the first old line, as the header says.
    pub old_start: usize,
    pub lines: Vec<HunkLine>,
    /// `\ No newline at end of file` after the hunk's last old line: the
    /// file must end there, without a newline.
    pub old_no_newline: bool,
    /// The same after its last new line: the result ends without one.
    pub new_no_newline: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the patch is empty")]
    Empty,
    #[error("the patch is not text (binary data)")]
    Binary,
    #[error(
        "no unified diff found (expected `--- a/Lib/multiprocessing/...` and `+++ b/...` lines)"
    )]
    NotADiff,
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error(
        "line {line} ends in CRLF: `git apply` would match no line of the stdlib's LF files with it; convert the diff to LF line endings (`dos2unix`, or `git diff` saved without an editor that writes CRLF)"
    )]
    Crlf { line: usize },
    #[error("`{path}` is not a path inside a cpython checkout (absolute, or with `..`)")]
    UnsafePath { path: String },
    #[error(
        "`{path}` deletes a file under Lib/multiprocessing/ or Lib/test/; that cannot be overlaid"
    )]
    Deletes { path: String },
    /// git's `rename from`/`rename to` with either side in the packages.
    /// `git diff --no-renames` turns a rename into a deletion and a new
    /// file, so for a file renamed out of the packages it is no way out.
    #[error("{}", renamed_message(from, to))]
    Renamed { from: String, to: String },
    /// git's `copy from`/`copy to` (`-C`) into the packages: the copy's
    /// text is not in the diff.
    #[error(
        "`{from}` is copied to `{to}`; the diff does not hold the copy's text, so it cannot be overlaid: make the diff without copy detection (`git diff` without `-C`), which shows the copy as a new file"
    )]
    Copied { from: String, to: String },
    /// Every file is outside the packages; `hint` (empty, or `; ...`) says
    /// how to fix paths that hold `Lib/multiprocessing/` or `Lib/test/`
    /// behind other directories.
    #[error(
        "the diff changes nothing under Lib/multiprocessing/ or Lib/test/ (it touches only {touched}){hint}"
    )]
    NothingToApply { touched: String, hint: String },
}

fn renamed_message(from: &str, to: &str) -> String {
    let deletes = classify(from).is_ok_and(|(p, _)| p != Package::Other);
    let why = if deletes {
        "a rename deletes a file under Lib/multiprocessing/ or Lib/test/, which cannot be overlaid (`git diff --no-renames` shows it as that deletion): verify the fix without the rename"
    } else {
        "the diff does not hold the file's text, so it cannot be overlaid: make the diff with `git diff --no-renames`, which shows the file as new"
    };
    format!("`{from}` is renamed to `{to}`; {why}")
}

/// A hunk header past this line is broken, not a backport: no stdlib file
/// comes near it (the largest, under Lib/test/, have about 50,000 lines).
pub const MAX_HEADER_LINE: usize = 10_000_000;

/// Where one hunk landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The file, relative to the package.
    pub path: String,
    /// 1-based hunk number.
    pub hunk: usize,
    /// Lines from where the header said (positive: further down).
    pub offset: isize,
    /// Other places in the file where the hunk's context also matches (the
    /// nearest was taken).
    pub other_matches: usize,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} hunk #{}", self.path, self.hunk)?;
        match self.offset {
            0 => write!(f, " applied at the line its header names")?,
            n => write!(
                f,
                " applied {} line{} {} than its header says",
                n.unsigned_abs(),
                if n.abs() == 1 { "" } else { "s" },
                if n > 0 { "later" } else { "earlier" }
            )?,
        }
        if self.other_matches > 0 {
            write!(
                f,
                " (its context also matches {} other place{}; the nearest was taken)",
                self.other_matches,
                if self.other_matches == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// Why a file's hunks do not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub path: String,
    /// 1-based hunk number (0: the file itself).
    pub hunk: usize,
    pub old_start: usize,
    pub kind: ApplyErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyErrorKind {
    /// The file is not in the package.
    Missing,
    /// The header's line is past [`MAX_HEADER_LINE`]: broken, not a
    /// backport (a header past the end of the file is searched from there).
    AbsurdStart { lines: usize },
    /// The diff creates the file, and the package already has it.
    Exists,
    /// The hunk says the file ends without a newline after its last old
    /// line, and the file does not (stdlib files end in one): `git apply`
    /// refuses this too.
    NoNewlineAtEnd,
    /// No place where every context and removed line matches.
    Mismatch {
        /// The hunk's first old line.
        expected: String,
        /// The closest place: where most of the hunk's old lines match, and
        /// its first line that does not (1-based line, what the file has,
        /// what the diff expects).
        nearest: Option<Box<Nearest>>,
    },
}

/// Where a hunk that does not apply comes closest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nearest {
    /// 1-based line of the file where the hunk would start.
    pub start: usize,
    /// 1-based line of the first line that differs.
    pub line: usize,
    pub found: String,
    pub expected: String,
}

impl ApplyError {
    pub fn missing(path: &str) -> ApplyError {
        ApplyError {
            path: path.to_string(),
            hunk: 0,
            old_start: 0,
            kind: ApplyErrorKind::Missing,
        }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ApplyErrorKind::Missing => {
                write!(
                    f,
                    "{} does not exist in this interpreter's stdlib (a diff may add a file only as new)",
                    self.path
                )
            }
            ApplyErrorKind::AbsurdStart { lines } => write!(
                f,
                "{} hunk #{} starts at line {}, but the file has {lines} lines and no stdlib file comes near line {}: the hunk header is broken",
                self.path,
                self.hunk,
                self.old_start,
                thousands(MAX_HEADER_LINE)
            ),
            ApplyErrorKind::NoNewlineAtEnd => write!(
                f,
                "{} hunk #{} (at line {}) says the file ends there without a newline (`\\ No newline at end of file`), but this interpreter's file does not: `git apply` refuses it too",
                self.path, self.hunk, self.old_start
            ),
            ApplyErrorKind::Exists => write!(
                f,
                "{} is a new file in the diff, but this interpreter's package already has it",
                self.path
            ),
            ApplyErrorKind::Mismatch { expected, nearest } => {
                write!(
                    f,
                    "{} hunk #{} (at line {}) does not match",
                    self.path, self.hunk, self.old_start
                )?;
                match nearest {
                    Some(n) => {
                        let found = match n.found.trim() {
                            "" => "is blank".to_string(),
                            text => format!("reads `{text}`"),
                        };
                        write!(
                            f,
                            ": closest at line {}, but line {} {found} where the diff expects `{}`",
                            n.start,
                            n.line,
                            n.expected.trim()
                        )
                    }
                    None => write!(f, ": expected `{}`, found nowhere", expected.trim()),
                }
            }
        }
    }
}

impl std::error::Error for ApplyError {}

/// `10000000` -> `10,000,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The diff's lines, split at `\n` only: a `\r` stays part of its line, as
/// `git apply` reads it (`str::lines` would drop it quietly).
fn diff_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// Parse a (possibly multi-file) unified diff.
pub fn parse(text: &str) -> Result<Vec<FilePatch>, PatchError> {
    let files: Vec<FilePatch> = sections(text)?.into_iter().map(|(f, _)| f).collect();
    if files.is_empty() {
        return Err(PatchError::NotADiff);
    }
    if files.iter().all(|f| f.package == Package::Other) {
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let hint = files
            .iter()
            .find_map(|f| misplaced(&f.path))
            .map(|lead| {
                let n = lead.matches('/').count();
                format!(
                    "; paths must start with Lib/ after at most one a/ or b/ prefix: make the diff with `git diff` in the cpython checkout's root, or strip the {n} leading component{} before Lib/ (`{lead}`) from every path",
                    if n == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_default();
        return Err(PatchError::NothingToApply {
            touched: names.join(", "),
            hint,
        });
    }
    Ok(files)
}

/// What stands before `Lib/multiprocessing/` or `Lib/test/` in a path that
/// holds one of them behind other directories (`cp3.15/` of
/// `cp3.15/Lib/multiprocessing/x.py`, a plain `diff -ru` of two trees).
fn misplaced(path: &str) -> Option<&str> {
    ["/Lib/multiprocessing/", "/Lib/test/"]
        .iter()
        .filter_map(|dir| path.find(dir))
        .min()
        .map(|at| &path[..=at])
}

/// Each file of the diff and the lines of the text it spans (from its
/// `diff --git` line, else its `---` line, to its last hunk line).
fn sections(text: &str) -> Result<Vec<(FilePatch, std::ops::Range<usize>)>, PatchError> {
    if text.trim().is_empty() {
        return Err(PatchError::Empty);
    }
    if text.contains('\0') || text.starts_with("GIT binary patch") {
        return Err(PatchError::Binary);
    }
    let lines = diff_lines(text);
    // As git apply: a `\r` is part of its line. On an added line it is
    // content; on any other (context, removed, headers) no LF file of the
    // stdlib can match it, which is a CRLF diff.
    if let Some(at) = lines
        .iter()
        .position(|l| l.ends_with('\r') && (!l.starts_with('+') || l.starts_with("+++ ")))
    {
        return Err(PatchError::Crlf { line: at + 1 });
    }
    let binary = |i: usize| {
        lines
            .get(i)
            .is_some_and(|l| l.starts_with("GIT binary patch") || l.starts_with("Binary files "))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let git = if lines[i].starts_with("diff --git ") {
            let (git, next) = git_header(&lines, i);
            git.refuse_moves()?;
            i = next;
            Some(git)
        } else {
            None
        };
        if file_header_at(&lines, i) {
            let file = file_section(&lines, &mut i)?;
            out.push((file, start..i));
            continue;
        }
        if binary(i) {
            return Err(PatchError::Binary);
        }
        match git {
            // git's header alone: an empty new file, a pure rename...
            Some(git) => {
                if let Some(file) = git.without_hunks()? {
                    out.push((file, start..i));
                }
            }
            None => i += 1,
        }
    }
    Ok(out)
}

fn file_header_at(lines: &[&str], i: usize) -> bool {
    lines.get(i).is_some_and(|l| l.starts_with("--- "))
        && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "))
}

/// The file whose `---`/`+++` lines are at `*i`, with its hunks; `*i` ends
/// after them.
fn file_section(lines: &[&str], i: &mut usize) -> Result<FilePatch, PatchError> {
    let old = header_path(lines[*i]);
    let new = header_path(lines[*i + 1]);
    let new_file = old == "/dev/null";
    let named = if new == "/dev/null" { old } else { new };
    let (package, path) = classify(named)?;
    if new == "/dev/null" && package != Package::Other {
        return Err(PatchError::Deletes {
            path: named.to_string(),
        });
    }
    *i += 2;
    let mut hunks = Vec::new();
    while *i < lines.len() && lines[*i].starts_with("@@") {
        let (hunk, next) = parse_hunk(lines, *i)?;
        hunks.push(hunk);
        *i = next;
    }
    if hunks.is_empty() {
        return Err(PatchError::Malformed {
            line: *i + 1,
            message: format!("no hunks for `{path}`"),
        });
    }
    Ok(FilePatch {
        package,
        path,
        new_file,
        hunks,
    })
}

/// git's extended header: the `diff --git` line and what follows it up to
/// the `---` line (or the next file, when there is none).
struct GitHeader<'a> {
    /// 0-based line of `diff --git`.
    at: usize,
    line: &'a str,
    new_file: bool,
    deleted: bool,
    rename: (Option<&'a str>, Option<&'a str>),
    copy: (Option<&'a str>, Option<&'a str>),
}

fn git_header<'a>(lines: &[&'a str], at: usize) -> (GitHeader<'a>, usize) {
    let mut git = GitHeader {
        at,
        line: lines[at],
        new_file: false,
        deleted: false,
        rename: (None, None),
        copy: (None, None),
    };
    let mut i = at + 1;
    while let Some(&line) = lines.get(i) {
        let path = |prefix: &str| line.strip_prefix(prefix).map(unquote);
        if let Some(p) = path("rename from ") {
            git.rename.0 = Some(p);
        } else if let Some(p) = path("rename to ") {
            git.rename.1 = Some(p);
        } else if let Some(p) = path("copy from ") {
            git.copy.0 = Some(p);
        } else if let Some(p) = path("copy to ") {
            git.copy.1 = Some(p);
        } else if line.starts_with("new file mode ") {
            git.new_file = true;
        } else if line.starts_with("deleted file mode ") {
            git.deleted = true;
        } else if ![
            "old mode ",
            "new mode ",
            "similarity index ",
            "dissimilarity index ",
            "index ",
        ]
        .iter()
        .any(|p| line.starts_with(p))
        {
            break;
        }
        i += 1;
    }
    (git, i)
}

/// A path of git's header as written (git quotes unusual names).
fn unquote(path: &str) -> &str {
    path.strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(path)
}

impl<'a> GitHeader<'a> {
    /// A rename touching the packages, or a copy into them, cannot be
    /// overlaid: the overlay is built from the interpreter's own files and
    /// the diff alone.
    fn refuse_moves(&self) -> Result<(), PatchError> {
        let in_packages = |p: &str| classify(p).map(|(k, _)| k != Package::Other);
        if let (Some(from), Some(to)) = self.rename
            && (in_packages(from)? || in_packages(to)?)
        {
            return Err(PatchError::Renamed {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        if let (Some(from), Some(to)) = self.copy
            && in_packages(to)?
        {
            return Err(PatchError::Copied {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        Ok(())
    }

    /// The file this header stands for when no `---`/`+++` lines follow:
    /// an empty new file, an empty file deleted, or (outside the packages)
    /// a pure rename or copy. `None` for a mode change alone.
    fn without_hunks(&self) -> Result<Option<FilePatch>, PatchError> {
        let named = match self.rename.1.or(self.copy.1) {
            Some(to) => to,
            None if self.new_file || self.deleted => {
                self.named().ok_or_else(|| PatchError::Malformed {
                    line: self.at + 1,
                    message: format!("cannot tell the file's name from `{}`", self.line),
                })?
            }
            None => return Ok(None),
        };
        let (package, path) = classify(named)?;
        if self.deleted && package != Package::Other {
            return Err(PatchError::Deletes {
                path: named.to_string(),
            });
        }
        Ok(Some(FilePatch {
            package,
            path,
            new_file: self.new_file,
            hunks: Vec::new(),
        }))
    }

    /// The new path of `diff --git OLD NEW` when both name the same file
    /// (a new or deleted file), as git itself reads it: the line splits in
    /// the middle, the halves equal past their first component (`a/`, `b/`,
    /// or `--src-prefix`/`--dst-prefix`) or in full (`--no-prefix`).
    fn named(&self) -> Option<&'a str> {
        let rest = self.line.strip_prefix("diff --git ")?;
        let mid = rest.len() / 2;
        if rest.len().is_multiple_of(2) || !rest.is_char_boundary(mid) || &rest[mid..=mid] != " " {
            return None;
        }
        let (old, new) = (&rest[..mid], &rest[mid + 1..]);
        let tail = |p: &'a str| p.split_once('/').map(|(_, t)| t);
        (old == new || tail(old).is_some_and(|t| tail(new) == Some(t))).then_some(unquote(new))
    }
}

/// The parts of a diff that are applied (Lib/multiprocessing/, Lib/test/):
/// what `patch show` prints; a NEWS entry or a Doc change is left out, and
/// so is text between files (a mail's header, a signature). Each file keeps
/// its own git header (`diff --git`, `new file mode`, `index`, ...); an
/// empty new file is that header alone.
pub fn applied_part(text: &str) -> String {
    let Ok(sections) = sections(text) else {
        // Only parsed diffs are shown; hide nothing of one that is not.
        return text.to_string();
    };
    let lines = diff_lines(text);
    let mut out = String::new();
    for (file, span) in sections {
        if file.package != Package::Other {
            for line in &lines[span] {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn header_path(line: &str) -> &str {
    let rest = &line[4..];
    // Drop a trailing timestamp ("\t2024-01-01 ...").
    rest.split('\t').next().unwrap_or(rest).trim()
}

/// Where a diff's path belongs: `a/Lib/multiprocessing/x.py`,
/// `Lib/multiprocessing/x.py`, `multiprocessing/x.py` and a bare `x.py` are
/// `x.py` of multiprocessing; `Lib/test/...` is the test package; anything
/// else is `Other` (skipped, with a note). Absolute paths and `..` are
/// refused outright.
pub fn classify(path: &str) -> Result<(Package, String), PatchError> {
    let unsafe_path = || PatchError::UnsafePath {
        path: path.to_string(),
    };
    let mut p = path;
    for prefix in ["a/", "b/"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            p = rest;
            break;
        }
    }
    if p.starts_with('/') || p.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
        return Err(unsafe_path());
    }
    let (package, rel) = if let Some(rest) = p
        .strip_prefix("Lib/multiprocessing/")
        .or_else(|| p.strip_prefix("multiprocessing/"))
    {
        (Package::Multiprocessing, rest)
    } else if let Some(rest) = p.strip_prefix("Lib/test/") {
        (Package::Test, rest)
    } else if !p.contains('/') && p.ends_with(".py") {
        (Package::Multiprocessing, p)
    } else {
        return Ok((Package::Other, p.to_string()));
    };
    if rel.is_empty() {
        return Err(unsafe_path());
    }
    Ok((package, rel.to_string()))
}

fn parse_hunk(lines: &[&str], at: usize) -> Result<(Hunk, usize), PatchError> {
    let (old_start, old_len, new_len) = hunk_header(lines[at], at)?;
    let (mut old_left, mut new_left) = (old_len, new_len);
    let mut out = Vec::new();
    let (mut old_no_newline, mut new_no_newline) = (false, false);
    let mut i = at + 1;
    while (old_left > 0 || new_left > 0) && i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.starts_with('\\') {
            no_newline(out.last(), &mut old_no_newline, &mut new_no_newline);
            continue;
        }
        let malformed = |message: &str| PatchError::Malformed {
            line: i,
            message: message.into(),
        };
        let body = line.get(1..).unwrap_or("").to_string();
        let parsed = match line.chars().next() {
            Some(' ') | None if old_left > 0 && new_left > 0 => {
                old_left -= 1;
                new_left -= 1;
                HunkLine::Context(body)
            }
            Some('-') if old_left > 0 => {
                old_left -= 1;
                HunkLine::Remove(body)
            }
            Some('+') if new_left > 0 => {
                new_left -= 1;
                HunkLine::Add(body)
            }
            Some(' ' | '-' | '+') | None => {
                return Err(malformed("hunk line counts do not match its header"));
            }
            _ => return Err(malformed("hunk is shorter than its header says")),
        };
        out.push(parsed);
    }
    if old_left > 0 || new_left > 0 {
        return Err(PatchError::Malformed {
            line: at + 1,
            message: format!("hunk is cut short: `{}`", lines[at]),
        });
    }
    while i < lines.len() && lines[i].starts_with('\\') {
        no_newline(out.last(), &mut old_no_newline, &mut new_no_newline);
        i += 1;
    }
    Ok((
        Hunk {
            old_start,
            lines: out,
            old_no_newline,
            new_no_newline,
        },
        i,
    ))
}

/// `\ No newline at end of file` after `last`: its side (old for a removed
/// line, new for an added one, both for context) ends without a newline.
fn no_newline(last: Option<&HunkLine>, old: &mut bool, new: &mut bool) {
    match last {
        Some(HunkLine::Context(_)) => (*old, *new) = (true, true),
        Some(HunkLine::Remove(_)) => *old = true,
        Some(HunkLine::Add(_)) => *new = true,
        None => {}
    }
}

/// `@@ -118,7 +118,8 @@ ...` -> (old start, old length, new length); a
/// range without a length has one line.
fn hunk_header(header: &str, at: usize) -> Result<(usize, usize, usize), PatchError> {
    let bad = |message: &str| PatchError::Malformed {
        line: at + 1,
        message: format!("{message}: `{header}`"),
    };
    let ranges = header
        .strip_prefix("@@ ")
        .and_then(|h| h.split(" @@").next())
        .ok_or_else(|| bad("bad hunk header"))?;
    let mut parts = ranges.split(' ');
    let old = parts
        .next()
        .and_then(|p| p.strip_prefix('-'))
        .ok_or_else(|| bad("bad hunk header"))?;
    let new = parts
        .next()
        .and_then(|p| p.strip_prefix('+'))
        .ok_or_else(|| bad("bad hunk header"))?;
    let range = |r: &str| -> Option<(usize, usize)> {
        let mut it = r.splitn(2, ',');
        let start = it.next()?.parse().ok()?;
        let len = match it.next() {
            Some(l) => l.parse().ok()?,
            None => 1,
        };
        Some((start, len))
    };
    let (old_start, old_len) = range(old).ok_or_else(|| bad("bad old range"))?;
    let (_, new_len) = range(new).ok_or_else(|| bad("bad new range"))?;
    Ok((old_start, old_len, new_len))
}

/// Apply one file's hunks to `original`. Returns the new text and where each
/// hunk landed.
pub fn apply(original: &str, patch: &FilePatch) -> Result<(String, Vec<Applied>), ApplyError> {
    // `git apply` refuses to create a file that is there; so does this
    // (an empty new file would otherwise keep the old text).
    if patch.new_file && !original.is_empty() {
        return Err(ApplyError {
            path: patch.path.clone(),
            hunk: 0,
            old_start: 0,
            kind: ApplyErrorKind::Exists,
        });
    }
    // A new file (empty original) ends with a newline, as `git apply` makes
    // it, unless its last hunk says otherwise.
    let mut ends_with_newline = original.ends_with('\n') || original.is_empty();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let mut applied = Vec::new();
    // Lines added minus lines removed by earlier hunks shift later ones.
    let mut shift: isize = 0;
    for (n, hunk) in patch.hunks.iter().enumerate() {
        let old: Vec<&str> = hunk
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(s) | HunkLine::Remove(s) => Some(s.as_str()),
                HunkLine::Add(_) => None,
            })
            .collect();
        let new: Vec<String> = hunk
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(s) | HunkLine::Add(s) => Some(s.clone()),
                HunkLine::Remove(_) => None,
            })
            .collect();
        let error = |kind| ApplyError {
            path: patch.path.clone(),
            hunk: n + 1,
            old_start: hunk.old_start,
            kind,
        };
        // A header past the end of the file (a backport: main's file is
        // longer than the branch's) is searched from the end, like any
        // offset; an absurd one is an error. The search is over the file's
        // lines, whatever the header says, so it cannot run for long.
        if hunk.old_start > MAX_HEADER_LINE {
            return Err(error(ApplyErrorKind::AbsurdStart {
                lines: original.lines().count(),
            }));
        }
        // Where the header puts the hunk: its first old line, or, for a
        // hunk with no old lines (`@@ -5,0 +6 @@`), after line N.
        let first = if old.is_empty() {
            hunk.old_start
        } else {
            hunk.old_start.max(1) - 1
        };
        let header = first as isize + shift;
        let expected = header.clamp(0, lines.len() as isize) as usize;
        let matches = find_all(&lines, &old);
        let Some(&at) = matches
            .iter()
            .min_by_key(|&&at| (at.abs_diff(expected), at < expected))
        else {
            return Err(error(ApplyErrorKind::Mismatch {
                expected: old.first().unwrap_or(&"").to_string(),
                nearest: nearest(&lines, &old, expected).map(Box::new),
            }));
        };
        let at_end = at + old.len() == lines.len();
        if hunk.old_no_newline && (!at_end || original.ends_with('\n')) {
            return Err(error(ApplyErrorKind::NoNewlineAtEnd));
        }
        if at_end {
            ends_with_newline = !hunk.new_no_newline;
        }
        lines.splice(at..at + old.len(), new.iter().cloned());
        // Counted from the header's line, not from the end it was clamped
        // to: a hunk of line 450 found at 251 is 199 lines earlier.
        let offset = at as isize - header;
        applied.push(Applied {
            path: patch.path.clone(),
            hunk: n + 1,
            offset,
            other_matches: matches.len() - 1,
        });
        shift += new.len() as isize - old.len() as isize + offset;
    }
    let mut text = lines.join("\n");
    if ends_with_newline && !lines.is_empty() {
        text.push('\n');
    }
    Ok((text, applied))
}

/// Every place where `needle` matches `lines` exactly, in order.
fn find_all(lines: &[String], needle: &[&str]) -> Vec<usize> {
    if needle.len() > lines.len() {
        return Vec::new();
    }
    (0..=lines.len() - needle.len())
        .filter(|&at| needle.iter().zip(&lines[at..]).all(|(a, b)| *a == b))
        .collect()
}

/// Where the hunk's old lines come closest to matching: the start whose
/// run of equal leading lines is longest (then the most equal lines, then
/// the nearest to `expected`), and its first line that differs: where a
/// branch's code diverges from the diff's. `None` when no line matches.
fn nearest(lines: &[String], old: &[&str], expected: usize) -> Option<Nearest> {
    let equal = |at: usize, k: usize| lines.get(at + k).is_some_and(|x| x == old[k]);
    let score = |at: usize| {
        let prefix = (0..old.len()).take_while(|&k| equal(at, k)).count();
        let total = (0..old.len()).filter(|&k| equal(at, k)).count();
        (prefix, total)
    };
    let (at, _) = (0..lines.len())
        .map(|at| (at, score(at)))
        .filter(|(_, s)| s.1 > 0)
        .max_by(|a, b| {
            a.1.cmp(&b.1)
                .then(b.0.abs_diff(expected).cmp(&a.0.abs_diff(expected)))
        })?;
    let k = (0..old.len()).find(|&k| lines.get(at + k).is_none_or(|x| x != old[k]))?;
    Some(Nearest {
        start: at + 1,
        line: at + k + 1,
        found: lines
            .get(at + k)
            .cloned()
            .unwrap_or_else(|| "(end of file)".into()),
        expected: old[k].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_git_header_names_its_file_only_when_the_line_splits_in_the_middle() {
        fn named(line: &str) -> Option<&str> {
            git_header(&[line], 0).0.named()
        }
        assert_eq!(named("diff --git a/x.py b/x.py"), Some("b/x.py"));
        assert_eq!(named("diff --git x.py x.py"), Some("x.py"));
        // Halves of different lengths (an even line) do not name one file,
        // whatever their tails; nor does an odd line split at a non-space.
        assert_eq!(named("diff --git aa/x b/x"), None);
        assert_eq!(named("diff --git a/xXb/x"), None);
    }

    #[test]
    fn thousands_groups_digits_from_the_right() {
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(123_456), "123,456");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    const ORIGINAL: &str = "a\nb\nc\nd\ne\n";

    fn one(diff: &str) -> FilePatch {
        parse(diff).unwrap().remove(0)
    }

    #[test]
    fn applies_exact_and_at_offset() {
        let p = one(
            "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -2,2 +2,3 @@\n b\n-c\n+C\n+C2\n",
        );
        assert_eq!(
            (p.package, p.path.as_str()),
            (Package::Multiprocessing, "x.py")
        );
        let (text, applied) = apply(ORIGINAL, &p).unwrap();
        assert_eq!(text, "a\nb\nC\nC2\nd\ne\n");
        assert_eq!(applied[0].offset, 0);
        let (text, applied) = apply("z\nz\na\nb\nc\nd\ne\n", &p).unwrap();
        assert_eq!(text, "z\nz\na\nb\nC\nC2\nd\ne\n");
        assert_eq!(applied[0].offset, 2);
    }

    #[test]
    fn a_mail_from_git_format_patch_is_read_past_its_message() {
        // The message, its `---` and diffstat, then the diff, then git's
        // signature: only the diff is read.
        let mail = "From 0123 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] fix\n\nOnly register when creating.\n---\n Lib/multiprocessing/x.py | 2 +-\n 1 file changed\n\ndiff --git a/Lib/multiprocessing/x.py b/Lib/multiprocessing/x.py\n--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -2,1 +2,1 @@\n-b\n+B\n-- \n2.47.3\n";
        let files = parse(mail).unwrap();
        assert_eq!(files.len(), 1);
        let (text, _) = apply(ORIGINAL, &files[0]).unwrap();
        assert_eq!(text, "a\nB\nc\nd\ne\n");
    }

    #[test]
    fn context_mismatch_names_the_hunk() {
        let p = one("--- x.py\n+++ x.py\n@@ -1,1 +1,1 @@\n-a\n+A\n@@ -4,1 +4,1 @@\n-nope\n+D\n");
        let err = apply(ORIGINAL, &p).unwrap_err();
        assert_eq!(err.hunk, 2);
        assert_eq!(
            err.to_string(),
            "x.py hunk #2 (at line 4) does not match: expected `nope`, found nowhere"
        );
    }

    #[test]
    fn every_context_line_must_match_not_only_the_removed_ones() {
        // `-c` matches line 3, but the context line before it does not.
        let p = one("--- x.py\n+++ x.py\n@@ -2,2 +2,2 @@\n B\n-c\n+C\n");
        let err = apply(ORIGINAL, &p).unwrap_err();
        assert!(matches!(err.kind, ApplyErrorKind::Mismatch { .. }), "{err}");
        // ... and the nearest line is named, to help fix the context.
        assert!(
            err.to_string()
                .contains("closest at line 2, but line 2 reads `b` where the diff expects `B`"),
            "{err}"
        );
        let p = one("--- x.py\n+++ x.py\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n X\n");
        assert!(
            apply(ORIGINAL, &p).is_err(),
            "a trailing context line counts too"
        );
        let p = one("--- x.py\n+++ x.py\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n");
        assert!(apply(ORIGINAL, &p).is_ok());
    }

    #[test]
    fn the_nearest_of_two_matches_is_taken_and_reported() {
        let p = one("--- x.py\n+++ x.py\n@@ -4,1 +4,1 @@\n-a\n+A\n");
        let (text, applied) = apply("a\nx\nx\nx\na\n", &p).unwrap();
        assert_eq!(text, "a\nx\nx\nx\nA\n");
        assert_eq!((applied[0].offset, applied[0].other_matches), (1, 1));
        assert!(
            applied[0].to_string().contains("1 line later"),
            "{}",
            applied[0]
        );
        assert!(
            applied[0]
                .to_string()
                .contains("also matches 1 other place"),
            "{}",
            applied[0]
        );
    }

    #[test]
    fn an_absurd_header_is_an_error_not_a_search() {
        let at = |line: &str| {
            one(&format!(
                "--- x.py\n+++ x.py\n@@ -{line},1 +1,1 @@\n-a\n+A\n"
            ))
        };
        let err = apply(ORIGINAL, &at("4000000000000000000")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.py hunk #1 starts at line 4000000000000000000, but the file has 5 lines and no stdlib file comes near line 10,000,000: the hunk header is broken"
        );
        assert!(apply(ORIGINAL, &at("10000001")).is_err());
        // The last line number that is searched for, from the end.
        let (text, applied) = apply("x\na\n", &at("10000000")).unwrap();
        assert_eq!(text, "x\nA\n");
        assert_eq!(applied[0].offset, 1 - 9_999_999);
        // A number that does not fit is a parse error.
        assert_eq!(
            parse("--- x.py\n+++ x.py\n@@ -99999999999999999999999,1 +1,1 @@\n-a\n+A\n"),
            Err(PatchError::Malformed {
                line: 3,
                message: "bad old range: `@@ -99999999999999999999999,1 +1,1 @@`".into()
            })
        );
    }

    /// A backport: the diff is made on main, whose file is longer than the
    /// branch's (3.15's resource_tracker.py has 495 lines, 3.13.0's 296).
    /// `git apply` and GNU `patch` search for the context and report an
    /// offset; so does this, from the end of the file.
    #[test]
    fn a_header_past_the_end_of_the_file_is_searched_from_the_end() {
        let p = one(
            "--- x.py\n+++ x.py\n@@ -450,3 +450,3 @@\n b\n-c\n+C\n d\n@@ -460,1 +460,1 @@\n-e\n+E\n",
        );
        let (text, applied) = apply(ORIGINAL, &p).unwrap();
        assert_eq!(text, "a\nb\nC\nd\nE\n");
        // Counted from the header's line (0-based 449, found at 1); the
        // second hunk from where the first landed (459 - 448 = 11, found
        // at 4).
        assert_eq!(
            applied.iter().map(|a| a.offset).collect::<Vec<_>>(),
            [-448, -7]
        );
        assert_eq!(
            applied[0].to_string(),
            "x.py hunk #1 applied 448 lines earlier than its header says"
        );
        // Of two matches, the one nearest the end.
        let p = one("--- x.py\n+++ x.py\n@@ -450,1 +450,1 @@\n-a\n+A\n");
        let (text, applied) = apply("a\nx\na\nx\n", &p).unwrap();
        assert_eq!(text, "a\nx\nA\nx\n");
        assert_eq!((applied[0].offset, applied[0].other_matches), (-447, 1));
        // Context found nowhere: the usual mismatch, naming the closest.
        let p = one("--- x.py\n+++ x.py\n@@ -450,2 +450,2 @@\n d\n-X\n+Y\n");
        assert_eq!(
            apply(ORIGINAL, &p).unwrap_err().to_string(),
            "x.py hunk #1 (at line 450) does not match: closest at line 4, but line 5 reads `e` where the diff expects `X`"
        );
    }

    #[test]
    fn an_offset_is_said_in_words_with_its_direction() {
        let at = |offset, other_matches| {
            Applied {
                path: "x.py".into(),
                hunk: 1,
                offset,
                other_matches,
            }
            .to_string()
        };
        assert_eq!(
            at(0, 0),
            "x.py hunk #1 applied at the line its header names"
        );
        assert_eq!(
            at(1, 0),
            "x.py hunk #1 applied 1 line later than its header says"
        );
        assert_eq!(
            at(-3, 0),
            "x.py hunk #1 applied 3 lines earlier than its header says"
        );
        assert!(
            at(0, 1).ends_with("(its context also matches 1 other place; the nearest was taken)")
        );
        assert!(at(0, 2).contains("2 other places"));
    }

    #[test]
    fn headers_and_binary_markers_are_read_exactly() {
        assert_eq!(
            parse("garbage\n--- a/x.py"),
            Err(PatchError::NotADiff),
            "no +++ after it"
        );
        assert_eq!(
            parse("--- a/x.py\n+++ b/x.py\n"),
            Err(PatchError::Malformed {
                line: 3,
                message: "no hunks for `x.py`".into()
            })
        );
        assert_eq!(
            parse("Binary files a/x.png and b/x.png differ\n"),
            Err(PatchError::Binary)
        );
        assert_eq!(
            parse("x\nGIT binary patch\nliteral 0\n"),
            Err(PatchError::Binary)
        );
        for unsafe_path in [
            "Lib/./multiprocessing/x.py",
            "Lib//x.py",
            "/etc/x.py",
            "a/../x.py",
        ] {
            assert!(
                matches!(classify(unsafe_path), Err(PatchError::UnsafePath { .. })),
                "{unsafe_path}"
            );
        }
    }

    #[test]
    fn the_applied_part_of_a_git_diff_keeps_its_own_headers_only() {
        let git = "diff --git a/Misc/NEWS.d/n.rst b/Misc/NEWS.d/n.rst
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/Misc/NEWS.d/n.rst
@@ -0,0 +1 @@
+news
diff --git a/Lib/multiprocessing/a.py b/Lib/multiprocessing/a.py
index 2222222..3333333 100644
--- a/Lib/multiprocessing/a.py
+++ b/Lib/multiprocessing/a.py
@@ -1 +1 @@
-a
+b
";
        let shown = applied_part(git);
        assert!(
            !shown.contains("NEWS") && !shown.contains("news"),
            "{shown}"
        );
        assert!(
            shown.starts_with("diff --git a/Lib/multiprocessing/a.py"),
            "{shown}"
        );
        assert!(
            shown.contains("index 2222222..3333333") && shown.ends_with("+b\n"),
            "{shown}"
        );
        // A new file is named by its `+++` line: a new module of the
        // package is shown, a new NEWS entry is not.
        let new_module = "--- /dev/null\n+++ b/Lib/multiprocessing/new.py\n@@ -0,0 +1 @@\n+x\n";
        assert_eq!(applied_part(new_module), new_module);
        // `---`/`+++` lines inside a kept hunk are content, not a header.
        let dashes = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n--- old\n+++ new\n";
        assert_eq!(parse(dashes).unwrap()[0].hunks.len(), 1);
        assert_eq!(applied_part(dashes), dashes);
    }

    #[test]
    fn hunk_bodies_are_counted_against_their_headers() {
        let h = |body: &str| parse(&format!("--- a/x.py\n+++ b/x.py\n{body}"));
        // Default lengths of 1; an empty line is context; a no-newline
        // marker is skipped, inside or after the hunk.
        let p = h("@@ -2 +2,2 @@\n-b\n+B\n\\ No newline at end of file\n+B2\n\\ No newline at end of file\n").unwrap();
        assert_eq!(
            p[0].hunks[0].lines,
            [
                HunkLine::Remove("b".into()),
                HunkLine::Add("B".into()),
                HunkLine::Add("B2".into())
            ]
        );
        let p = h("@@ -1,2 +1,2 @@\n\n-c\n+C\n").unwrap();
        assert_eq!(p[0].hunks[0].lines[0], HunkLine::Context(String::new()));
        assert_eq!(p[0].hunks[0].old_start, 1);
        let malformed = |body: &str| match h(body) {
            Err(PatchError::Malformed { line, message }) => (line, message),
            other => panic!("{body:?}: {other:?}"),
        };
        assert_eq!(
            malformed("@@ -1,2 +1,2 @@\n-a\n+A\n"),
            (3, "hunk is cut short: `@@ -1,2 +1,2 @@`".into())
        );
        assert_eq!(
            malformed("@@ -1,1 +1,1 @@\n-a\n-b\n"),
            (5, "hunk line counts do not match its header".into())
        );
        assert_eq!(
            malformed("@@ -1,1 +1,1 @@\n+A\n+B\n"),
            (5, "hunk line counts do not match its header".into())
        );
        assert_eq!(
            malformed("@@ -1,2 +1,2 @@\n a\n*b\n"),
            (5, "hunk is shorter than its header says".into())
        );
        // A context line needs room on both sides; either side short is
        // cut short.
        assert_eq!(
            malformed("@@ -1,1 +1,2 @@\n a\n b\n"),
            (5, "hunk line counts do not match its header".into())
        );
        assert_eq!(
            malformed("@@ -1,2 +1,1 @@\n a\n b\n"),
            (5, "hunk line counts do not match its header".into())
        );
        for short in ["@@ -1,2 +1,1 @@\n-a\n+A\n", "@@ -1,1 +1,2 @@\n-a\n+A\n"] {
            assert_eq!(malformed(short).0, 3, "{short}");
        }
        // A no-newline marker between two hunks does not end the file.
        let p =
            h("@@ -1 +1 @@\n-a\n+A\n\\ No newline at end of file\n@@ -3 +3 @@\n-c\n+C\n").unwrap();
        assert_eq!(p[0].hunks.len(), 2);
        assert_eq!(p[0].hunks[1].old_start, 3);
        assert_eq!(malformed("@@ x @@\n").1, "bad hunk header: `@@ x @@`");
        assert_eq!(
            malformed("@@ -1,z +1 @@\n").1,
            "bad old range: `@@ -1,z +1 @@`"
        );
        assert_eq!(malformed("@@ -1 +q @@\n").1, "bad new range: `@@ -1 +q @@`");
    }

    #[test]
    fn a_hunk_without_old_lines_goes_after_the_line_it_names() {
        // `@@ -N,0 +M @@` (git diff -U0) inserts after line N, as `git
        // apply --unidiff-zero` and GNU `patch` put it.
        let add = |at: usize| {
            let (text, applied) = apply(
                ORIGINAL,
                &one(&format!(
                    "--- x.py\n+++ x.py\n@@ -{at},0 +{},1 @@\n+new\n",
                    at + 1
                )),
            )
            .unwrap();
            (text, applied[0].offset)
        };
        assert_eq!(add(0), ("new\na\nb\nc\nd\ne\n".into(), 0));
        assert_eq!(add(2), ("a\nb\nnew\nc\nd\ne\n".into(), 0));
        assert_eq!(add(5), ("a\nb\nc\nd\ne\nnew\n".into(), 0));
        // Past the end: at the end, and said.
        assert_eq!(add(7), ("a\nb\nc\nd\ne\nnew\n".into(), -2));
    }

    #[test]
    fn of_two_matches_equally_near_the_later_one_is_taken() {
        // Expected at line 2; `a` is at lines 1 and 3, one away each.
        let p = one("--- x.py\n+++ x.py\n@@ -2,1 +2,1 @@\n-a\n+A\n");
        let (text, applied) = apply("a\nx\na\n", &p).unwrap();
        assert_eq!(text, "a\nx\nA\n", "{applied:?}");
        assert_eq!((applied[0].offset, applied[0].other_matches), (1, 1));
        // The nearer one wins over the later one.
        let p = one("--- x.py\n+++ x.py\n@@ -3,1 +3,1 @@\n-a\n+A\n");
        let (text, applied) = apply("a\nx\ny\na\n", &p).unwrap();
        assert_eq!(text, "a\nx\ny\nA\n", "{applied:?}");
        assert_eq!(applied[0].offset, 1);
    }

    #[test]
    fn an_offset_carries_to_the_hunks_after_it() {
        // Two lines more at the top than the diff knows: both hunks land 2
        // later; the second one's offset is counted from the first's.
        let p = one("--- x.py\n+++ x.py\n@@ -1,1 +1,1 @@\n-a\n+A\n@@ -4,1 +4,1 @@\n-d\n+D\n");
        let (text, applied) = apply("z\nz\na\nb\nc\nd\ne\n", &p).unwrap();
        assert_eq!(text, "z\nz\nA\nb\nc\nD\ne\n");
        assert_eq!(applied.iter().map(|a| a.offset).collect::<Vec<_>>(), [2, 0]);
        assert_eq!(applied.iter().map(|a| a.hunk).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn a_file_without_a_final_newline_stays_without_one() {
        let p = one("--- x.py\n+++ x.py\n@@ -1,1 +1,1 @@\n-a\n+A\n");
        assert_eq!(apply("a\nb", &p).unwrap().0, "A\nb");
        assert_eq!(apply("a\nb\n", &p).unwrap().0, "A\nb\n");
        // Everything removed: nothing left, not a lone newline.
        let p = one("--- x.py\n+++ x.py\n@@ -1,1 +0,0 @@\n-a\n");
        assert_eq!(apply("a\n", &p).unwrap().0, "");
    }

    #[test]
    fn the_closest_place_is_named_by_its_line_numbers() {
        let p = one("--- x.py\n+++ x.py\n@@ -2,3 +2,3 @@\n b\n c\n-X\n+Y\n");
        let err = apply(ORIGINAL, &p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.py hunk #1 (at line 2) does not match: closest at line 2, but line 4 reads `d` where the diff expects `X`"
        );
    }

    #[test]
    fn files_are_picked_by_package() {
        let files = parse(
            "--- a/Lib/multiprocessing/a.py\n+++ b/Lib/multiprocessing/a.py\n@@ -1 +1 @@\n-a\n+b\n--- a/Lib/test/t.py\n+++ b/Lib/test/t.py\n@@ -1 +1 @@\n-a\n+b\n",
        )
        .unwrap();
        let names = |p| {
            in_package(&files, p)
                .iter()
                .map(|f| f.path.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Package::Multiprocessing), ["a.py"]);
        assert_eq!(names(Package::Test), ["t.py"]);
        assert!(names(Package::Other).is_empty());
    }

    #[test]
    fn later_hunks_follow_the_shift_of_earlier_ones() {
        let p = one("--- x.py\n+++ x.py\n@@ -1,1 +1,2 @@\n-a\n+a1\n+a2\n@@ -4,1 +5,1 @@\n-d\n+D\n");
        let (text, applied) = apply(ORIGINAL, &p).unwrap();
        assert_eq!(text, "a1\na2\nb\nc\nD\ne\n");
        assert!(applied.iter().all(|a| a.offset == 0), "{applied:?}");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse(""), Err(PatchError::Empty));
        assert_eq!(parse("hello\nworld\n"), Err(PatchError::NotADiff));
        assert_eq!(parse("ab\0cd"), Err(PatchError::Binary));
        assert!(matches!(
            parse("--- a/Lib/os.py\n+++ b/Lib/os.py\n@@ -1 +1 @@\n-a\n+b\n"),
            Err(PatchError::NothingToApply { .. })
        ));
        assert!(matches!(
            parse("--- a/../x.py\n+++ b/../x.py\n@@ -1 +1 @@\n-a\n+b\n"),
            Err(PatchError::UnsafePath { .. })
        ));
        assert!(matches!(
            parse("--- a/Lib/multiprocessing/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n"),
            Err(PatchError::Deletes { .. })
        ));
    }

    #[test]
    fn a_pr_diff_is_split_by_package() {
        let pr = "diff --git a/Lib/multiprocessing/shared_memory.py b/Lib/multiprocessing/shared_memory.py
--- a/Lib/multiprocessing/shared_memory.py
+++ b/Lib/multiprocessing/shared_memory.py
@@ -1 +1 @@
-a
+b
--- a/Lib/test/_test_multiprocessing.py
+++ b/Lib/test/_test_multiprocessing.py
@@ -1 +1 @@
-a
+b
--- /dev/null
+++ b/Misc/NEWS.d/next/Library/2026-11-26-00-00-00.gh-issue-82300.abcdef.rst
@@ -0,0 +1 @@
+Only the creator registers a shared memory segment.
";
        let files = parse(pr).unwrap();
        let kinds: Vec<(Package, &str, bool)> = files
            .iter()
            .map(|f| (f.package, f.path.as_str(), f.new_file))
            .collect();
        assert_eq!(
            kinds,
            [
                (Package::Multiprocessing, "shared_memory.py", false),
                (Package::Test, "_test_multiprocessing.py", false),
                (
                    Package::Other,
                    "Misc/NEWS.d/next/Library/2026-11-26-00-00-00.gh-issue-82300.abcdef.rst",
                    true
                )
            ]
        );
        let shown = applied_part(pr);
        assert!(
            shown.contains("_test_multiprocessing.py") && !shown.contains("NEWS"),
            "{shown}"
        );
        // A new file applies to nothing.
        let (text, _) = apply("", &files[2]).unwrap();
        assert_eq!(
            text,
            "Only the creator registers a shared memory segment.\n"
        );
    }

    #[test]
    fn accepts_package_relative_paths() {
        for p in [
            "a/Lib/multiprocessing/shared_memory.py",
            "Lib/multiprocessing/shared_memory.py",
            "multiprocessing/shared_memory.py",
            "shared_memory.py",
        ] {
            assert_eq!(
                classify(p).unwrap(),
                (Package::Multiprocessing, "shared_memory.py".to_string())
            );
        }
    }

    /// A change to shared_memory.py, to go with the git forms below.
    const FIX: &str =
        "diff --git a/Lib/multiprocessing/shared_memory.py b/Lib/multiprocessing/shared_memory.py
index 1111111..2222222 100644
--- a/Lib/multiprocessing/shared_memory.py
+++ b/Lib/multiprocessing/shared_memory.py
@@ -1 +1 @@
-a
+b
";

    /// `git diff` (renames on by default) of a moved module.
    fn rename(from: &str, to: &str) -> String {
        format!(
            "diff --git a/{from} b/{to}\nsimilarity index 100%\nrename from {from}\nrename to {to}\n"
        )
    }

    #[test]
    fn a_rename_in_the_packages_is_refused_like_a_deletion() {
        let moved = rename(
            "Lib/multiprocessing/popen_fork.py",
            "Lib/multiprocessing/popen_fork_x.py",
        );
        let refused = "`Lib/multiprocessing/popen_fork.py` is renamed to `Lib/multiprocessing/popen_fork_x.py`; a rename deletes a file under Lib/multiprocessing/ or Lib/test/, which cannot be overlaid (`git diff --no-renames` shows it as that deletion): verify the fix without the rename";
        // Before, after, or alone: the fix is never verified without it.
        for diff in [
            format!("{FIX}{moved}"),
            format!("{moved}{FIX}"),
            moved.clone(),
        ] {
            assert_eq!(parse(&diff).unwrap_err().to_string(), refused, "{diff}");
        }
        // With edits (similarity under 100%), `---`/`+++` name both paths:
        // the same refusal, not "popen_fork_x.py is not in the package".
        let edited =
            "diff --git a/Lib/multiprocessing/popen_fork.py b/Lib/multiprocessing/popen_fork_x.py
similarity index 99%
rename from Lib/multiprocessing/popen_fork.py
rename to Lib/multiprocessing/popen_fork_x.py
index a02a53b..e7ec044 100644
--- a/Lib/multiprocessing/popen_fork.py
+++ b/Lib/multiprocessing/popen_fork_x.py
@@ -1 +1,2 @@
 a
+# x
";
        assert_eq!(parse(edited).unwrap_err().to_string(), refused);
        // Out of Lib/test/ as well; into the packages, the text is missing,
        // and `--no-renames` then gives it as a new file.
        assert!(
            parse(&rename("Lib/test/a.py", "Tools/a.py"))
                .unwrap_err()
                .to_string()
                .contains("a rename deletes a file")
        );
        assert_eq!(
            parse(&rename("Tools/a.py", "Lib/test/a.py"))
                .unwrap_err()
                .to_string(),
            "`Tools/a.py` is renamed to `Lib/test/a.py`; the diff does not hold the file's text, so it cannot be overlaid: make the diff with `git diff --no-renames`, which shows the file as new"
        );
        // `git diff --no-renames` of a rename out of the package is a
        // deletion: refused too, so it is not the way out there.
        let no_renames =
            "diff --git a/Lib/multiprocessing/popen_fork.py b/Lib/multiprocessing/popen_fork.py
deleted file mode 100644
index a02a53b..0000000
--- a/Lib/multiprocessing/popen_fork.py
+++ /dev/null
@@ -1 +0,0 @@
-a
";
        assert!(matches!(parse(no_renames), Err(PatchError::Deletes { .. })));
    }

    #[test]
    fn a_rename_elsewhere_is_skipped_like_any_file_there() {
        let files = parse(&format!(
            "{}{FIX}",
            rename("Doc/old.rst", "Misc/NEWS.d/new.rst")
        ))
        .unwrap();
        let kinds: Vec<(Package, &str)> =
            files.iter().map(|f| (f.package, f.path.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (Package::Other, "Misc/NEWS.d/new.rst"),
                (Package::Multiprocessing, "shared_memory.py")
            ]
        );
        assert!(files[0].hunks.is_empty());
        assert!(!applied_part(&format!("{}{FIX}", rename("Doc/a", "Doc/b"))).contains("Doc"));
    }

    #[test]
    fn a_copy_into_the_packages_is_refused() {
        let copy = |from: &str, to: &str| {
            format!(
                "diff --git a/{from} b/{to}\nsimilarity index 100%\ncopy from {from}\ncopy to {to}\n{FIX}"
            )
        };
        assert_eq!(
            parse(&copy(
                "Lib/multiprocessing/popen_fork.py",
                "Lib/multiprocessing/popen_x.py"
            ))
            .unwrap_err()
            .to_string(),
            "`Lib/multiprocessing/popen_fork.py` is copied to `Lib/multiprocessing/popen_x.py`; the diff does not hold the copy's text, so it cannot be overlaid: make the diff without copy detection (`git diff` without `-C`), which shows the copy as a new file"
        );
        // A copy out of the packages leaves them as they are.
        let files = parse(&copy("Lib/multiprocessing/popen_fork.py", "Doc/x.py")).unwrap();
        assert_eq!(files[0].package, Package::Other);
    }

    /// `git diff` of a new empty file: its header alone, no `---`/`+++`.
    fn empty_file(path: &str) -> String {
        format!("diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..e69de29\n")
    }

    #[test]
    fn an_empty_new_file_is_created_and_shown() {
        let empty = empty_file("Lib/multiprocessing/_x.py");
        let news = "diff --git a/Misc/NEWS.d/n.rst b/Misc/NEWS.d/n.rst\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/Misc/NEWS.d/n.rst\n@@ -0,0 +1 @@\n+news\n";
        // First, between files, last: always the same file.
        for diff in [
            format!("{empty}{FIX}{news}"),
            format!("{FIX}{empty}{news}"),
            format!("{FIX}{news}{empty}"),
        ] {
            let files = parse(&diff).unwrap();
            let created: Vec<&FilePatch> = files.iter().filter(|f| f.path == "_x.py").collect();
            assert_eq!(
                created,
                [&FilePatch {
                    package: Package::Multiprocessing,
                    path: "_x.py".into(),
                    new_file: true,
                    hunks: Vec::new()
                }],
                "{diff}"
            );
            assert_eq!(apply("", created[0]).unwrap(), (String::new(), Vec::new()));
            // `patch show` prints its header, and nothing of the NEWS entry.
            let shown = applied_part(&diff);
            assert!(shown.contains(&empty), "{diff}\n---\n{shown}");
            assert!(shown.contains(FIX) && !shown.contains("news"), "{shown}");
        }
        // In Lib/test/ too; elsewhere skipped; with git's other prefixes.
        for (path, package, rel) in [
            ("Lib/test/_x.py", Package::Test, "_x.py"),
            ("Doc/x.rst", Package::Other, "Doc/x.rst"),
        ] {
            let f = &parse(&format!("{}{FIX}", empty_file(path))).unwrap()[0];
            assert_eq!(
                (f.package, f.path.as_str(), f.new_file),
                (package, rel, true)
            );
        }
        // `--no-prefix`; `--src-prefix=x/ --dst-prefix=y/` is read as its
        // `+++ y/...` line would be: outside the packages.
        for (header, rel) in [
            (
                "diff --git Lib/multiprocessing/_x.py Lib/multiprocessing/_x.py",
                "_x.py",
            ),
            (
                "diff --git x/Lib/multiprocessing/_x.py y/Lib/multiprocessing/_x.py",
                "y/Lib/multiprocessing/_x.py",
            ),
        ] {
            let diff = format!("{header}\nnew file mode 100644\nindex 0000000..e69de29\n{FIX}");
            let f = &parse(&diff).unwrap()[0];
            assert_eq!((f.path.as_str(), f.new_file), (rel, true), "{header}");
        }
        let unreadable = "diff --git a/Lib/multiprocessing/_x.py b/Lib/multiprocessing/_y.py\nnew file mode 100644\n";
        assert_eq!(
            parse(unreadable),
            Err(PatchError::Malformed {
                line: 1,
                message: "cannot tell the file's name from `diff --git a/Lib/multiprocessing/_x.py b/Lib/multiprocessing/_y.py`".into()
            })
        );
        // `git apply` refuses to create a file that is there.
        let f = &parse(&empty).unwrap()[0];
        assert_eq!(
            apply("x = 1\n", f).unwrap_err().to_string(),
            "_x.py is a new file in the diff, but this interpreter's package already has it"
        );
        // An empty file deleted is a deletion; a mode change alone is no
        // file; a new binary file is binary.
        let deleted = "diff --git a/Lib/multiprocessing/e.py b/Lib/multiprocessing/e.py\ndeleted file mode 100644\nindex e69de29..0000000\n";
        assert!(matches!(parse(deleted), Err(PatchError::Deletes { .. })));
        let mode = "diff --git a/Lib/multiprocessing/util.py b/Lib/multiprocessing/util.py\nold mode 100644\nnew mode 100755\n";
        assert_eq!(parse(&format!("{mode}{FIX}")).unwrap().len(), 1);
        let binary = "diff --git a/Lib/test/x.png b/Lib/test/x.png\nnew file mode 100644\nindex 0000000..1111111\nBinary files /dev/null and b/Lib/test/x.png differ\n";
        assert_eq!(parse(&format!("{FIX}{binary}")), Err(PatchError::Binary));
    }

    #[test]
    fn paths_behind_other_directories_get_the_way_out() {
        // `diff -ru cp3.15 cp3.15-fix`: no a/ b/, one directory before Lib/.
        let plain = "diff -ru cp3.15/Lib/multiprocessing/shared_memory.py cp3.15-fix/Lib/multiprocessing/shared_memory.py
--- cp3.15/Lib/multiprocessing/shared_memory.py\t2026-11-26 06:09:59.218419351 +0000
+++ cp3.15-fix/Lib/multiprocessing/shared_memory.py\t2026-11-26 06:09:59.216995610 +0000
@@ -1 +1 @@
-a
+b
";
        assert_eq!(
            parse(plain).unwrap_err().to_string(),
            "the diff changes nothing under Lib/multiprocessing/ or Lib/test/ (it touches only cp3.15-fix/Lib/multiprocessing/shared_memory.py); paths must start with Lib/ after at most one a/ or b/ prefix: make the diff with `git diff` in the cpython checkout's root, or strip the 1 leading component before Lib/ (`cp3.15-fix/`) from every path"
        );
        let behind = |path: &str| {
            parse(&format!(
                "--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"
            ))
            .unwrap_err()
            .to_string()
        };
        assert!(
            behind("src/cpython/Lib/test/t.py").ends_with(
                "strip the 2 leading components before Lib/ (`src/cpython/`) from every path"
            ),
            "{}",
            behind("src/cpython/Lib/test/t.py")
        );
        // Nothing that looks like the packages: no way out to offer.
        assert!(behind("Lib/os.py").ends_with("(it touches only Lib/os.py)"));
        assert!(behind("Doc/Lib/x.py").ends_with("(it touches only Doc/Lib/x.py)"));
    }

    #[test]
    fn a_crlf_diff_is_refused_as_git_apply_would() {
        let diff = "--- a/Lib/multiprocessing/x.py\r\n+++ b/Lib/multiprocessing/x.py\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n";
        assert_eq!(parse(diff), Err(PatchError::Crlf { line: 1 }));
        let later = "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -1 +1 @@\n-a\r\n+b\n";
        assert_eq!(parse(later), Err(PatchError::Crlf { line: 4 }));
        // A CR on an added line is that line's content, as git applies it.
        let added = "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -1 +1 @@\n-a\n+b\r\n";
        let files = parse(added).unwrap();
        assert_eq!(apply("a\n", &files[0]).unwrap().0, "b\r\n");
    }

    #[test]
    fn no_newline_at_end_is_followed_as_git_apply_does() {
        let with_marker = |marker_after_old: bool| {
            let old = if marker_after_old {
                "-b\n\\ No newline at end of file\n"
            } else {
                "-b\n"
            };
            format!(
                "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -1,2 +1,2 @@\n a\n{old}+c\n\\ No newline at end of file\n"
            )
        };
        // The stdlib file ends in a newline; a hunk that says it does not
        // is refused, as `git apply` refuses it.
        let files = parse(&with_marker(true)).unwrap();
        let err = apply("a\nb\n", &files[0]).unwrap_err();
        assert_eq!(err.kind, ApplyErrorKind::NoNewlineAtEnd);
        assert!(
            err.to_string().contains("No newline at end of file"),
            "{err}"
        );
        // A file that really ends without one takes it.
        assert_eq!(apply("a\nb", &files[0]).unwrap().0, "a\nc");
        // Only the new side lacks it: the result ends without a newline.
        let files = parse(&with_marker(false)).unwrap();
        assert_eq!(apply("a\nb\n", &files[0]).unwrap().0, "a\nc");
        // No marker at all: the newline stays.
        let plain = "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n";
        let files = parse(plain).unwrap();
        assert_eq!(apply("a\nb\n", &files[0]).unwrap().0, "a\nc\n");
    }
}
