//! The `shmharness` binary. Everything it does is in the library
//! (`shmharness::main`): parse, run, print the error once, exit with the
//! code it means.

fn main() -> std::process::ExitCode {
    shmharness::main()
}
