//! `--git`: a user's fix read from a git checkout (the one the current
//! directory is in, or `--git-dir`), as `git diff` prints it, then read
//! exactly as a `--patch` file is (`overlay::user`).
//!
//! Only read-only commands run (`rev-parse`, `merge-base`, `diff`,
//! `ls-files`), each through `host::proc` with a timeout. `git diff` of a
//! working tree writes the index when it finds a file whose stat data is
//! stale but whose content is not (it ignores `GIT_OPTIONAL_LOCKS=0`, which
//! only `status` and its kin heed), so git reads and writes a copy of the
//! index in a temp dir of ours (`GIT_INDEX_FILE`), with `core.splitIndex`
//! off (a split index would write its shared part into the real `.git`)
//! and no fsmonitor hook: the checkout, its index and its stash are exactly
//! as they were (git may still touch a shared index's mtime as it reads
//! it).

use std::io::Read;
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

/// A diff read from git: what to call it, the command that printed it, its
/// text, and the new files under the fix's folders that it leaves out
/// because git does not track them yet (the caller says so).
#[derive(Debug)]
pub struct GitDiff {
    pub range: VersionRange,
    pub origin: String,
    pub command: String,
    pub text: String,
    pub untracked: Vec<String>,
}

/// The checkout `--git` reads.
pub struct Checkout {
    root: PathBuf,
    /// The temp dir holding a copy of its index (`INDEX`), which git may
    /// refresh instead of the real one (`None`: the checkout has none yet).
    index: Option<tempfile::TempDir>,
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
        let out = git(&dir, None, &["rev-parse", "--show-toplevel"])?;
        let root = match out {
            Ok(root) => PathBuf::from(root.trim_end_matches('\n')),
            Err(why) => return Err(GitError::NotACheckout { dir: shown, why }),
        };
        let mut checkout = Checkout { root, index: None };
        // Relative to the top (`-C`), or absolute (a linked worktree's).
        let index = checkout.run(&["rev-parse", "--git-path", "index"])?;
        let index = match index.strip_suffix('\n') {
            Some(one) if !one.is_empty() && !one.contains('\n') => checkout.root.join(one),
            _ => {
                return Err(GitError::Run(format!(
                    "git rev-parse --git-path index said {index:?}"
                )));
            }
        };
        checkout.index = copy_index(&index)?;
        Ok(checkout)
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
        // A branch's commits are all there is; only a working tree can
        // hold a new file git does not track yet.
        let untracked = match w.branch {
            None => self.untracked()?,
            Some(_) => Vec::new(),
        };
        Ok(GitDiff {
            range: w.range,
            origin: name_of(&origin),
            command,
            text,
            untracked,
        })
    }

    /// `rev` as a full commit id, or the one line saying it does not resolve.
    fn commit(&self, arg: &str, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        // A "revision" that starts with `-` would be read as an option.
        let found = match rev.starts_with('-') {
            true => None,
            false => self.git(&["rev-parse", "--verify", "--quiet", &spec])?.ok(),
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
        match self.git(&["merge-base", a, b])? {
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

    /// The new files git does not track yet, so in no `git diff`, in the
    /// folders a fix lives in.
    fn untracked(&self) -> Result<Vec<String>, GitError> {
        let listed = self.run(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--",
            "Lib/multiprocessing",
            "Lib/test",
        ])?;
        Ok(listed.lines().map(str::to_string).collect())
    }

    /// A git command that must succeed: its stdout.
    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        self.git(args)?
            .map_err(|why| GitError::Run(format!("git {}: {why}", args.join(" "))))
    }

    /// `git ARGS` in the checkout, on the copy of its index.
    fn git(&self, args: &[&str]) -> Result<Result<String, String>, GitError> {
        let index = self.index.as_ref().map(|d| d.path().join(INDEX));
        git(&self.root, index.as_deref(), args)
    }
}

/// The copy's name in its temp dir.
const INDEX: &str = "index";

/// The most an index is copied up to: a cpython checkout's is under 1 MB.
const INDEX_MAX: u64 = 256 << 20;

/// A copy of the checkout's index in a temp dir of ours (noted in the
/// run's ledger), for git to refresh instead of the real one; `None` where
/// the checkout has none yet. Anything but a plain file of a sane size is
/// an error: a FIFO would block git, a sparse giant would fill the disk.
fn copy_index(index: &Path) -> Result<Option<tempfile::TempDir>, GitError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = index.display();
    let refuse = |why: String| GitError::Run(format!("cannot copy the index {shown}: {why}"));
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(index)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
    if !meta.is_file() {
        return Err(refuse("not a plain file".into()));
    }
    if meta.len() > INDEX_MAX {
        return Err(refuse(format!(
            "{} bytes, more than an index of a cpython checkout could be",
            meta.len()
        )));
    }
    let dir = tempfile::Builder::new()
        .prefix("shmharness-git-")
        .tempdir()
        .map_err(|e| GitError::Run(format!("cannot make a temp dir: {e} (check TMPDIR)")))?;
    crate::host::ledger::open();
    crate::host::ledger::note_dir(dir.path());
    std::fs::File::create(dir.path().join(INDEX))
        .and_then(|mut to| std::io::copy(&mut (&mut file).take(INDEX_MAX), &mut to))
        .map_err(|e| refuse(e.to_string()))?;
    Ok(Some(dir))
}

/// `git -C dir ARGS`, on `index` where given: its stdout, or (inner `Err`)
/// the last line of what it said on stderr. The outer `Err`: git could not
/// run at all.
fn git(
    dir: &Path,
    index: Option<&Path>,
    args: &[&str],
) -> Result<Result<String, String>, GitError> {
    // duct runs a relative path from the current directory: find git first.
    let program = which::which("git")
        .map_err(|e| GitError::Run(format!("no git on PATH ({e}); install git")))?;
    let mut spec = Spec::new(program);
    // On a copy of the index, a split index would still write (and expire)
    // `sharedindex.*` files in the real `.git`; and no fsmonitor hook runs.
    spec.arg("-C")
        .arg(dir)
        .args([
            "--no-pager",
            "-c",
            "core.splitIndex=false",
            "-c",
            "core.fsmonitor=false",
        ])
        .args(args);
    // No optional lock (`status` and its kin), no prompt, and the checkout
    // named by -C (not one a GIT_DIR or index file from our caller names;
    // the copy of the index is set below).
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
    if let Some(index) = index {
        spec.env("GIT_INDEX_FILE", index);
    }
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

    /// `git ARGS` in `dir` for a test's setup, isolated from the user's
    /// configuration.
    fn setup(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git runs (the --git tests need git)");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    const MODULE: &str = "Lib/multiprocessing/shared_memory.py";

    /// Give `file` a new mtime and the same content: its index entry is
    /// stale, which `git diff` refreshes in the index it reads.
    fn stat_dirty(file: &Path) {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
            .unwrap();
    }

    /// A checkout: `main` with one module, a later commit on `main` the
    /// branch `fix` forks before, and `fix` checked out with its change in
    /// the working tree and a new module untracked.
    fn checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("Lib/multiprocessing")).unwrap();
        std::fs::write(root.join(MODULE), "register(name)\n").unwrap();
        std::fs::write(root.join("Lib/multiprocessing/__init__.py"), "").unwrap();
        setup(root, &["init", "-q", "-b", "main"]);
        setup(root, &["add", "."]);
        setup(root, &["commit", "-q", "-m", "stock"]);
        setup(root, &["branch", "fix"]);
        std::fs::write(root.join("Lib/later.py"), "").unwrap();
        setup(root, &["add", "."]);
        setup(root, &["commit", "-q", "-m", "later"]);
        setup(root, &["checkout", "-q", "fix"]);
        std::fs::write(root.join(MODULE), "if create:\n    register(name)\n").unwrap();
        std::fs::write(root.join("Lib/multiprocessing/new.py"), "").unwrap();
        dir
    }

    #[test]
    fn the_working_tree_is_diffed_from_where_its_branch_left_the_base() {
        let dir = checkout();
        // Opened from a subdirectory: the checkout is its top.
        let c = Checkout::open(Some(&dir.path().join("Lib"))).unwrap();
        // A file whose stat data is stale but content is not: git diff
        // would refresh it in the index it reads, which is our copy.
        stat_dirty(&dir.path().join("Lib/multiprocessing/__init__.py"));
        let index = std::fs::read(dir.path().join(".git/index")).unwrap();
        let d = c.diff("main").unwrap();
        assert_eq!(std::fs::read(dir.path().join(".git/index")).unwrap(), index);
        assert_eq!(d.origin, "fix");
        assert_eq!(d.command, "git diff --merge-base main");
        assert_eq!(d.range, VersionRange::ALL);
        assert!(
            d.text
                .starts_with(&format!("diff --git a/{MODULE} b/{MODULE}\n")),
            "{}",
            d.text
        );
        assert!(d.text.contains("\n+if create:\n"), "{}", d.text);
        // main's later commit is not in it (not shown as deleted).
        assert!(!d.text.contains("later.py"), "{}", d.text);
        assert_eq!(d.untracked, ["Lib/multiprocessing/new.py"]);
        // A detached HEAD is named by its short commit id.
        setup(dir.path(), &["checkout", "-q", "--detach"]);
        let d = c.diff("main").unwrap();
        let short = c.run(&["rev-parse", "--short", "HEAD"]).unwrap();
        assert_eq!(d.origin, short.trim());
        assert!(!d.origin.is_empty() && d.origin != "HEAD");
    }

    /// The names of the files under `.git` (sorted).
    fn git_files(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(".git"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_split_index_gets_no_new_shared_index_in_the_checkout() {
        let dir = checkout();
        let root = dir.path();
        setup(root, &["config", "core.splitIndex", "true"]);
        setup(root, &["config", "splitIndex.maxPercentChange", "0"]);
        setup(root, &["update-index", "--split-index"]);
        let before = git_files(root);
        assert!(
            before.iter().any(|n| n.starts_with("sharedindex.")),
            "{before:?}"
        );
        stat_dirty(&root.join("Lib/multiprocessing/__init__.py"));
        let index = std::fs::read(root.join(".git/index")).unwrap();
        Checkout::open(Some(root)).unwrap().diff("main").unwrap();
        assert_eq!(git_files(root), before);
        assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index);
    }

    #[test]
    fn an_index_that_is_no_plain_file_is_refused_not_waited_on() {
        let dir = checkout();
        let index = dir.path().join(".git/index");
        std::fs::remove_file(&index).unwrap();
        let path = std::ffi::CString::new(index.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let err = Checkout::open(Some(dir.path())).err().unwrap().to_string();
        assert!(err.ends_with("index: not a plain file"), "{err}");
    }

    #[test]
    fn a_branch_is_diffed_by_its_commits_alone() {
        let dir = checkout();
        setup(dir.path(), &["commit", "-q", "-a", "-m", "fix"]);
        setup(dir.path(), &["checkout", "-q", "main"]);
        let c = Checkout::open(Some(dir.path())).unwrap();
        let d = c.diff("3.13=main...fix").unwrap();
        assert_eq!(d.origin, "fix");
        assert_eq!(d.command, "git diff main...fix");
        assert_eq!(d.range, VersionRange::parse("3.13").unwrap());
        assert!(d.text.contains("\n+if create:\n"), "{}", d.text);
        assert!(d.untracked.is_empty(), "a branch has no untracked files");
    }

    #[test]
    fn what_git_cannot_read_is_one_line_naming_it() {
        let dir = checkout();
        let c = Checkout::open(Some(dir.path())).unwrap();
        let root = c.root.display().to_string();
        assert_eq!(
            c.diff("nosuch").unwrap_err().to_string(),
            format!(
                "--git nosuch: `nosuch` does not resolve to a commit in {root} (name a branch, tag or commit, e.g. --git origin/main)"
            )
        );
        assert!(matches!(
            c.diff("-p"),
            Err(GitError::NoRevision { rev, .. }) if rev == "-p"
        ));
        assert!(matches!(
            c.diff("main...nosuch"),
            Err(GitError::NoRevision { rev, .. }) if rev == "nosuch"
        ));
        // No change since the base: said, not an empty candidate. (Opened
        // again: a checkout is read as its index was when it was opened.)
        setup(dir.path(), &["checkout", "-q", "-f", "main"]);
        let c = Checkout::open(Some(dir.path())).unwrap();
        assert_eq!(
            c.diff("main").unwrap_err().to_string(),
            "--git main: `git diff --merge-base main` is empty: the working tree has no change since it left main"
        );
        // Two histories with nothing in common.
        setup(dir.path(), &["checkout", "-q", "--orphan", "other"]);
        setup(dir.path(), &["commit", "-q", "-m", "other"]);
        assert!(matches!(
            c.diff("main"),
            Err(GitError::NoMergeBase { a, b, .. }) if a == "main" && b == "HEAD"
        ));
    }

    #[test]
    fn a_directory_outside_any_checkout_is_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        match Checkout::open(Some(&missing)) {
            Err(GitError::NotACheckout { dir, why }) => {
                assert_eq!(dir, missing.display().to_string());
                assert_eq!(why, "no such directory");
            }
            other => panic!("{:?}", other.map(|c| c.root)),
        }
        // A directory in no checkout: git's own reason (not a repository,
        // or a filesystem boundary it stops at).
        match Checkout::open(Some(Path::new("/proc"))) {
            Err(GitError::NotACheckout { why, .. }) => {
                assert!(
                    why.contains("not a git repository") || why.contains("filesystem boundary"),
                    "{why}"
                );
            }
            other => panic!("{:?}", other.map(|c| c.root)),
        }
    }

    #[test]
    fn branch_names_become_candidate_names() {
        assert_eq!(name_of("gh-82300-fix"), "gh-82300-fix");
        assert_eq!(name_of("user/fix"), "user-fix");
        assert_eq!(name_of(".hidden"), "hidden");
    }
}
