//! Diff forms beyond `---`/`+++` and hunks at the lines they name, as git
//! and CPython developers make them: a rename (git's default), an empty new
//! module (git's header alone), and a backport whose hunk header is past the
//! end of the branch's shorter file. Each runs the real binary on a real
//! interpreter: `patch show`, or `verify` on one quick scenario.

use std::path::{Path, PathBuf};

use crate::util::{Py, arg, python, run_text};

/// The PR-shaped example fix for `py`'s branch layout (see workflow.rs).
fn example(py: &Py) -> String {
    let branch = match py.minor {
        ..=9 => "3.9",
        10..=12 => "3.12",
        _ => "main",
    };
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/examples/gh-82300/{branch}.diff"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `verify` of `patch` on `py`, on one scenario and start method.
fn verify(patch: &Path, py: &Py) -> (i32, String, String) {
    run_text(&[
        "verify",
        "--patch",
        arg(patch),
        "--python",
        py.arg(),
        "--scenario",
        "three-process",
        "--start-method",
        "spawn",
    ])
}

fn patch_show(patch: &Path, py: &Py) -> (i32, String, String) {
    run_text(&["patch", "show", "--patch", arg(patch), "--python", py.arg()])
}

/// A reviewer's report: the good fix plus a rename of popen_fork.py (which
/// would break every start method) was verified OK, exit 0, because the
/// rename (`git diff`'s default: header lines only) was silently dropped.
#[test]
fn a_renamed_module_is_refused_never_verified() {
    let py = python("3.15");
    let dir = tempfile::tempdir().unwrap();
    let rename =
        "diff --git a/Lib/multiprocessing/popen_fork.py b/Lib/multiprocessing/popen_fork_x.py
similarity index 100%
rename from Lib/multiprocessing/popen_fork.py
rename to Lib/multiprocessing/popen_fork_x.py
";
    let refused = "`Lib/multiprocessing/popen_fork.py` is renamed to `Lib/multiprocessing/popen_fork_x.py`; a rename deletes a file under Lib/multiprocessing/ or Lib/test/, which cannot be overlaid";
    let patch = write(&dir, "rename.diff", &format!("{}{rename}", example(&py)));
    let (code, out, err) = verify(&patch, &py);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        !out.contains("OK") && !err.contains("OK"),
        "no verdict:\n{out}{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    assert!(err.contains(refused), "{err}");

    // With an edit (similarity under 100%), `---`/`+++` name both paths:
    // the same refusal, not "popen_fork_x.py is not in its package".
    let first = std::fs::read_to_string(py.multiprocessing.join("popen_fork.py")).unwrap();
    let first = first.lines().next().unwrap();
    let edited = format!(
        "diff --git a/Lib/multiprocessing/popen_fork.py b/Lib/multiprocessing/popen_fork_x.py
similarity index 99%
rename from Lib/multiprocessing/popen_fork.py
rename to Lib/multiprocessing/popen_fork_x.py
index a02a53b..e7ec044 100644
--- a/Lib/multiprocessing/popen_fork.py
+++ b/Lib/multiprocessing/popen_fork_x.py
@@ -1,1 +1,2 @@
 {first}
+# moved
"
    );
    let patch = write(&dir, "edited.diff", &format!("{}{edited}", example(&py)));
    let (code, out, err) = patch_show(&patch, &py);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    assert!(err.contains(refused), "{err}");
}

/// An empty new module is git's header alone (no `---`/`+++`, no hunk);
/// it was dropped, so a fix that imports it failed with ImportError.
#[test]
fn an_empty_new_module_is_created_and_shown() {
    let py = python("3.15");
    let dir = tempfile::tempdir().unwrap();
    let fix = fix_importing(&py, "from . import _shmh_empty");
    // Last, after the NEWS entry, as `git diff` sorts it there.
    let empty =
        "diff --git a/Lib/multiprocessing/_shmh_empty.py b/Lib/multiprocessing/_shmh_empty.py
new file mode 100644
index 0000000..e69de29
";
    let patch = write(&dir, "empty.diff", &format!("{fix}{empty}"));

    let (code, out, err) = patch_show(&patch, &py);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(empty), "listed:\n{out}");
    assert!(out.contains("+from . import _shmh_empty"), "{out}");

    let (code, out, err) = verify(&patch, &py);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("ImportError"), "{out}");
    assert!(out.contains(" OK "), "{out}");
}

/// A backport: a fix made on main, whose file is longer than the branch's,
/// has a hunk header past the end of the branch's file (3.15's
/// resource_tracker.py has 495 lines, 3.13.0's 296). `git apply` and GNU
/// `patch` search for the context and say the offset; this was refused
/// ("hunk #1 starts at line 450, but the file has 296 lines").
#[test]
fn a_backport_hunk_past_the_end_of_the_file_is_found_and_its_offset_said() {
    let py = python("3.13");
    let dir = tempfile::tempdir().unwrap();
    let stock = std::fs::read_to_string(py.multiprocessing.join("shared_memory.py")).unwrap();
    let stock: Vec<&str> = stock.lines().collect();
    let fix = example(&py);
    // The shared_memory.py hunk, and where its old lines are in this file.
    let lines: Vec<&str> = fix.lines().collect();
    let h = lines
        .iter()
        .position(|l| *l == "+++ b/Lib/multiprocessing/shared_memory.py")
        .unwrap()
        + 1;
    let old: Vec<&str> = lines[h + 1..]
        .iter()
        .take_while(|l| !l.starts_with("--- "))
        .filter(|l| !l.starts_with('+'))
        .map(|l| l.get(1..).unwrap_or(""))
        .collect();
    let found = stock
        .windows(old.len())
        .position(|w| w == old.as_slice())
        .expect("the example applies to its branch")
        + 1;
    // The header as a longer file would have it: past this file's end.
    let past = stock.len() + 154;
    let (ranges, _) = lines[h]
        .strip_prefix("@@ -")
        .unwrap()
        .split_once(" @@")
        .unwrap();
    let (old_range, new_range) = ranges.split_once(" +").unwrap();
    let (_, old_len) = old_range.split_once(',').unwrap();
    let (_, new_len) = new_range.split_once(',').unwrap();
    let backport = fix.replacen(
        lines[h],
        &format!("@@ -{past},{old_len} +{past},{new_len} @@"),
        1,
    );
    let patch = write(&dir, "backport.diff", &backport);

    let (code, out, err) = patch_show(&patch, &py);
    assert_eq!(code, 0, "{out}{err}");
    let note = format!(
        "# note: shared_memory.py hunk #1 applied {} lines earlier than its header says",
        past - found
    );
    assert!(out.lines().any(|l| l == note), "{note}\n{out}{err}");

    let (code, out, err) = verify(&patch, &py);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" OK "), "{out}");
}

/// A new module in a new subpackage (a folder the installed package does
/// not have): the overlay makes the folder ("cannot write the overlay"
/// before).
#[test]
fn a_new_subpackage_is_created() {
    let py = python("3.15");
    let dir = tempfile::tempdir().unwrap();
    let fix = fix_importing(&py, "from ._shmh_sub import helper as _shmh_helper");
    let sub = "diff --git a/Lib/multiprocessing/_shmh_sub/__init__.py b/Lib/multiprocessing/_shmh_sub/__init__.py
new file mode 100644
index 0000000..e69de29
diff --git a/Lib/multiprocessing/_shmh_sub/helper.py b/Lib/multiprocessing/_shmh_sub/helper.py
new file mode 100644
--- /dev/null
+++ b/Lib/multiprocessing/_shmh_sub/helper.py
@@ -0,0 +1 @@
+VALUE = 1
";
    let patch = write(&dir, "sub.diff", &format!("{fix}{sub}"));
    let (code, out, err) = verify(&patch, &py);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" OK "), "{out}");
}

/// The example fix for `py`'s branch, with `import` added after
/// shared_memory.py's `import os` (to use a module the diff adds).
fn fix_importing(py: &Py, import: &str) -> String {
    let stock = std::fs::read_to_string(py.multiprocessing.join("shared_memory.py")).unwrap();
    let at = stock
        .lines()
        .position(|l| l == "import os")
        .expect("shared_memory.py imports os")
        + 1;
    let header = "+++ b/Lib/multiprocessing/shared_memory.py\n";
    example(py).replacen(
        header,
        &format!("{header}@@ -{at},1 +{at},2 @@\n-import os\n+import os\n+{import}\n"),
        1,
    )
}
