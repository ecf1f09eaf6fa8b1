//! Exit codes, one place. ripgrep's rule: 0 and 1 are answers, 2 is "could
//! not answer".
//!
//! - `OK` (0): every expectation holds, the candidate is a fix.
//! - `FAILED` (1): a case ran and its verdict failed. Nothing else.
//! - `USAGE` (2): bad input or an environment error (nothing usable found,
//!   a patch that does not apply, a case that could not run), with one line
//!   that says what to fix.
//! - `INTERRUPTED` (130) / `TERMINATED` (143): stopped by SIGINT / SIGTERM
//!   after every child was killed and this run's files and segments removed.

use super::Verdict;

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const INTERRUPTED: u8 = 130;
pub const TERMINATED: u8 = 143;

/// The exit code for an overall verdict.
pub fn for_verdict(v: Verdict) -> u8 {
    match v {
        Verdict::Pass | Verdict::NotApplicable => OK,
        Verdict::Fail => FAILED,
        Verdict::Error => USAGE,
    }
}
