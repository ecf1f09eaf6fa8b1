//! `report --archive`: the bundle as one `DIR.tar.gz` beside `DIR`, the
//! form a GitHub issue or PR takes as an attachment. Built from the same
//! files as the bundle (in a temp dir), written through the same checked,
//! atomic file output as `--json`.

use std::path::{Path, PathBuf};

use super::output::{OutputError, unwritable};
use super::{Destination, Exporter};
use crate::contract::Results;

/// The bundle, archived under the folder name `top`.
pub struct Archive {
    pub top: String,
}

/// `DIR.tar.gz` for the bundle `DIR`.
pub fn path_for(bundle: &Path) -> PathBuf {
    let mut name = bundle
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "bundle".into());
    name.push(".tar.gz");
    bundle.with_file_name(name)
}

impl Archive {
    fn bytes(&self, results: &Results) -> Result<Vec<u8>, OutputError> {
        let tmp = tempfile::Builder::new()
            .prefix("shmharness-archive-")
            .tempdir()
            .map_err(|e| unwritable(Path::new("the archive's temp dir"), e))?;
        crate::host::ledger::open();
        crate::host::ledger::note_dir(tmp.path());
        super::bundle::fill(results, tmp.path())?;
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.follow_symlinks(false);
        let fail = |e: std::io::Error| unwritable(Path::new(&self.top), e);
        tar.append_dir_all(&self.top, tmp.path()).map_err(fail)?;
        tar.into_inner().and_then(|gz| gz.finish()).map_err(fail)
    }
}

impl Exporter for Archive {
    fn render(&self, results: &Results) -> String {
        super::issue::report_md(results, &super::issue::shared_diffs(results))
    }

    fn export(&self, results: &Results, to: &Destination) -> Result<(), OutputError> {
        match to {
            Destination::File(target) => target.write(&self.bytes(results)?),
            Destination::Dir { path, .. } => Err(OutputError::IsDirectory {
                path: path.display().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_sits_beside_its_bundle() {
        assert_eq!(
            path_for(Path::new("/tmp/out/gh-82300")),
            Path::new("/tmp/out/gh-82300.tar.gz")
        );
    }
}
