//! shmharness: reproduce CPython's shared_memory resource-tracker bug
//! (gh-82300) on every installed Python, stock vs patched, and judge a fix.
//!
//! The pipeline, one direction, one module each:
//!
//! discover (`discovery`) -> select -> prepare overlays (`overlay`, `patch`,
//! `variant`) -> run cases (`runner`, `scenario`, `proc`) -> judge
//! (`judge`) -> export (`export`: table, JSON, Markdown, JUnit, bundle).
//!
//! `contract` holds every type that reaches results.json or a renderer and
//! depends on nothing else here. `commands` turns parsed arguments into that
//! pipeline; `main.rs` only parses, calls `commands::dispatch`, and maps the
//! outcome to an exit code (`exit`).

pub mod cli;
pub mod commands;
pub mod contract;
pub mod discovery;
pub mod error;
pub mod exit;
pub mod export;
#[cfg(test)]
mod fixtures;
pub mod judge;
pub mod ledger;
pub mod overlay;
pub mod patch;
pub mod pool;
pub mod proc;
pub mod progress;
pub mod python;
pub mod runner;
pub mod scenario;
pub mod shm;
pub mod signal;
pub mod style;
pub mod suite;
pub mod sys;
pub mod variant;

pub use error::Error;
