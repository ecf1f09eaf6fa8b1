//! Scenarios: the catalogue (data), the engine that runs one, and the
//! parsing of what the processes said.

pub mod catalogue;
pub mod engine;
pub mod observe;

pub use catalogue::{Params, Scenario};
pub use engine::{CaseError, CaseObservation, RealWorld, World};

/// The role script, embedded so an installed binary works anywhere.
pub const ROLES_PY: &str = include_str!("../../pyscenarios/roles.py");
