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
