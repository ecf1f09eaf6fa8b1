//! shmharness: reproduce CPython's shared_memory resource-tracker bug
//! (gh-82300) on every installed Python, stock vs patched, and judge a fix.
//!
//! The pipeline, one direction, one folder per stage:
//!
//! discover (`discover`) -> select -> prepare overlays (`overlay`) -> run
//! cases (`run`, on the `scenario` catalogue) -> observe (`scenario`) ->
//! judge (`judge`) -> export (`export`: table, JSON, Markdown, JUnit,
//! bundle). CPython's own tests run on the same overlays
//! (`cpython_tests`).
//!
//! `contract` holds every type that reaches results.json or a renderer and
//! depends on nothing else here. `host` is what every stage asks of the
//! operating system (processes, segments, ledgers, signals); `term` is the
//! terminal. `commands` turns parsed arguments (`cli`) into that pipeline;
//! `main.rs` only calls [`main`].

pub mod cli;
pub mod commands;
pub mod contract;
pub mod cpython_tests;
pub mod discover;
pub mod export;
pub mod host;
pub mod judge;
pub mod overlay;
pub mod run;
pub mod scenario;
pub mod term;

pub use commands::error::Error;
