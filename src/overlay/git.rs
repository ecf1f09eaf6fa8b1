//! `--git`: a user's fix read from a git checkout (the one the current
//! directory is in, or `--git-dir`), as `git diff` prints it, then read
//! exactly as a `--patch` file is (`overlay::user`).
//!
//! Only read-only commands run (`rev-parse`, `merge-base`, `diff`,
//! `ls-files`), each through `host::proc` with a timeout, and with
//! `GIT_OPTIONAL_LOCKS=0`, so not even the index refresh `git diff` does on
//! a working tree is written: the checkout, its index and its stash are
//! exactly as they were.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::contract::VersionRange;
use crate::host::proc::{Spec, capture};

/// How long one git command may take (a diff of a whole cpython branch is
/// well under a second).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why `--git` read no diff. Each is one line, and exit 2.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "--git: {dir} is not in a git checkout ({why}); run shmharness in your cpython clone, or name it with --git-dir PATH"
    )]
    NotACheckout { dir: String, why: String },
    #[error(
        "--git {arg}: `{rev}` does not resolve to a commit in {dir} (name a branch, tag or commit, e.g. --git origin/main)"
    )]
    NoRevision {
        arg: String,
        rev: String,
        dir: String,
    },
    #[error("--git {arg}: {a} and {b} have no common ancestor in {dir}")]
    NoMergeBase {
        arg: String,
        a: String,
        b: String,
        dir: String,
    },
    #[error(
        "--git {arg}: which branch does {branch} fork from? write {range}=BASE...{branch}, BASE that branch"
    )]
    NoBase {
        arg: String,
        range: String,
        branch: String,
    },
    #[error("--git {arg}: no branch after `=` (write RANGE=BRANCH, e.g. 3.12=backport-3.12)")]
    NoBranch { arg: String },
    #[error("--git {arg}: `{command}` is empty: {what} has no change since it left {base}")]
    Empty {
        arg: String,
        command: String,
        what: String,
        base: String,
    },
    #[error("--git: cannot run git: {0}")]
    Run(String),
}

/// One `--git` value, read: which versions, and what to diff.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    range: VersionRange,
    base: String,
    /// `None`: the working tree (staged and unstaged changes) since it
    /// left `base`; else the commits of this branch since it left `base`.
    branch: Option<String>,
}

/// `main` (the working tree since it left main), `3.12=backport-3.12`
/// (branch backport-3.12 since it left 3.12, for Python 3.12), or
/// `[RANGE=]BASE...[BRANCH]` (a base for a range of versions).
fn wanted(arg: &str) -> Result<Wanted, GitError> {
    let (range, rest) = match arg.split_once('=') {
        Some((r, rest)) => match VersionRange::parse(r) {
            Some(range) => (Some((range, r)), rest),
            None => (None, arg),
        },
        None => (None, arg),
    };
    if rest.is_empty() {
        return Err(GitError::NoBranch { arg: arg.into() });
    }
    let (base, branch) = match (rest.split_once("..."), range) {
        (Some((base, branch)), _) => (base.to_string(), Some(branch).filter(|b| !b.is_empty())),
        // `3.12=backport-3.12`: the branch forks from the one the range names.
        (None, Some((r, text))) if r.from.is_some() && r.from == r.to => {
            (text.to_string(), Some(rest))
        }
        (None, Some((_, text))) => {
            return Err(GitError::NoBase {
                arg: arg.into(),
                range: text.into(),
                branch: rest.into(),
            });
        }
        (None, None) => (rest.to_string(), None),
    };
    Ok(Wanted {
        range: range.map_or(VersionRange::ALL, |(r, _)| r),
        base: if base.is_empty() { "main".into() } else { base },
        branch: branch.map(str::to_string),
    })
}

/// A diff read from git: what to call it, the command that printed it, and
/// its text.
pub struct GitDiff {
    pub range: VersionRange,
    pub origin: String,
    pub command: String,
    pub text: String,
}

/// The checkout `--git` reads.
pub struct Checkout {
    root: PathBuf,
}

impl Checkout {
    /// The checkout `dir` (default: the current directory) is in.
    pub fn open(dir: Option<&Path>) -> Result<Checkout, GitError> {
        let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let shown = std::path::absolute(&dir)
            .unwrap_or_else(|_| dir.clone())
            .display()
            .to_string();
        if !dir.is_dir() {
            return Err(GitError::NotACheckout {
                dir: shown,
                why: "no such directory".into(),
            });
        }
        let out = git(&dir, &["rev-parse", "--show-toplevel"])?;
        match out {
            Ok(root) => Ok(Checkout {
                root: PathBuf::from(root.trim_end_matches('\n')),
            }),
            Err(why) => Err(GitError::NotACheckout { dir: shown, why }),
        }
    }

    /// The diff `arg` (one `--git` value) names.
    pub fn diff(&self, arg: &str) -> Result<GitDiff, GitError> {
        let w = wanted(arg)?;
        let base = self.commit(arg, &w.base)?;
        let (from, command, origin) = match &w.branch {
            None => (
                self.merge_base(arg, &base, &w.base, "HEAD")?,
                format!("git diff --merge-base {}", w.base),
                self.branch_name()?,
            ),
            Some(branch) => {
                self.commit(arg, branch)?;
                (
                    format!("{}...{branch}", w.base),
                    format!("git diff {}...{branch}", w.base),
                    branch.clone(),
                )
            }
        };
        let text = self.run(&[
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            &from,
            "--",
        ])?;
        if text.is_empty() {
            return Err(GitError::Empty {
                arg: arg.into(),
                command,
                what: w.branch.unwrap_or_else(|| "the working tree".into()),
                base: w.base,
            });
        }
        if w.branch.is_none() {
            self.say_untracked(arg)?;
        }
        Ok(GitDiff {
            range: w.range,
            origin: name_of(&origin),
            command,
            text,
        })
    }

    /// `rev` as a full commit id, or the one line saying it does not resolve.
    fn commit(&self, arg: &str, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        // A "revision" that starts with `-` would be read as an option.
        let found = match rev.starts_with('-') {
            true => None,
            false => git(&self.root, &["rev-parse", "--verify", "--quiet", &spec])?.ok(),
        };
        match found {
            Some(id) => Ok(id.trim().to_string()),
            None => Err(GitError::NoRevision {
                arg: arg.into(),
                rev: rev.into(),
                dir: self.root.display().to_string(),
            }),
        }
    }

    fn merge_base(&self, arg: &str, a: &str, a_name: &str, b: &str) -> Result<String, GitError> {
        match git(&self.root, &["merge-base", a, b])? {
            Ok(id) => Ok(id.trim().to_string()),
            Err(_) => Err(GitError::NoMergeBase {
                arg: arg.into(),
                a: a_name.into(),
                b: b.into(),
                dir: self.root.display().to_string(),
            }),
        }
    }

    /// The current branch (`gh-82300-fix`), or the short commit id of a
    /// detached HEAD.
    fn branch_name(&self) -> Result<String, GitError> {
        let name = self.run(&["rev-parse", "--abbrev-ref", "HEAD"])?;
        let name = name.trim();
        if name != "HEAD" {
            return Ok(name.to_string());
        }
        Ok(self
            .run(&["rev-parse", "--short", "HEAD"])?
            .trim()
            .to_string())
    }

    /// A new file git does not track yet is in no `git diff`: say so for
    /// the folders a fix lives in.
    fn say_untracked(&self, arg: &str) -> Result<(), GitError> {
        let listed = self.run(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--",
            "Lib/multiprocessing",
            "Lib/test",
        ])?;
        let files: Vec<&str> = listed.lines().collect();
        if !files.is_empty() {
            crate::term::progress::note(&format!(
                "--git {arg}: untracked, so not in the diff: {} (`git add -N FILE` puts a new file in it)",
                crate::term::style::printable(&files.join(", "))
            ));
        }
        Ok(())
    }

    /// A git command that must succeed: its stdout.
    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        git(&self.root, args)?
            .map_err(|why| GitError::Run(format!("git {}: {why}", args.join(" "))))
    }
}

/// `git -C dir ARGS`, read-only: its stdout, or (inner `Err`) the last line
/// of what it said on stderr. The outer `Err`: git could not run at all.
fn git(dir: &Path, args: &[&str]) -> Result<Result<String, String>, GitError> {
    // duct runs a relative path from the current directory: find git first.
    let program = which::which("git")
        .map_err(|e| GitError::Run(format!("no git on PATH ({e}); install git")))?;
    let mut spec = Spec::new(program);
    spec.arg("-C").arg(dir).arg("--no-pager").args(args);
    // Read-only: no index refresh written, no prompt, and the checkout
    // named by -C (not one a GIT_DIR from our caller points at).
    spec.env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    spec.env_remove = [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
    ]
    .map(Into::into)
    .to_vec();
    let out = capture(&spec, TIMEOUT)
        .map_err(|e| GitError::Run(e.to_string()))?
        .ok_or_else(|| {
            GitError::Run(format!(
                "`git {}` did not finish in {} s",
                args.join(" "),
                TIMEOUT.as_secs()
            ))
        })?;
    if out.status.success() {
        return Ok(String::from_utf8(out.stdout)
            .map_err(|_| format!("`git {}` printed bytes that are not UTF-8", args.join(" "))));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("it failed without a word")
        .trim()
        .trim_start_matches("fatal: ")
        .to_string();
    Ok(Err(why))
}

/// A branch as a candidate name: `patch:` + the letters, digits and `-+._`
/// a bundle's file names allow (`user/fix` -> `user-fix`).
fn name_of(branch: &str) -> String {
    let name: String = branch
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(range: &str, base: &str, branch: Option<&str>) -> Wanted {
        Wanted {
            range: VersionRange::parse(range).unwrap_or(VersionRange::ALL),
            base: base.into(),
            branch: branch.map(Into::into),
        }
    }

    #[test]
    fn git_values_name_a_base_and_a_branch() {
        assert_eq!(wanted("main").unwrap(), w("", "main", None));
        assert_eq!(wanted("origin/main").unwrap(), w("", "origin/main", None));
        assert_eq!(
            wanted("3.12=backport-3.12").unwrap(),
            w("3.12", "3.12", Some("backport-3.12"))
        );
        assert_eq!(
            wanted("3.8-3.9=3.9...fix-3.9").unwrap(),
            w("3.8-3.9", "3.9", Some("fix-3.9"))
        );
        assert_eq!(wanted("3.13-=main...").unwrap(), w("3.13-", "main", None));
        assert_eq!(wanted("a=b").unwrap(), w("", "a=b", None));
        assert_eq!(
            wanted("3.8-3.9=fix-3.9").unwrap_err().to_string(),
            "--git 3.8-3.9=fix-3.9: which branch does fix-3.9 fork from? write 3.8-3.9=BASE...fix-3.9, BASE that branch"
        );
        assert!(matches!(wanted("3.12="), Err(GitError::NoBranch { .. })));
    }

    #[test]
    fn branch_names_become_candidate_names() {
        assert_eq!(name_of("gh-82300-fix"), "gh-82300-fix");
        assert_eq!(name_of("user/fix"), "user-fix");
        assert_eq!(name_of(".hidden"), "hidden");
    }
}
