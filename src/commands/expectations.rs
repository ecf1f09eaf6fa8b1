//! `shmharness expectations`: the expectation table, in any `--format`.

use crate::commands::error::Result;
use crate::export::Format;

pub fn run(format: Format) -> Result<u8> {
    crate::term::style::out(&crate::export::expectations::document().render(format));
    Ok(crate::contract::exit::OK)
}
