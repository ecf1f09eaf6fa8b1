//! What the harness asks of the host: child processes in their own process
//! groups (`proc`), a worker pool (`pool`), shared-memory segments (`shm`),
//! the run ledger that lets a later run clean up after a killed one
//! (`ledger`), signals (`signal`), how an interpreter is started (`python`)
//! and what the machine is (`sys`).
//!
//! Every stage below the commands that touches the operating system goes
//! through here, so the stages themselves stay plain data and logic.

pub mod ledger;
pub mod pool;
pub mod proc;
pub mod python;
pub mod shm;
pub mod signal;
pub mod sys;
