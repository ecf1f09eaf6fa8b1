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
//! `main.rs` only calls [`main`]; nothing else is public.

mod cli;
mod commands;
mod contract;
mod cpython_tests;
mod discover;
mod export;
mod host;
mod judge;
mod overlay;
mod run;
mod scenario;
mod term;

pub use commands::main;

/// The catalogues' names, for integration tests that iterate over every
/// scenario or variant (what each one shows is observed, never read from
/// here).
pub mod catalogue {
    /// Every built-in variant, in display order.
    pub fn variants() -> Vec<&'static str> {
        crate::contract::VariantId::ALL
            .iter()
            .map(|v| v.name())
            .collect()
    }
}
