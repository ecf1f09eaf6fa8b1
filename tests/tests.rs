//! All integration tests, one binary (ripgrep style): each module below
//! covers one area and runs the real `shmharness` binary against the real
//! interpreters on this machine, found through the harness's own discovery
//! or named by SHMH_TEST_PYTHONS (see util.rs for what is expected where).

mod util;

mod advise;
mod artifacts;
mod bad_input;
mod core;
mod cpython_tests;
mod discovery;
mod facts;
mod git_checkout;
mod hardening;
mod matrix;
mod merge_report;
mod outputs;
mod overlay_cache;
mod patch_forms;
mod pypy;
mod readme;
mod reliability;
mod terminal;
mod wheel;
mod workflow;
mod zygote;
