//! The errors a command ends with. Each domain has its own error type
//! (`OverlayError`, `OutputError`, `SelectError`, ...); this enum gathers
//! them at the edge, prints one line, and says which exit code it means.

use crate::host::signal::Signal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: an argument, a file, a name, with what to do instead.
    #[error("{0}")]
    Usage(String),
    /// The environment cannot run what was asked (nothing usable found, a
    /// case that could not run), with what to fix.
    #[error("{0}")]
    Environment(String),
    #[error(transparent)]
    Select(#[from] crate::discover::select::SelectError),
    #[error(transparent)]
    Overlay(Box<crate::overlay::OverlayError>),
    #[error(transparent)]
    Output(#[from] crate::export::output::OutputError),
    #[error(transparent)]
    Merge(#[from] crate::export::merge::MergeError),
    #[error(transparent)]
    Variant(#[from] crate::overlay::variant::VariantError),
    /// Stopped by a signal, after every child was killed and this run's
    /// temp files and segments removed.
    #[error("interrupted: every child stopped, this run's segments and temp files removed")]
    Interrupted(Signal),
}

impl From<crate::cpython_tests::SuiteError> for Error {
    fn from(e: crate::cpython_tests::SuiteError) -> Error {
        match e {
            crate::cpython_tests::SuiteError::Interrupted => Error::Interrupted(
                crate::host::signal::received().unwrap_or(crate::host::signal::Signal::Interrupt),
            ),
            e => Error::Environment(e.to_string()),
        }
    }
}

impl From<crate::overlay::OverlayError> for Error {
    fn from(e: crate::overlay::OverlayError) -> Error {
        Error::Overlay(Box::new(e))
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted(sig) => sig.exit_code(),
            _ => crate::contract::exit::USAGE,
        }
    }

    /// `error: ...` on one line: control characters, newlines and tabs
    /// escaped (messages may quote a path or what an untrusted interpreter
    /// printed).
    pub fn one_line(&self) -> String {
        match self {
            Error::Interrupted(_) => self.to_string(),
            _ => format!("error: {}", crate::term::style::one_line(&self.to_string())),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(Interrupted)` once a signal arrived: the check each long phase
/// makes between its steps.
pub fn check_signal() -> Result<()> {
    match crate::host::signal::received() {
        Some(sig) => Err(Error::Interrupted(sig)),
        None => Ok(()),
    }
}
