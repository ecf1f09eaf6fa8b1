//! A user's own fix: `--patch` values (files, `-`, folders laid out like
//! `patches/<variant>/`, and `RANGE=FILE` per branch) read, checked and
//! turned into one variant, `patch:NAME`. Nothing here applies a patch;
//! `overlay::build` does, per interpreter.

use std::path::{Path, PathBuf};

use super::patch;
use super::variant::{PatchFrom, UserPatch, Variant, VariantError, builtin, checked, resolve};
use crate::contract::VariantId;
use crate::contract::{Usage, VersionRange};

/// What a `--patch` is for: a candidate whose code is judged (`run`,
/// `verify`, `diff`, `report`), or CPython's tests, where a diff of only
/// `Lib/test/` hunks (a new test run against stock) makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchUse {
    Code,
    Tests,
}

/// Where a user's own fix comes from: `--patch` values, `--git` values and
/// the checkout `--git` reads (`None`: the current directory's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Given<'a> {
    pub patch: &'a [String],
    pub git: &'a [String],
    pub git_dir: Option<&'a Path>,
}

impl Given<'_> {
    pub fn is_empty(&self) -> bool {
        self.patch.is_empty() && self.git.is_empty()
    }

    /// The options as a rerun gives them: `--patch a.diff --git main`.
    pub fn options(&self) -> String {
        let patch = self.patch.iter().map(|p| format!("--patch {p}"));
        let git = self.git.iter().map(|g| format!("--git {g}"));
        let dir = self.git_dir.map(|d| format!("--git-dir {}", d.display()));
        patch.chain(git).chain(dir).collect::<Vec<_>>().join(" ")
    }
}

/// `--patch` and `--git` values as one variant, `patch:NAME`: files, `-`,
/// folders, `RANGE=FILE` per branch, and git diffs. `None` when none was
/// given. `name` (`--name`) names it; without one, the files' common stem
/// does (`my-3.9.diff`, `my-main.diff` -> `my`), or the git branch's, else
/// their folder, else each file's.
pub fn user_variant(
    given: Given,
    used: PatchUse,
    name: Option<&str>,
) -> Result<Option<Variant>, VariantError> {
    if given.is_empty() {
        return Ok(None);
    }
    let stdin = |a: &String| a == "-" || a.ends_with("=-");
    if given.patch.iter().filter(|a| stdin(a)).count() > 1 {
        return Err(VariantError::StdinTwice);
    }
    let mut read = Vec::new();
    let mut first = None;
    // Each patch's file (`None`: from git), for the folder that names them.
    let mut paths = Vec::new();
    for arg in given.patch {
        let (range, path) = split_range(arg)?;
        let (stem, mut patches) = read_arg(path, range)?;
        paths.extend(std::iter::repeat_n(Some(path.to_path_buf()), patches.len()));
        first.get_or_insert(stem);
        read.append(&mut patches);
    }
    if !given.git.is_empty() {
        let checkout = super::git::Checkout::open(given.git_dir)?;
        for arg in given.git {
            let diff = checkout.diff(arg)?;
            if !diff.untracked.is_empty() {
                crate::term::progress::note(&format!(
                    "--git {arg}: untracked, so not in the diff: {} (`git add -N FILE` puts a new file in it)",
                    crate::term::style::printable(&diff.untracked.join(", "))
                ));
            }
            let patch = from_text(
                diff.text,
                diff.range,
                diff.origin,
                PatchFrom::Git {
                    arg: arg.clone(),
                    command: diff.command,
                },
            )?;
            first.get_or_insert(patch.origin.clone());
            paths.push(None);
            read.push(patch);
        }
    }
    // A diff of tests alone would judge stock as if it were the fix.
    if used == PatchUse::Code
        && let Some(p) = read.iter().find(|p| !p.code)
    {
        return Err(VariantError::NoCode { arg: p.from.arg() });
    }
    if let Some((a, b)) = overlap(&read) {
        return Err(VariantError::Overlap { a, b });
    }
    // A single folder is named after itself.
    let single_folder = given.patch.len() == 1
        && given.git.is_empty()
        && paths[0].as_ref().is_some_and(|p| p.is_dir());
    let name = match name {
        Some(n) => n.to_string(),
        None if !single_folder
            && read.len() > 1
            && read.iter().any(|p| p.origin != read[0].origin) =>
        {
            shared_name(&paths, &read)
        }
        None => first.unwrap_or_default(),
    };
    Ok(Some(Variant::user(&name, read)))
}

/// `3.8-3.9=a.diff` -> (3.8-3.9, `a.diff`); anything else is a path that
/// covers every version (`./a=b.diff` is a file whose name holds a `=`).
/// What reads as a mistyped range (`3.1x=a.diff`, no such file) is said
/// to be one.
fn split_range(arg: &str) -> Result<(VersionRange, &Path), VariantError> {
    let Some((r, p)) = arg.split_once('=') else {
        return Ok((VersionRange::ALL, Path::new(arg)));
    };
    if let Some(range) = VersionRange::parse(r) {
        if p.is_empty() {
            return Err(VariantError::NoFile {
                arg: arg.to_string(),
            });
        }
        return Ok((checked(range, arg)?, Path::new(p)));
    }
    let like_a_version = r.starts_with(|c: char| c.is_ascii_digit() || "<>=-".contains(c));
    if like_a_version && !Path::new(arg).exists() {
        return Err(VariantError::NotARange {
            arg: arg.to_string(),
            range: r.to_string(),
        });
    }
    Ok((VersionRange::ALL, Path::new(arg)))
}

/// One `--patch` argument read: its name and its patches (a folder gives
/// one per `X.Y[-Z.W].diff` file).
fn read_arg(path: &Path, range: VersionRange) -> Result<(String, Vec<UserPatch>), VariantError> {
    if !path.is_dir() {
        let patch = read_user_patch(path, range)?;
        return Ok((patch.origin.clone(), vec![patch]));
    }
    let files = folder_patches(path)?;
    if files.is_empty() {
        return Err(VariantError::EmptyFolder {
            path: path.display().to_string(),
        });
    }
    let read = files
        .iter()
        .map(|(file, range)| read_user_patch(file, *range))
        .collect::<Result<_, _>>()?;
    Ok((patch_stem(path), read))
}

/// One patch per branch: the variant is named after what they share: the
/// files' (or branches') common stem (`my-3.9`, `my-main` -> `my`), else
/// their folder (`gh-82300/{3.9,3.12,main}.diff` -> `gh-82300`), else each
/// one (`a+b`). `paths`: each patch's file, `None` for a git diff.
fn shared_name(paths: &[Option<PathBuf>], read: &[UserPatch]) -> String {
    let stems: Vec<&str> = read.iter().map(|p| p.origin.as_str()).collect();
    let common = common_stem(&stems);
    if common.len() >= 2 {
        return common;
    }
    let dirs: Vec<_> = paths
        .iter()
        .map(|p| {
            p.as_ref()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .and_then(|c| c.parent().map(Path::to_path_buf))
        })
        .collect();
    let shared = dirs.windows(2).all(|w| w[0] == w[1]);
    let folder = match (shared, dirs.first().cloned().flatten()) {
        (true, Some(dir)) => dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        _ => None,
    };
    folder.unwrap_or_else(|| stems.join("+"))
}

/// The longest prefix every stem starts with, without a trailing `-`,
/// `_` or `.` (`my-3.9`, `my-main` -> `my`).
fn common_stem(stems: &[&str]) -> String {
    let Some(first) = stems.first() else {
        return String::new();
    };
    let mut len = first.len();
    for s in stems {
        len = len.min(
            first
                .chars()
                .zip(s.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum(),
        );
    }
    first[..len]
        .trim_end_matches(['-', '_', '.', ' '])
        .to_string()
}

/// Two patches whose ranges share a version (checked over 3.0-3.99).
fn overlap(patches: &[UserPatch]) -> Option<(String, String)> {
    for minor in 0..100 {
        let v = crate::contract::Version::new(3, minor, 0);
        let covering: Vec<_> = patches.iter().filter(|p| p.range.matches(v)).collect();
        if covering.len() > 1 {
            return Some((
                format!("{} ({})", covering[0].from.arg(), covering[0].range),
                format!("{} ({})", covering[1].from.arg(), covering[1].range),
            ));
        }
    }
    None
}

/// What `run` and `cpython-tests` compare by default.
pub const DEFAULT_VARIANTS: &[VariantId] = &[VariantId::Stock, VariantId::CreateOnly];

/// The variants of `--variant` (`default` when none are named; just stock
/// next to a `--patch` or `--git`) followed by the user's variant, and the
/// usages that old variant names stand for (`track-false`).
pub fn variants(
    requested: &[String],
    given: Given,
    name: Option<&str>,
    used: PatchUse,
    default: &[VariantId],
) -> Result<(Vec<Variant>, Vec<Usage>), VariantError> {
    let user = user_variant(given, used, name)?;
    let (mut variants, usages) = match (requested.is_empty(), &user) {
        (true, Some(_)) => (vec![builtin(VariantId::Stock)], Vec::new()),
        (true, None) => (default.iter().map(|&v| builtin(v)).collect(), Vec::new()),
        (false, _) => resolve(requested)?,
    };
    variants.extend(user);
    Ok((variants, usages))
}

/// One candidate fix: `--patch`/`--git`, else the named variant (never
/// stock).
pub fn candidate(variant: &str, given: Given, name: Option<&str>) -> Result<Variant, VariantError> {
    if let Some(v) = user_variant(given, PatchUse::Code, name)? {
        return Ok(v);
    }
    // clap's `requires` is not checked next to `--variant`, which conflicts
    // with `--patch`: a name with nothing to name is still an error.
    if let Some(name) = name {
        return Err(VariantError::NameWithoutPatch {
            name: name.to_string(),
        });
    }
    if variant.contains(',') {
        return Err(VariantError::OneCandidate {
            given: variant.to_string(),
        });
    }
    if let Some((alias, usage)) = super::variant::USAGE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == variant)
    {
        return Err(VariantError::UsageNotVariant {
            name: alias.to_string(),
            usage: *usage,
        });
    }
    let id = VariantId::parse(variant).map_err(VariantError::from)?;
    if id == VariantId::Stock {
        return Err(VariantError::StockAsCandidate);
    }
    Ok(builtin(id))
}

/// Stock and one candidate, for the commands that compare the two.
pub fn stock_and_candidate(
    variant: &str,
    given: Given,
    name: Option<&str>,
) -> Result<Vec<Variant>, VariantError> {
    Ok(vec![
        builtin(VariantId::Stock),
        candidate(variant, given, name)?,
    ])
}

/// A user's patch file (or `-` for stdin) read and checked to parse.
pub fn read_user_patch(path: &Path, range: VersionRange) -> Result<UserPatch, VariantError> {
    let shown = path.display().to_string();
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    }
    .map_err(|source| VariantError::CannotRead {
        path: shown.clone(),
        source,
    })?;
    let from = PatchFrom::File(shown);
    let text = String::from_utf8(bytes).map_err(|_| VariantError::Binary { arg: from.arg() })?;
    from_text(text, range, patch_stem(path), from)
}

/// A diff's text (a file's, or what `git diff` printed) read as `--patch`
/// reads it: checked to parse, with one note per file it does not apply
/// (not under `Lib/multiprocessing/` or `Lib/test/`). `origin` names it.
pub fn from_text(
    text: String,
    range: VersionRange,
    origin: String,
    from: PatchFrom,
) -> Result<UserPatch, VariantError> {
    let files = patch::parse(&text).map_err(|source| VariantError::Parse {
        arg: from.arg(),
        source,
    })?;
    // A PR diff carries more than code: say once what is not applied.
    for f in patch::in_package(&files, patch::Package::Other) {
        crate::term::progress::note(&format!(
            "{}: skipping {} (not under Lib/multiprocessing/ or Lib/test/)",
            from.arg(),
            crate::term::style::printable(&f.path)
        ));
    }
    Ok(UserPatch {
        range,
        origin,
        code: !patch::in_package(&files, patch::Package::Multiprocessing).is_empty(),
        text,
        from,
    })
}

/// The name a patch file gives its variant: `fix.diff` -> `fix`, `-` ->
/// `stdin`, `/dev/fd/63` (process substitution: a pipe, no name) -> `pipe`.
pub fn patch_stem(path: &Path) -> String {
    if path == Path::new("-") {
        return "stdin".into();
    }
    let name = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `--patch <(git diff)` is /dev/fd/63: a pipe, with no name to keep.
    let in_fd_dir = path
        .parent()
        .is_some_and(|d| d == Path::new("/dev/fd") || d == Path::new("/proc/self/fd"));
    if in_fd_dir || name.chars().all(|c| c.is_ascii_digit()) {
        "pipe".to_string()
    } else {
        name
    }
}

/// Files of a patch folder (`--patch DIR`, laid out like
/// `patches/<variant>/`): each `X.Y[-Z.W].diff` with its range.
pub fn folder_patches(dir: &Path) -> Result<Vec<(PathBuf, VersionRange)>, VariantError> {
    let read = std::fs::read_dir(dir).map_err(|source| VariantError::CannotRead {
        path: dir.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in read.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|e| e == "diff" || e == "patch")
        {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(range) = VersionRange::parse(&stem) {
                out.push((path.clone(), checked(range, &path.display().to_string())?));
            }
        }
    }
    out.sort_by_key(|(_, r)| r.from);
    // As in patches/<variant>/: the newest family (`3.13.diff`) also
    // serves every later version.
    if let Some((_, last)) = out.last_mut() {
        *last = last.open_ended();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::variant::PatchFrom;

    /// `--patch` values alone.
    fn given(patch: &[String]) -> Given<'_> {
        Given {
            patch,
            ..Given::default()
        }
    }

    #[test]
    fn range_equals_file_only_when_the_range_is_one() {
        let (range, path) = split_range("3.8-3.9=a.diff").unwrap();
        assert_eq!(
            (range.to_string().as_str(), path),
            ("3.8-3.9", Path::new("a.diff"))
        );
        let (range, path) = split_range("./a=b.diff").unwrap();
        assert_eq!((range, path), (VersionRange::ALL, Path::new("./a=b.diff")));
        assert_eq!(
            split_range("3.12=").unwrap_err().to_string(),
            "--patch 3.12=: no file after `=` (write RANGE=FILE, e.g. 3.12=fix-3.12.diff)"
        );
        assert!(matches!(
            split_range("3.1x=a.diff"),
            Err(VariantError::NotARange { .. })
        ));
    }

    #[test]
    fn the_options_are_said_as_a_rerun_gives_them_and_git_dir_alone_reads_no_git() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fix.diff");
        std::fs::write(
            &file,
            "--- a/Lib/multiprocessing/x.py\n+++ b/Lib/multiprocessing/x.py\n@@ -1,1 +1,1 @@\n-a\n+b\n",
        )
        .unwrap();
        let patch = [file.display().to_string()];
        let git = ["main".to_string()];
        let all = Given {
            patch: &patch,
            git: &git,
            git_dir: Some(dir.path()),
        };
        assert_eq!(
            all.options(),
            format!(
                "--patch {} --git main --git-dir {}",
                patch[0],
                dir.path().display()
            )
        );
        // A --git-dir that is no checkout, with no --git: git is not asked.
        let v = user_variant(
            Given {
                patch: &patch,
                git: &[],
                git_dir: Some(dir.path()),
            },
            PatchUse::Code,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(v.name, "patch:fix");
        // Read from stdin (`-`), a diff is named so.
        let stdin = UserPatch {
            range: VersionRange::ALL,
            origin: "stdin".into(),
            text: String::new(),
            from: PatchFrom::File("-".into()),
            code: true,
        };
        assert_eq!(stdin.file_name(), "stdin");
    }

    #[test]
    fn per_branch_patches_are_named_after_their_common_stem() {
        assert_eq!(common_stem(&["my-3.9", "my-3.12", "my-main"]), "my");
        assert_eq!(common_stem(&["gh-82300-3.9", "gh-82300-main"]), "gh-82300");
        assert_eq!(common_stem(&["3.9", "3.12", "main"]), "");
        let patch = |origin: &str| UserPatch {
            range: VersionRange::ALL,
            origin: origin.into(),
            text: String::new(),
            from: PatchFrom::File(format!("{origin}.diff")),
            code: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let ux = dir.path().join("ux");
        std::fs::create_dir(&ux).unwrap();
        let paths: Vec<Option<PathBuf>> = ["my-3.9.diff", "my-main.diff"]
            .iter()
            .map(|f| {
                std::fs::write(ux.join(f), "").unwrap();
                Some(ux.join(f))
            })
            .collect();
        // Not the folder (`ux`): the files say what the fix is called.
        assert_eq!(
            shared_name(&paths, &[patch("my-3.9"), patch("my-main")]),
            "my"
        );
        // Files with nothing in common: their folder.
        assert_eq!(shared_name(&paths, &[patch("3.9"), patch("main")]), "ux");
        // A file and a git branch share no folder: each is named.
        assert_eq!(
            shared_name(&[paths[0].clone(), None], &[patch("3.9"), patch("fix")]),
            "3.9+fix"
        );
    }

    #[test]
    fn patch_stems_name_the_variant() {
        assert_eq!(patch_stem(Path::new("fix.diff")), "fix");
        assert_eq!(patch_stem(Path::new("-")), "stdin");
        assert_eq!(patch_stem(Path::new("/dev/fd/63")), "pipe");
        assert_eq!(patch_stem(Path::new("/tmp/a/fix_only.diff")), "fix_only");
    }

    /// A diff changing `Lib/{package}/x.py`.
    fn diff_in(package: &str) -> String {
        format!("--- a/Lib/{package}/x.py\n+++ b/Lib/{package}/x.py\n@@ -1 +1 @@\n-a\n+b\n")
    }

    /// Files under a temp dir; `(rel, text)`, parents made.
    fn patches(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    /// A patch read: (origin, range, whether it changes code).
    type Read = (String, String, bool);

    /// `--patch ARGS` (each relative to `dir`, after any `RANGE=`) read as
    /// for `used`: the variant's name and (origin, range, code) of each
    /// patch, or the error's text.
    fn read(dir: &Path, args: &[&str], used: PatchUse) -> Result<(String, Vec<Read>), String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.split_once('=') {
                Some((r, p)) => format!("{r}={}", dir.join(p).display()),
                None => dir.join(a).display().to_string(),
            })
            .collect();
        let v = user_variant(given(&args), used, None)
            .map_err(|e| e.to_string().replace(&format!("{}/", dir.display()), ""))?
            .expect("a --patch was given");
        let super::super::variant::PatchSource::User(read) = &v.patch else {
            panic!("a user variant")
        };
        let each = read
            .iter()
            .map(|p| (p.origin.clone(), p.range.to_string(), p.code));
        Ok((v.name, each.collect()))
    }

    fn mp() -> String {
        diff_in("multiprocessing")
    }

    #[test]
    fn a_patch_file_is_a_variant_named_after_it() {
        let dir = patches(&[("fix.diff", &mp()), ("gh-1/3.9.diff", &mp())]);
        let code = PatchUse::Code;
        assert_eq!(
            read(dir.path(), &["fix.diff"], code),
            Ok(("patch:fix".into(), vec![("fix".into(), "all".into(), true)]))
        );
        assert_eq!(
            user_variant(Given::default(), code, None)
                .unwrap()
                .map(|v| v.name),
            None
        );
        let v = user_variant(
            given(&[dir.path().join("fix.diff").display().to_string()]),
            code,
            None,
        )
        .unwrap()
        .unwrap();
        let super::super::variant::PatchSource::User(p) = &v.patch else {
            panic!()
        };
        assert_eq!(
            (p[0].text.as_str(), &p[0].from),
            (
                mp().as_str(),
                &PatchFrom::File(dir.path().join("fix.diff").display().to_string())
            )
        );
    }

    #[test]
    fn a_patch_of_tests_alone_is_refused_as_a_candidate_but_not_for_the_tests() {
        let dir = patches(&[("t.diff", &diff_in("test"))]);
        assert_eq!(
            read(dir.path(), &["t.diff"], PatchUse::Code).unwrap_err(),
            "--patch t.diff: it changes no code under Lib/multiprocessing/, so the candidate is stock; to run its Lib/test/ hunks against stock, use `shmharness cpython-tests --patch t.diff`"
        );
        assert_eq!(
            read(dir.path(), &["t.diff"], PatchUse::Tests),
            Ok(("patch:t".into(), vec![("t".into(), "all".into(), false)]))
        );
    }

    #[test]
    fn patches_per_branch_are_one_variant_named_after_what_they_share() {
        let dir = patches(&[
            ("gh-82300/3.9.diff", &mp()),
            ("gh-82300/main.diff", &mp()),
            ("a/a.diff", &mp()),
            ("b/b.diff", &mp()),
            ("c/a.diff", &mp()),
        ]);
        let code = PatchUse::Code;
        assert_eq!(
            read(
                dir.path(),
                &["3.8-3.9=gh-82300/3.9.diff", "3.10-=gh-82300/main.diff"],
                code
            ),
            Ok((
                "patch:gh-82300".into(),
                vec![
                    ("3.9".into(), "3.8-3.9".into(), true),
                    ("main".into(), "3.10-".into(), true)
                ]
            ))
        );
        assert_eq!(
            read(dir.path(), &["3.8-3.9=a/a.diff", "3.10-=b/b.diff"], code).map(|r| r.0),
            Ok("patch:a+b".into())
        );
        // One file for two ranges is one name; so are two files of one name.
        for args in [
            ["3.8-3.9=a/a.diff", "3.10-=a/a.diff"],
            ["3.8-3.9=a/a.diff", "3.10-=c/a.diff"],
        ] {
            assert_eq!(
                read(dir.path(), &args, code).map(|r| r.0),
                Ok("patch:a".into())
            );
        }
        // A folder and a file are named after each.
        assert_eq!(
            read(dir.path(), &["gh-82300", "3.8=a/a.diff"], code).map(|r| r.0),
            Ok("patch:3.9+a".into())
        );
        assert_eq!(
            read(dir.path(), &["3.8-3.10=a/a.diff", "3.10-=b/b.diff"], code).unwrap_err(),
            "--patch a/a.diff (3.8-3.10) and --patch b/b.diff (3.10-) cover the same Python versions; give each version one patch (RANGE= before each, e.g. 3.8-3.12=)"
        );
        assert!(
            read(
                dir.path(),
                &["3.8-3.9=a/a.diff", "3.9.1-3.9.5=b/b.diff"],
                code
            )
            .is_ok(),
            "3.9.0 is checked, not 3.9.1"
        );
    }

    #[test]
    fn a_patch_folder_is_one_patch_per_family() {
        let dir = patches(&[
            ("myfix/3.8-3.9.diff", &mp()),
            ("myfix/3.13.diff", &mp()),
            ("myfix/3.10-3.12.patch", &mp()),
            ("myfix/README.md", "not a patch"),
            ("myfix/notes.diff", "not a range, not read"),
            ("empty/README.md", ""),
        ]);
        assert_eq!(
            read(dir.path(), &["myfix"], PatchUse::Code),
            Ok((
                "patch:myfix".into(),
                vec![
                    ("3.8-3.9".into(), "3.8-3.9".into(), true),
                    ("3.10-3.12".into(), "3.10-3.12".into(), true),
                    // The newest serves every later version too.
                    ("3.13".into(), "3.13-".into(), true),
                ]
            ))
        );
        assert_eq!(
            read(dir.path(), &["empty"], PatchUse::Code).unwrap_err(),
            "--patch empty: no X.Y[-Z.W].diff files in this folder (lay it out like patches/create-only/)"
        );
    }

    #[test]
    fn what_cannot_be_a_patch_says_why() {
        let dir = patches(&[
            ("bin.diff", "\u{0}"),
            ("bad.diff", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n"),
            ("ok.diff", &mp()),
            ("folder/3.13-3.8.diff", &mp()),
        ]);
        std::fs::write(dir.path().join("bin.diff"), [0xffu8, 0xfe, 0]).unwrap();
        let err = |args: &[&str]| read(dir.path(), args, PatchUse::Code).unwrap_err();
        assert!(err(&["missing.diff"]).starts_with("--patch missing.diff: cannot read: "));
        assert_eq!(
            err(&["bin.diff"]),
            "--patch bin.diff: the patch is not text (binary data)"
        );
        assert!(
            err(&["bad.diff"]).starts_with("--patch bad.diff: "),
            "{}",
            err(&["bad.diff"])
        );
        assert_eq!(
            err(&["3.13-3.8=ok.diff"]),
            "--patch 3.13-3.8=ok.diff: the range is reversed (write the lower version first, e.g. 3.8-3.13)"
        );
        assert_eq!(
            err(&["folder"]),
            "--patch folder/3.13-3.8.diff: the range is reversed (write the lower version first, e.g. 3.8-3.13)"
        );
        assert_eq!(
            err(&["3.x=ok.diff"]),
            "--patch 3.x=ok.diff: `3.x` is not a version range (try 3.10, 3.8-3.9 or 3.13-)"
        );
        // stdin can be read once; one `-` is checked like any other value
        // (here its range fails first, before stdin is read).
        let stdin_twice = user_variant(given(&["-".into(), "3.13=-".into()]), PatchUse::Code, None);
        assert_eq!(
            stdin_twice.unwrap_err().to_string(),
            "--patch -: stdin can be read once; give the other patches as files"
        );
        let once = user_variant(given(&["3.x=-".into()]), PatchUse::Code, None);
        assert!(matches!(once, Err(VariantError::NotARange { .. })));
    }

    #[test]
    fn the_variants_to_run_are_the_named_or_default_ones_then_the_patch() {
        let dir = patches(&[("fix.diff", &mp())]);
        let fix = vec![dir.path().join("fix.diff").display().to_string()];
        let names = |requested: &[&str], patch: &[String]| -> Vec<String> {
            let requested: Vec<String> = requested.iter().map(|s| s.to_string()).collect();
            variants(
                &requested,
                given(patch),
                None,
                PatchUse::Code,
                DEFAULT_VARIANTS,
            )
            .unwrap()
            .0
            .into_iter()
            .map(|v| v.name)
            .collect()
        };
        assert_eq!(names(&[], &[]), ["stock", "create-only"]);
        assert_eq!(names(&[], &fix), ["stock", "patch:fix"]);
        assert_eq!(names(&["no-register"], &fix), ["no-register", "patch:fix"]);
        assert_eq!(
            names(&["no-tracking", "stock"], &[]),
            ["no-tracking", "stock"]
        );
        // One candidate: the patch, else the named fix, never stock.
        let name = |n: &str, patch: &[String]| {
            candidate(n, given(patch), None)
                .map(|v| v.name)
                .map_err(|e| e.to_string())
        };
        assert_eq!(name("stock", &fix), Ok("patch:fix".into()));
        assert_eq!(name("no-register", &[]), Ok("no-register".into()));
        assert_eq!(
            name("stock", &[]),
            Err("--variant stock is the baseline; name a fix to compare with it".into())
        );
        assert!(name("no-such-fix", &[]).is_err());
        let both: Vec<String> = stock_and_candidate("create-only", Given::default(), None)
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(both, ["stock", "create-only"]);
    }

    #[test]
    fn a_pipe_has_no_name_to_keep() {
        for (path, stem) in [
            ("/proc/self/fd/12", "pipe"),
            ("/dev/fd/x.diff", "pipe"),
            ("63", "pipe"),
            ("/dev/fdx/a.diff", "a"),
            ("/tmp/12a.diff", "12a"),
            ("/tmp/fix.patch", "fix"),
        ] {
            assert_eq!(patch_stem(Path::new(path)), stem, "{path}");
        }
    }
}
