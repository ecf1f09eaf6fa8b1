//! How every Python child is started: the harness's environment minus any
//! `PYTHON*` variable (a user's PYTHONPATH, PYTHONWARNINGS or PYTHONHOME
//! would change what the scenarios observe), plus the overlay, if any, on
//! `PYTHONPATH`.

use std::path::Path;

use crate::host::proc::Spec;

pub fn command(python: &Path, pythonpath: Option<&Path>) -> Spec {
    let mut spec = Spec::new(python);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            spec.env_remove.push(key);
        }
    }
    if let Some(dir) = pythonpath {
        spec.env("PYTHONPATH", dir);
    }
    spec
}
