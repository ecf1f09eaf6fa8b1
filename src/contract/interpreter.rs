//! Who ran the cases: interpreters, their versions, and where each was found.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `major.minor.micro`, ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, micro: u32) -> Version {
        Version {
            major,
            minor,
            micro,
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        let mut it = s.split('.');
        let v = Version::new(
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next().unwrap_or("0").parse().ok()?,
        );
        it.next().is_none().then_some(v)
    }

    pub fn minor_version(self) -> (u32, u32) {
        (self.major, self.minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Version::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad version `{s}`")))
    }
}

impl JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`major.minor.micro`, e.g. `3.10.13`.",
            "type": "string",
            "pattern": "^\\d+\\.\\d+\\.\\d+$"
        })
    }
}

/// The kinds of places an interpreter is found, in search order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `--python PATH`
    Explicit,
    /// The active virtual environment (`$VIRTUAL_ENV`) or `./.venv`.
    Venv,
    /// Interpreters installed by `.ci/newer-pythons` (`$SHMH_NEWER_PYTHONS`,
    /// default `/opt/shmharness-pythons`).
    Shmharness,
    Pyenv,
    Uv,
    Asdf,
    Mise,
    Conda,
    Homebrew,
    /// `/usr/bin`, `/usr/local/bin`
    System,
    /// Any other directory on `PATH`.
    #[serde(rename = "PATH")]
    Path,
}

impl Source {
    pub const ALL: [Source; 11] = [
        Source::Explicit,
        Source::Venv,
        Source::Shmharness,
        Source::Pyenv,
        Source::Uv,
        Source::Asdf,
        Source::Mise,
        Source::Conda,
        Source::Homebrew,
        Source::System,
        Source::Path,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::Explicit => "explicit",
            Source::Venv => "venv",
            Source::Shmharness => "shmharness",
            Source::Pyenv => "pyenv",
            Source::Uv => "uv",
            Source::Asdf => "asdf",
            Source::Mise => "mise",
            Source::Conda => "conda",
            Source::Homebrew => "homebrew",
            Source::System => "system",
            Source::Path => "PATH",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|src| src.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A usable interpreter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Interpreter {
    /// Unique, human name used in every output: `3.10.13`, `3.13.0t`,
    /// `3.12.1@pyenv` when two share a version.
    pub id: String,
    /// `cpython`, `pypy`, ...
    pub implementation: String,
    pub version: Version,
    /// The executable the cases run: the real path of `sys.executable`, or
    /// for a virtual environment its own `bin/python`.
    pub executable: PathBuf,
    /// The candidate path that found it first.
    pub path: PathBuf,
    pub source: Source,
    /// Other paths (and sources) that lead to the same interpreter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Alias>,
    /// `sys.prefix`.
    pub prefix: PathBuf,
    /// The installed `multiprocessing` package directory (read, never written).
    pub multiprocessing: PathBuf,
    pub debug: bool,
    pub free_threaded: bool,
}

impl Interpreter {
    /// `3.13.0`, `3.13.0t` (free-threaded), `3.13.0d` (debug).
    pub fn label(&self) -> String {
        let mut s = self.version.to_string();
        if self.free_threaded {
            s.push('t');
        }
        if self.debug {
            s.push('d');
        }
        if self.implementation != "cpython" {
            s = format!("{}-{s}", self.implementation);
        }
        s
    }
}

/// Another path (and source) that leads to the same interpreter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Alias {
    pub path: PathBuf,
    pub source: Source,
}

/// A candidate that cannot be used, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Rejected {
    pub path: PathBuf,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    pub reason: String,
}
