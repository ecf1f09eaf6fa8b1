//! Scenarios: the catalogue (data), what a case observed, the parsing of
//! what the processes said, and the symptoms read from it. Running them is
//! `run`'s job; this module does no I/O.

pub mod case;
pub mod catalogue;
pub mod observe;
pub mod protocol;
pub mod symptoms;

pub use case::{CaseError, CaseObservation};
pub use catalogue::{Params, Scenario};

/// The role script, embedded so an installed binary works anywhere.
pub const ROLES_PY: &str = include_str!("../../pyscenarios/roles.py");
