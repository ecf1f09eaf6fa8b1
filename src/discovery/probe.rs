//! Ask a candidate what it is: one short run of `probe.py` with `-I`.
//!
//! The probe always runs in its own process group with a timeout, and its
//! output is bounded, so a candidate that hangs or floods cannot stall or
//! exhaust the listing. Every failure becomes a reason, never a crash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::version::Version;
use crate::proc::{Running, Termination};

pub const PROBE_SCRIPT: &str = include_str!("probe.py");
const BEGIN: &str = "@@SHMHARNESS-PROBE@@";
const END: &str = "@@END@@";

/// What the probe reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub implementation: String,
    pub version: [u32; 3],
    pub realpath: Option<PathBuf>,
    pub executable: Option<PathBuf>,
    pub prefix: PathBuf,
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

/// Run the probe; `Err` is the rejection reason.
pub fn probe(path: &Path, timeout: Duration) -> Result<ProbeInfo, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.file_type().is_symlink() && std::fs::metadata(path).is_err() {
        let target = std::fs::read_link(path).unwrap_or_default();
        return Err(format!("broken symlink (points to {})", target.display()));
    }
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err("is a directory, not an executable".into());
    }
    let mut cmd = crate::python::command(path, None);
    cmd.args(["-I", "-B", "-c", PROBE_SCRIPT]);
    let running = Running::spawn(cmd, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => "not executable (permission denied)".to_string(),
        std::io::ErrorKind::NotFound => "not found".to_string(),
        _ if e.raw_os_error() == Some(libc::ENOEXEC) => "not an executable program".to_string(),
        _ => format!("cannot start: {e}"),
    })?;
    let out = running.finish();
    if out.timed_out {
        return Err(format!(
            "probe timed out after {:.1} s",
            timeout.as_secs_f64()
        ));
    }
    let framed = answer(&out.stdout);
    match (out.termination, framed) {
        (Termination::Exited(0), Some(parsed)) => {
            parsed.map_err(|e| format!("probe printed malformed JSON: {e}"))
        }
        (Termination::Exited(0), None) => Err(format!(
            "probe printed no answer (not a Python?): {}",
            first_line(&out.stdout).unwrap_or("no output")
        )),
        (t, _) => {
            let said = telling_line(&out.stderr).or_else(|| first_line(&out.stdout));
            let how = match t {
                Termination::Exited(code) => format!("exit {code}"),
                Termination::Signaled(sig) => format!("signal {sig}"),
            };
            match said {
                Some(s) if s.contains("Unknown option: -I") => {
                    Err("Python 2 (no -I option); shmharness needs CPython 3.8+".into())
                }
                Some(s) if is_pyenv_shim(path) => Err(format!("pyenv shim failed ({how}): {s}")),
                Some(s) => Err(format!("probe failed ({how}): {s}")),
                None => Err(format!("probe failed ({how}) with no output")),
            }
        }
    }
}

/// A pyenv shim lives in `<root>/shims/`.
pub fn is_pyenv_shim(path: &Path) -> bool {
    super::sources::is_shim(path)
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
        let json = r#"{"implementation":"cpython","version":[3,12,1],"realpath":null,"executable":null,
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
