//! Ask a candidate what it is: one short run of `probe.py` with `-I`.
//!
//! The probe always runs in its own process group with a timeout, and its
//! output is bounded, so a candidate that hangs or floods cannot stall or
//! exhaust the listing. Every failure becomes a reason, never a crash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contract::Version;
use crate::host::proc::{Running, Termination};

pub const PROBE_SCRIPT: &str = include_str!("probe.py");
const BEGIN: &str = "@@SHMHARNESS-PROBE@@";
const END: &str = "@@END@@";

/// What the probe reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub implementation: String,
    pub version: [u32; 3],
    pub realpath: Option<PathBuf>,
    pub prefix: PathBuf,
    /// `sys.base_prefix`: differs from `prefix` in a virtual environment.
    #[serde(default)]
    pub base_prefix: Option<PathBuf>,
    pub debug: bool,
    pub free_threaded: bool,
    pub multiprocessing: Option<PathBuf>,
    pub shared_memory: bool,
}

impl ProbeInfo {
    pub fn version(&self) -> Version {
        Version::new(self.version[0], self.version[1], self.version[2])
    }
}

/// Why a candidate gave no usable answer. Each becomes the reason `list
/// --all` shows; `Interrupted` is not a reason but a stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read: {0}")]
    CannotRead(String),
    #[error("broken symlink (points to {})", .0.display())]
    BrokenLink(PathBuf),
    #[error("is a directory, not an executable")]
    IsDirectory,
    #[error("not executable (permission denied)")]
    PermissionDenied,
    #[error("not found")]
    NotFound,
    #[error("not an executable program")]
    NotAProgram,
    #[error("cannot start: {0}")]
    CannotStart(String),
    #[error("probe timed out after {:.1} s", .0.as_secs_f64())]
    TimedOut(Duration),
    #[error("probe printed malformed JSON: {0}")]
    Malformed(String),
    #[error("probe printed no answer (not a Python?): {0}")]
    NoAnswer(String),
    #[error("Python 2 (no -I option); shmharness needs CPython 3.8+")]
    Python2,
    #[error("pyenv shim failed ({how}): {said}")]
    ShimFailed { how: String, said: String },
    #[error("probe failed ({how}): {said}")]
    Failed { how: String, said: String },
    #[error("probe failed ({0}) with no output")]
    Silent(String),
    #[error("interrupted")]
    Interrupted,
}

/// Run the probe.
/// Start the probe. ETXTBSY ("text file busy": the file was being written,
/// and a process forked meanwhile still holds it open for writing until it
/// execs) passes in moments, so it is tried again a few times rather than
/// taken as the candidate's answer.
fn run_when_not_busy(
    cmd: &crate::host::proc::Spec,
    timeout: Duration,
) -> std::io::Result<crate::host::proc::Finished> {
    let mut tries = 0;
    loop {
        match Running::run(cmd, timeout) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => tries += 1,
            other => return other,
        }
    }
}

pub fn probe(path: &Path, timeout: Duration) -> Result<ProbeInfo, ProbeError> {
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| ProbeError::CannotRead(e.to_string()))?;
    if meta.file_type().is_symlink() && std::fs::metadata(path).is_err() {
        let target = std::fs::read_link(path).unwrap_or_default();
        return Err(ProbeError::BrokenLink(target));
    }
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err(ProbeError::IsDirectory);
    }
    let mut cmd = crate::host::python::command(path, None);
    cmd.args(["-I", "-B", "-c", PROBE_SCRIPT]);
    let out = run_when_not_busy(&cmd, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied,
        std::io::ErrorKind::NotFound => ProbeError::NotFound,
        std::io::ErrorKind::Interrupted => ProbeError::Interrupted,
        _ if e.raw_os_error() == Some(libc::ENOEXEC) => ProbeError::NotAProgram,
        _ => ProbeError::CannotStart(e.to_string()),
    })?;
    // A probe the signal killed says nothing about the candidate.
    if crate::host::proc::cancelled() {
        return Err(ProbeError::Interrupted);
    }
    if out.timed_out {
        return Err(ProbeError::TimedOut(timeout));
    }
    let framed = answer(&out.stdout);
    match (out.termination, framed) {
        (Termination::Exited(0), Some(parsed)) => {
            parsed.map_err(|e| ProbeError::Malformed(e.to_string()))
        }
        (Termination::Exited(0), None) => Err(ProbeError::NoAnswer(
            first_line(&out.stdout).unwrap_or("no output").to_string(),
        )),
        (t, _) => {
            let said = telling_line(&out.stderr).or_else(|| first_line(&out.stdout));
            let how = match t {
                Termination::Signaled(sig) => format!("signal {sig}"),
                exited => exited.to_string(),
            };
            match said {
                Some(s) if s.contains("Unknown option: -I") => Err(ProbeError::Python2),
                Some(s) if is_pyenv_shim(path) => Err(ProbeError::ShimFailed {
                    how,
                    said: s.to_string(),
                }),
                Some(s) => Err(ProbeError::Failed {
                    how,
                    said: s.to_string(),
                }),
                None => Err(ProbeError::Silent(how)),
            }
        }
    }
}

/// A pyenv shim lives in `<root>/shims/` and is a script that runs
/// `pyenv exec`; asdf's and mise's `shims` folders hold scripts of their
/// own, so the folder's name alone does not say "pyenv".
pub fn is_pyenv_shim(path: &Path) -> bool {
    super::sources::is_shim(path) && script_mentions(path, "pyenv")
}

/// Whether the first few KB of a (script) file contain `word`.
fn script_mentions(path: &Path, word: &str) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .is_ok()
        && String::from_utf8_lossy(&head).contains(word)
}

/// The probe's answer: the last frame (start marker .. end marker) whose
/// text parses. Whatever a `sitecustomize`, a `.pth` file or an `atexit`
/// handler prints before or after is ignored, even if it contains a marker.
/// None: no frame at all; `Err`: frames, none of them valid.
pub fn answer(stdout: &str) -> Option<Result<ProbeInfo, serde_json::Error>> {
    let mut last_err = None;
    for json in frames(stdout).into_iter().rev() {
        match serde_json::from_str(json) {
            Ok(info) => return Some(Ok(info)),
            Err(e) => last_err = last_err.or(Some(Err(e))),
        }
    }
    last_err
}

/// Every text between a start marker and the next end marker.
fn frames(stdout: &str) -> Vec<&str> {
    stdout
        .match_indices(BEGIN)
        .filter_map(|(at, _)| {
            let rest = &stdout[at + BEGIN.len()..];
            rest.split_once(END).map(|(json, _)| json)
        })
        .collect()
}

/// The stderr line that says why: the last line of a traceback (the
/// exception), else the first non-empty line (`pyenv: python3.8: command
/// not found`).
fn telling_line(stderr: &str) -> Option<&str> {
    if stderr.contains("Traceback (most recent call last)") {
        let last = stderr.lines().map(str::trim).rfind(|l| !l.is_empty())?;
        return first_line(last);
    }
    first_line(stderr)
}

fn first_line(text: &str) -> Option<&str> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(match line.char_indices().nth(200) {
        Some((cut, _)) => &line[..cut],
        None => line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_survives_noise_and_stray_markers() {
        let json = r#"{"implementation":"cpython","version":[3,12,1],"realpath":null,
            "prefix":"/p","debug":false,"free_threaded":false,"multiprocessing":null,"shared_memory":false}"#;
        let out = format!(
            "junk {BEGIN} {{\"x\": 2}}\n@@END@@\n{BEGIN}{json}{END}\n{BEGIN} atexit junk\n"
        );
        assert_eq!(answer(&out).unwrap().unwrap().prefix, PathBuf::from("/p"));
        assert!(answer("no frame").is_none());
        assert!(answer(&format!("{BEGIN}truncated")).is_none());
        assert!(answer(&format!("{BEGIN}{{bad{END}")).unwrap().is_err());
    }

    #[test]
    fn telling_line_prefers_the_exception() {
        let tb =
            "Traceback (most recent call last):\n  File \"<string>\", line 1\nImportError: boom\n";
        assert_eq!(telling_line(tb), Some("ImportError: boom"));
        assert_eq!(
            telling_line("pyenv: python3.8: command not found\n\nThe `python3.8' command exists\n"),
            Some("pyenv: python3.8: command not found")
        );
    }
}

#[cfg(test)]
mod shim_tests {
    use super::*;

    #[test]
    fn only_a_pyenv_script_in_shims_is_a_pyenv_shim() {
        let dir = tempfile::tempdir().unwrap();
        let shims = dir.path().join("shims");
        std::fs::create_dir(&shims).unwrap();
        let pyenv = shims.join("python3");
        std::fs::write(
            &pyenv,
            "#!/usr/bin/env bash\nexec \"/root/.pyenv/libexec/pyenv\" exec \"$program\"\n",
        )
        .unwrap();
        let asdf = shims.join("python3.12");
        std::fs::write(
            &asdf,
            "#!/usr/bin/env bash\nexec asdf exec \"python3.12\" \"$@\"\n",
        )
        .unwrap();
        assert!(is_pyenv_shim(&pyenv));
        assert!(!is_pyenv_shim(&asdf));
        let elsewhere = dir.path().join("python3");
        std::fs::write(&elsewhere, "pyenv").unwrap();
        assert!(!is_pyenv_shim(&elsewhere));
    }

    /// The probe's error for `path`, as `list --all` shows it.
    fn why(path: &Path) -> String {
        probe(path, Duration::from_secs(120))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_candidate_that_is_no_interpreter_says_what_it_is() {
        use crate::contract::fixtures::script;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = |rel: &str| dir.path().join(rel);
        assert!(why(&p("missing")).starts_with("cannot read: "));
        std::os::unix::fs::symlink(p("gone"), p("link")).unwrap();
        assert_eq!(
            why(&p("link")),
            format!("broken symlink (points to {})", p("gone").display())
        );
        std::fs::create_dir(p("dir")).unwrap();
        assert_eq!(why(&p("dir")), "is a directory, not an executable");
        let plain = script(&p("plain"), "exit 0");
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(why(&plain), "not executable (permission denied)");
        std::fs::write(p("orphan"), "#!/nonexistent/interpreter\n").unwrap();
        std::fs::set_permissions(p("orphan"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(why(&p("orphan")), "not found");
        std::fs::write(p("data"), [0u8, 1, 2, 3, 0xff, 0xfe, 0, 0]).unwrap();
        std::fs::set_permissions(p("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(why(&p("data")), "not an executable program");
        // Any other failure to start is said as the system says it: here
        // scripts whose interpreters are scripts, nested past the kernel's
        // limit (ELOOP).
        for n in 0..8 {
            let next = p(&format!("nested{}", n + 1));
            std::fs::write(p(&format!("nested{n}")), format!("#!{}\n", next.display())).unwrap();
            std::fs::set_permissions(
                p(&format!("nested{n}")),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        script(&p("nested8"), "exit 0");
        let nested = why(&p("nested0"));
        assert!(nested.starts_with("cannot start: "), "{nested}");
    }

    #[test]
    fn a_probe_that_runs_and_fails_says_why_in_one_line() {
        use crate::contract::fixtures::script;
        let dir = tempfile::tempdir().unwrap();
        for (body, reason) in [
            (
                "printf '%s' '@@SHMHARNESS-PROBE@@{\"version\": 3}@@END@@'",
                "probe printed malformed JSON: ",
            ),
            (
                "echo hello; echo world",
                "probe printed no answer (not a Python?): hello",
            ),
            (
                "exit 0",
                "probe printed no answer (not a Python?): no output",
            ),
            (
                "echo 'Unknown option: -I' >&2; exit 2",
                "Python 2 (no -I option); shmharness needs CPython 3.8+",
            ),
            (
                "printf 'Traceback (most recent call last):\\n  File x\\nImportError: boom\\n\\n' >&2; exit 1",
                "probe failed (exit 1): ImportError: boom",
            ),
            (
                "echo 'on stdout'; exit 4",
                "probe failed (exit 4): on stdout",
            ),
            ("exit 5", "probe failed (exit 5) with no output"),
            ("kill -9 $$", "probe failed (signal 9) with no output"),
        ] {
            let py = script(&dir.path().join("python3"), body);
            let got = why(&py);
            assert!(got.starts_with(reason), "{body}: {got}");
        }
        // In a pyenv shims folder, the same failure is the shim's.
        let shim = dir.path().join("shims/python3.8");
        script(
            &shim,
            "# pyenv exec\necho 'pyenv: python3.8: command not found' >&2; exit 127",
        );
        assert_eq!(
            why(&shim),
            "pyenv shim failed (exit 127): pyenv: python3.8: command not found"
        );
    }

    #[test]
    fn an_answer_through_a_link_is_the_interpreters() {
        use crate::contract::fixtures::{probe_answer, script};
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::json!({
            "implementation": "cpython", "version": [3, 13, 2], "realpath": "/r",
            "prefix": "/p", "debug": false, "free_threaded": true,
            "multiprocessing": "/m", "shared_memory": true,
        });
        let real = script(&dir.path().join("python3.13t"), &probe_answer(&json));
        let link = dir.path().join("python3");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let info = probe(&link, Duration::from_secs(120)).unwrap();
        assert_eq!(info.version(), Version::new(3, 13, 2));
        assert_eq!(
            (info.free_threaded, info.realpath, info.base_prefix),
            (true, Some(PathBuf::from("/r")), None)
        );
    }
}
