//! How every Python child is started: the harness's environment minus any
//! `PYTHON*` variable (a user's PYTHONPATH, PYTHONWARNINGS or PYTHONHOME
//! would change what the scenarios observe), plus the overlay, if any, on
//! `PYTHONPATH`.

use std::path::Path;
use std::process::Command;

pub fn command(python: &Path, pythonpath: Option<&Path>) -> Command {
    let mut cmd = Command::new(python);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            cmd.env_remove(key);
        }
    }
    if let Some(dir) = pythonpath {
        cmd.env("PYTHONPATH", dir);
    }
    cmd
}
