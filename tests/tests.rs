//! All integration tests, one binary (ripgrep style): each module below
//! covers one area and runs the real `shmharness` binary against the real
//! interpreters on this machine.

mod util;

mod artifacts;
mod bad_input;
mod core;
mod cpython_tests;
mod discovery;
mod hardening;
mod matrix;
mod pypy;
mod readme;
mod reliability;
