//! `shmharness equivalence --exec FILE... --zygote FILE...` (hidden): do
//! roles forked from a zygote observe what fresh interpreters observe? The
//! comparison is `run::zygote::equivalence`; `bench/equivalence` makes the
//! files. Exit 0 when no cell differs between the modes, 1 when one does.

use crate::cli::EquivalenceArgs;
use crate::commands::error::{Error, Result};
use crate::export::merge;

pub fn run(args: &EquivalenceArgs) -> Result<u8> {
    if args.exec.len() != args.zygote.len() {
        return Err(Error::usage(format!(
            "{} --exec files but {} --zygote files: give one of each per repetition",
            args.exec.len(),
            args.zygote.len()
        )));
    }
    let load = |files: &[std::path::PathBuf]| -> Result<Vec<_>> {
        files.iter().map(|f| Ok(merge::load(f)?)).collect()
    };
    let (exec, zygote) = (load(&args.exec)?, load(&args.zygote)?);
    let (text, differing) = crate::run::zygote::equivalence::report(&exec, &zygote);
    crate::term::style::out(&text);
    Ok(if differing == 0 {
        crate::contract::exit::OK
    } else {
        crate::contract::exit::FAILED
    })
}
