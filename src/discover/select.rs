//! `--python SPEC`: pick interpreters by version, range, path or
//! `source:version`.

use std::path::PathBuf;

use super::sources::Source;
use super::{Discovery, Interpreter};
use crate::contract::VersionRange;

/// Why `--python` cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("empty --python value")]
    Empty,
    #[error("unknown source `{given}` in --python {spec} (sources: {known})")]
    UnknownSource {
        given: String,
        spec: String,
        known: String,
    },
    #[error(
        "--python {0}: not a version, range or path (try 3.10, 3.8-3.11, >=3.9, pyenv:3.12 or /path/to/python3)"
    )]
    BadVersion(String),
    #[error("--python {0}: no such command on PATH")]
    NoCommand(String),
    #[error("--python {path}: not usable{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    NotUsable {
        path: String,
        reason: Option<String>,
    },
    #[error(
        "--python {spec}: matches none of the interpreters found ({have}); see `shmharness list --all`"
    )]
    NoMatch { spec: String, have: String },
    #[error("--python {spec}: {version} was found at {path}, but rejected: {reason}")]
    Rejected {
        spec: String,
        version: String,
        path: String,
        reason: String,
    },
    #[error("--python {0}: the range is reversed (write the lower version first, e.g. 3.7-3.8)")]
    ReversedRange(String),
    #[error(
        "no CPython 3.8 or newer found (looked in pyenv, PATH and the usual install places); \
         install one (e.g. `pyenv install 3.12`, or run .ci/newer-pythons) or pass --python /path/to/python3 \
         (see `shmharness list --all` for what was rejected)"
    )]
    NothingFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonSpec {
    /// A file to probe and use (also a bare command name found on PATH).
    Path(PathBuf),
    Version {
        text: String,
        source: Option<Source>,
        req: Option<VersionRange>,
    },
}

impl PythonSpec {
    pub fn parse(s: &str) -> Result<PythonSpec, SelectError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SelectError::Empty);
        }
        if s.contains('/') || s.starts_with('.') || s.starts_with('~') {
            return Ok(PythonSpec::Path(PathBuf::from(s)));
        }
        if let Some((src, ver)) = s.split_once(':') {
            let source = Source::parse(src).ok_or_else(|| {
                let names: Vec<_> = Source::ALL.iter().map(|s| s.name()).collect();
                SelectError::UnknownSource {
                    given: src.to_string(),
                    spec: s.to_string(),
                    known: names.join(", "),
                }
            })?;
            let req = if ver.is_empty() {
                None
            } else {
                Some(parse_req(ver, s)?)
            };
            return Ok(PythonSpec::Version {
                text: s.to_string(),
                source: Some(source),
                req,
            });
        }
        if s.starts_with("python") {
            // `python3.12`: a command on PATH, resolved the way a shell would.
            return which::which(s)
                .map(PythonSpec::Path)
                .map_err(|_| SelectError::NoCommand(s.to_string()));
        }
        Ok(PythonSpec::Version {
            text: s.to_string(),
            source: None,
            req: Some(parse_req(s, s)?),
        })
    }

    /// Paths to add to the candidates before discovery.
    pub fn explicit_path(&self) -> Option<&PathBuf> {
        match self {
            PythonSpec::Path(p) => Some(p),
            PythonSpec::Version { .. } => None,
        }
    }

    fn matches(&self, i: &Interpreter) -> bool {
        match self {
            PythonSpec::Path(p) => {
                // A venv's bin/python links to its base: the venv is meant,
                // not the base (which has the same real file).
                if super::in_venv(p) {
                    return i.path == *p
                        || i.executable == super::venv_executable(p)
                        || i.aliases.iter().any(|a| a.path == *p);
                }
                let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                i.path == *p || i.executable == real || i.aliases.iter().any(|a| a.path == *p)
            }
            PythonSpec::Version { source, req, .. } => {
                let source_ok =
                    source.is_none_or(|s| i.source == s || i.aliases.iter().any(|a| a.source == s));
                source_ok && req.as_ref().is_none_or(|r| r.matches(i.version))
            }
        }
    }
}

fn parse_req(v: &str, whole: &str) -> Result<VersionRange, SelectError> {
    let req = VersionRange::parse(v).ok_or_else(|| SelectError::BadVersion(whole.to_string()))?;
    if req.is_reversed() {
        return Err(SelectError::ReversedRange(whole.to_string()));
    }
    Ok(req)
}

/// The interpreters the specs select, in discovery order; every spec must
/// select at least one. No specs selects everything found.
pub fn select(d: &Discovery, specs: &[PythonSpec]) -> Result<Vec<Interpreter>, SelectError> {
    if specs.is_empty() {
        return Ok(d.found.clone());
    }
    for spec in specs {
        if d.found.iter().any(|i| spec.matches(i)) {
            continue;
        }
        return Err(match spec {
            PythonSpec::Path(p) => SelectError::NotUsable {
                path: p.display().to_string(),
                reason: super::explain(p, d),
            },
            PythonSpec::Version { text, req, .. } => {
                // Found but unusable (a 3.7, a PyPy): say so, with why.
                let rejected = d.rejected.iter().find(|r| {
                    r.version
                        .is_some_and(|v| req.as_ref().is_none_or(|q| q.matches(v)))
                });
                if let Some(r) = rejected {
                    return Err(SelectError::Rejected {
                        spec: text.clone(),
                        version: r.version.map(|v| v.to_string()).unwrap_or_default(),
                        path: r.path.display().to_string(),
                        reason: r.reason.clone(),
                    });
                }
                let have: Vec<_> = d.found.iter().map(|i| i.id.as_str()).collect();
                SelectError::NoMatch {
                    spec: text.clone(),
                    have: if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    },
                }
            }
        });
    }
    Ok(d.found
        .iter()
        .filter(|i| specs.iter().any(|s| s.matches(i)))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    //! Every `--python` form against one canned discovery: no probe, no
    //! Python. The interpreters are chosen so that each form has a near
    //! miss: a system and a pyenv 3.11 of the same version (SOURCE:VERSION
    //! must not fall back to the version alone), a source reached only
    //! through an alias, a rejected 3.7 and PyPy.
    use super::*;
    use crate::contract::fixtures::interpreter;
    use crate::contract::{Alias, Rejected, Version};

    /// `version` found under `source` at `path` (also its executable).
    fn found(id: &str, version: &str, source: Source, path: &str) -> Interpreter {
        let mut i = interpreter(version);
        i.id = id.to_string();
        i.source = source;
        i.path = PathBuf::from(path);
        i.executable = PathBuf::from(path);
        i
    }

    fn rejected(path: &str, source: Source, version: Option<&str>, reason: &str) -> Rejected {
        Rejected {
            path: PathBuf::from(path),
            source,
            version: version.map(|v| Version::parse(v).unwrap()),
            reason: reason.to_string(),
        }
    }

    fn discovery() -> Discovery {
        let mut py312 = found(
            "3.12.1",
            "3.12.1",
            Source::Pyenv,
            "/pyenv/3.12.1/bin/python3.12",
        );
        // The same file reached from PATH, and by its real name.
        py312.executable = PathBuf::from("/pyenv/3.12.1/bin/real-python3.12");
        py312.aliases = vec![Alias {
            path: PathBuf::from("/home/u/bin/python3.12"),
            source: Source::Path,
        }];
        Discovery {
            found: vec![
                found(
                    "3.8.18",
                    "3.8.18",
                    Source::Pyenv,
                    "/pyenv/3.8.18/bin/python3.8",
                ),
                found(
                    "3.9.18",
                    "3.9.18",
                    Source::Pyenv,
                    "/pyenv/3.9.18/bin/python3.9",
                ),
                found(
                    "3.11.4@pyenv",
                    "3.11.4",
                    Source::Pyenv,
                    "/pyenv/3.11.4/bin/python3.11",
                ),
                found(
                    "3.11.4@system",
                    "3.11.4",
                    Source::System,
                    "/usr/bin/python3.11",
                ),
                py312,
                found(
                    "3.13.0",
                    "3.13.0",
                    Source::Uv,
                    "/uv/cpython-3.13.0/bin/python3.13",
                ),
                found(
                    "3.14.2",
                    "3.14.2",
                    Source::Shmharness,
                    "/opt/s/3.14/bin/python3.14",
                ),
            ],
            rejected: vec![
                // Broken: no version, so it matches no version spec.
                rejected(
                    "/usr/local/bin/python3",
                    Source::System,
                    None,
                    "broken symlink",
                ),
                rejected(
                    "/pyenv/3.7.17/bin/python3.7",
                    Source::Pyenv,
                    Some("3.7.17"),
                    "3.7.17 has no multiprocessing.shared_memory (needs 3.8+)",
                ),
                rejected(
                    "/pyenv/pypy3.10/bin/pypy3",
                    Source::Pyenv,
                    Some("3.10.14"),
                    "pypy 3.10.14 is not CPython (use --implementation any to include it)",
                ),
                rejected(
                    "/tmp/x/python3",
                    Source::Explicit,
                    None,
                    "not executable (permission denied)",
                ),
            ],
        }
    }

    /// The ids `specs` select, or the error's text.
    fn pick_in(d: &Discovery, specs: &[&str]) -> Result<Vec<String>, String> {
        let specs = specs
            .iter()
            .map(|s| PythonSpec::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        select(d, &specs)
            .map(|found| found.into_iter().map(|i| i.id).collect())
            .map_err(|e| e.to_string())
    }

    fn pick(spec: &str) -> Result<Vec<String>, String> {
        pick_in(&discovery(), &[spec])
    }

    #[test]
    fn every_version_form_selects_what_it_says() {
        for (spec, ids) in [
            ("3.12", &["3.12.1"][..]),
            (" 3.12 ", &["3.12.1"]),
            ("3.12.1", &["3.12.1"]),
            (
                "3.8-3.11",
                &["3.8.18", "3.9.18", "3.11.4@pyenv", "3.11.4@system"],
            ),
            ("3.13-", &["3.13.0", "3.14.2"]),
            ("-3.9", &["3.8.18", "3.9.18"]),
            (">=3.13", &["3.13.0", "3.14.2"]),
            (">3.13", &["3.14.2"]),
            ("<3.9", &["3.8.18"]),
            ("<=3.9", &["3.8.18", "3.9.18"]),
            ("==3.11", &["3.11.4@pyenv", "3.11.4@system"]),
        ] {
            assert_eq!(
                pick(spec),
                Ok(ids.iter().map(|s| s.to_string()).collect()),
                "{spec}"
            );
        }
    }

    #[test]
    fn source_and_version_must_both_match() {
        // M9 of issue 22: `system:3.11` once picked pyenv's 3.11 as well.
        assert_eq!(pick("system:3.11"), Ok(vec!["3.11.4@system".to_string()]));
        assert_eq!(pick("pyenv:3.11"), Ok(vec!["3.11.4@pyenv".to_string()]));
        assert_eq!(pick("pyenv:3.12"), Ok(vec!["3.12.1".to_string()]));
        assert_eq!(pick("SYSTEM:3.11.4"), Ok(vec!["3.11.4@system".to_string()]));
        // A source with nothing of that version is no match, though the
        // version exists elsewhere.
        let none = pick("uv:3.12").unwrap_err();
        assert!(none.starts_with("--python uv:3.12: matches none"), "{none}");
        assert!(pick("system:3.12").is_err());
        // A source reached only through an alias: 3.12.1 is on PATH too.
        assert_eq!(pick("PATH:3.12"), Ok(vec!["3.12.1".to_string()]));
        assert_eq!(pick("path:3.8-"), Ok(vec!["3.12.1".to_string()]));
        // A source alone: everything it found, in discovery order.
        assert_eq!(
            pick("pyenv:"),
            Ok(["3.8.18", "3.9.18", "3.11.4@pyenv", "3.12.1"]
                .map(String::from)
                .to_vec())
        );
        assert_eq!(pick("uv:"), Ok(vec!["3.13.0".to_string()]));
        assert_eq!(pick("shmharness:>=3.14"), Ok(vec!["3.14.2".to_string()]));
    }

    #[test]
    fn specs_select_in_discovery_order_and_each_must_match() {
        let d = discovery();
        assert_eq!(
            pick_in(&d, &["3.13", "3.8", "system:3.11"]),
            Ok(["3.8.18", "3.11.4@system", "3.13.0"]
                .map(String::from)
                .to_vec())
        );
        // Overlapping specs select each interpreter once.
        assert_eq!(
            pick_in(&d, &["3.13-", ">=3.14"]),
            Ok(["3.13.0", "3.14.2"].map(String::from).to_vec())
        );
        // No spec: everything found, as found.
        let all: Vec<String> = d.found.iter().map(|i| i.id.clone()).collect();
        assert_eq!(pick_in(&d, &[]), Ok(all));
        // One spec that matches nothing spoils the rest.
        let err = pick_in(&d, &["3.8", "3.15"]).unwrap_err();
        assert!(err.starts_with("--python 3.15: matches none"), "{err}");
    }

    #[test]
    fn what_cannot_be_parsed_says_what_to_write() {
        let err = |s: &str| PythonSpec::parse(s).unwrap_err().to_string();
        assert_eq!(err(""), "empty --python value");
        assert_eq!(err("  "), "empty --python value");
        assert_eq!(
            err("brew:3.12"),
            "unknown source `brew` in --python brew:3.12 (sources: explicit, venv, shmharness, pyenv, uv, asdf, mise, conda, homebrew, system, PATH)"
        );
        for bad in ["3.x", "three", "3.8-x", "pyenv:3.x", "system:>="] {
            assert_eq!(
                err(bad),
                format!(
                    "--python {bad}: not a version, range or path (try 3.10, 3.8-3.11, >=3.9, pyenv:3.12 or /path/to/python3)"
                )
            );
        }
        for reversed in ["3.11-3.8", "pyenv:3.13-3.9"] {
            assert_eq!(
                err(reversed),
                format!(
                    "--python {reversed}: the range is reversed (write the lower version first, e.g. 3.7-3.8)"
                )
            );
        }
        // A range whose ends share a prefix is not reversed.
        assert!(PythonSpec::parse("3.13.0-3.13").is_ok());
        assert_eq!(
            err("python3-shmharness-no-such-command"),
            "--python python3-shmharness-no-such-command: no such command on PATH"
        );
    }

    #[test]
    fn paths_are_told_from_versions() {
        for path in [
            ".python3",
            "~python3",
            "/usr/bin/python3",
            "./python3",
            "../py/python3",
            "~/py/python3",
            "bin/python3",
        ] {
            let spec = PythonSpec::parse(path).unwrap();
            assert_eq!(spec, PythonSpec::Path(PathBuf::from(path)));
            assert_eq!(spec.explicit_path(), Some(&PathBuf::from(path)));
        }
        let version = PythonSpec::parse("pyenv:3.12").unwrap();
        assert_eq!(version.explicit_path(), None);
        assert_eq!(
            version,
            PythonSpec::Version {
                text: "pyenv:3.12".into(),
                source: Some(Source::Pyenv),
                req: VersionRange::parse("3.12"),
            }
        );
        assert_eq!(
            PythonSpec::parse("conda:").unwrap(),
            PythonSpec::Version {
                text: "conda:".into(),
                source: Some(Source::Conda),
                req: None,
            }
        );
    }

    #[test]
    fn no_match_lists_what_there_is_and_a_rejected_version_says_why() {
        assert_eq!(
            pick("3.15").unwrap_err(),
            "--python 3.15: matches none of the interpreters found (3.8.18, 3.9.18, 3.11.4@pyenv, 3.11.4@system, 3.12.1, 3.13.0, 3.14.2); see `shmharness list --all`"
        );
        assert_eq!(
            pick_in(&Discovery::default(), &["3.12"]).unwrap_err(),
            "--python 3.12: matches none of the interpreters found (none); see `shmharness list --all`"
        );
        // Found, but unusable: the version and the reason, not "none".
        for (spec, message) in [
            (
                "3.7",
                "3.7.17 was found at /pyenv/3.7.17/bin/python3.7, but rejected: 3.7.17 has no multiprocessing.shared_memory (needs 3.8+)",
            ),
            (
                "3.10",
                "3.10.14 was found at /pyenv/pypy3.10/bin/pypy3, but rejected: pypy 3.10.14 is not CPython (use --implementation any to include it)",
            ),
        ] {
            assert_eq!(pick(spec), Err(format!("--python {spec}: {message}")));
        }
        // A rejected candidate of another version is not blamed.
        assert!(pick("3.16").unwrap_err().contains("matches none"));
        assert!(pick("<3.7").unwrap_err().contains("matches none"));
    }

    #[test]
    fn a_path_matches_its_path_its_real_file_or_an_alias() {
        for (path, id) in [
            ("/pyenv/3.8.18/bin/python3.8", "3.8.18"),
            ("/usr/bin/python3.11", "3.11.4@system"),
            ("/pyenv/3.12.1/bin/python3.12", "3.12.1"),
            ("/pyenv/3.12.1/bin/real-python3.12", "3.12.1"),
            ("/home/u/bin/python3.12", "3.12.1"),
        ] {
            assert_eq!(pick(path), Ok(vec![id.to_string()]), "{path}");
        }
        // A path discovery rejected says why; one it never saw, nothing more.
        for (path, why) in [
            ("/tmp/x/python3", ": not executable (permission denied)"),
            ("/pyenv/3.7.17/bin/python3.7", ""),
            ("/nowhere/python3", ""),
        ] {
            assert_eq!(pick(path), Err(format!("--python {path}: not usable{why}")));
        }
    }

    #[test]
    fn a_link_is_matched_by_the_file_it_leads_to() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("python3.12");
        std::fs::write(&real, "").unwrap();
        let link = dir.path().join("python3");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut d = discovery();
        d.found[4].executable = std::fs::canonicalize(&real).unwrap();
        assert_eq!(
            pick_in(&d, &[link.to_str().unwrap()]),
            Ok(vec!["3.12.1".to_string()])
        );
        // The link's text alone (not resolved) matches nothing.
        d.found[4].executable = link.clone();
        assert!(pick_in(&d, &[real.to_str().unwrap()]).is_err());
    }

    #[test]
    fn a_venv_path_selects_the_venv_not_its_base() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base/bin/python3.12");
        std::fs::create_dir_all(base.parent().unwrap()).unwrap();
        std::fs::write(&base, "").unwrap();
        let venv = dir.path().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = base/bin\n").unwrap();
        let link = venv.join("bin/python3");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        let real_base = std::fs::canonicalize(&base).unwrap();
        let mut d = discovery();
        // The base, found by its own path; the venv, by its bin/python3.
        let mut b = found("3.12.1", "3.12.1", Source::Pyenv, "/elsewhere/python3.12");
        b.executable = real_base.clone();
        let mut v = found(
            "3.12.1@venv",
            "3.12.1",
            Source::Venv,
            "/elsewhere/venv/python3",
        );
        v.executable = std::fs::canonicalize(venv.join("bin"))
            .unwrap()
            .join("python3");
        d.found = vec![b, v];
        assert_eq!(
            pick_in(&d, &[link.to_str().unwrap()]),
            Ok(vec!["3.12.1@venv".to_string()])
        );
        assert_eq!(
            pick_in(&d, &[base.to_str().unwrap()]),
            Ok(vec!["3.12.1".to_string()])
        );
        // A venv path that discovery listed under that path.
        d.found[1].executable = PathBuf::from("/not/this");
        d.found[1].path = link.clone();
        assert_eq!(
            pick_in(&d, &[link.to_str().unwrap()]),
            Ok(vec!["3.12.1@venv".to_string()])
        );
        // ... or as an alias of another path.
        d.found[1].path = PathBuf::from("/not/this/either");
        d.found[1].aliases = vec![Alias {
            path: link.clone(),
            source: Source::Venv,
        }];
        assert_eq!(
            pick_in(&d, &[link.to_str().unwrap()]),
            Ok(vec!["3.12.1@venv".to_string()])
        );
    }
}
