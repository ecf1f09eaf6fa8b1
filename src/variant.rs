//! Variants: the stdlib as installed, or changed by a fix, or used in a
//! different way by the attaching processes. The catalogue below is the one
//! place that says which variants exist and what each one does.

use std::path::Path;

use crate::discovery::Version;
use crate::patch;

/// How attaching processes call `SharedMemory` (see `pyscenarios/roles.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    Default,
    TrackFalse,
    UserlandUnregister,
}

impl AttachMode {
    pub fn arg(self) -> &'static str {
        match self {
            AttachMode::Default => "default",
            AttachMode::TrackFalse => "track-false",
            AttachMode::UserlandUnregister => "userland-unregister",
        }
    }
}

/// A patch family: one diff text for a range of minor versions.
#[derive(Debug)]
pub struct FamilyPatch {
    /// Name shown to users and used as the file name in `patches/<variant>/`.
    pub family: &'static str,
    pub from: (u32, u32),
    /// Inclusive; `None` = every later version.
    pub to: Option<(u32, u32)>,
    pub text: &'static str,
}

macro_rules! families {
    ($dir:literal) => {
        &[
            FamilyPatch {
                family: "3.8-3.9",
                from: (3, 8),
                to: Some((3, 9)),
                text: include_str!(concat!("../patches/", $dir, "/3.8-3.9.diff")),
            },
            FamilyPatch {
                family: "3.10-3.12",
                from: (3, 10),
                to: Some((3, 12)),
                text: include_str!(concat!("../patches/", $dir, "/3.10-3.12.diff")),
            },
            FamilyPatch {
                family: "3.13",
                from: (3, 13),
                to: None,
                text: include_str!(concat!("../patches/", $dir, "/3.13.diff")),
            },
        ]
    };
}

#[derive(Debug, Clone)]
pub enum PatchSource {
    None,
    Builtin(&'static [FamilyPatch]),
    /// A user's `--patch FILE` (checked to parse when read).
    User {
        text: String,
    },
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub summary: &'static str,
    pub patch: PatchSource,
    pub attach: AttachMode,
    /// Below this version the variant does not exist (shown as n/a).
    pub min_version: Option<(u32, u32)>,
}

/// Built-in variants, in display order.
pub fn catalogue() -> Vec<Variant> {
    let v = |name: &str, summary, patch, attach, min_version| Variant {
        name: name.to_string(),
        summary,
        patch,
        attach,
        min_version,
    };
    vec![
        v(
            "stock",
            "the installed stdlib, unchanged",
            PatchSource::None,
            AttachMode::Default,
            None,
        ),
        v(
            "create-only",
            "the seed's fix: register with the tracker only `if create:`",
            PatchSource::Builtin(families!("create-only")),
            AttachMode::Default,
            None,
        ),
        v(
            "no-register",
            "the seed's other option: the register call removed",
            PatchSource::Builtin(families!("no-register")),
            AttachMode::Default,
            None,
        ),
        v(
            "create-only+unlink-guard",
            "create-only, and unlink() unregisters only what this instance registered",
            PatchSource::Builtin(families!("create-only+unlink-guard")),
            AttachMode::Default,
            None,
        ),
        v(
            "create-only+lenient-tracker",
            "create-only, and the tracker ignores UNREGISTER of a name it never saw",
            PatchSource::Builtin(families!("create-only+lenient-tracker")),
            AttachMode::Default,
            None,
        ),
        v(
            "track-false",
            "attachers pass track=False (3.13+ API)",
            PatchSource::None,
            AttachMode::TrackFalse,
            Some((3, 13)),
        ),
        v(
            "userland-unregister",
            "attachers call resource_tracker.unregister() right after attaching",
            PatchSource::None,
            AttachMode::UserlandUnregister,
            None,
        ),
    ]
}

/// The names `--variant` accepts, for help and errors.
pub fn names() -> Vec<String> {
    catalogue().into_iter().map(|v| v.name).collect()
}

impl Variant {
    /// A user's patch file as the variant `patch:<file name>`.
    pub fn from_patch_file(path: &Path) -> Result<Variant, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("--patch {}: cannot read: {e}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            format!(
                "--patch {}: the patch is not text (binary data)",
                path.display()
            )
        })?;
        patch::parse(&text).map_err(|e| format!("--patch {}: {e}", path.display()))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Variant {
            name: format!("patch:{file_name}"),
            summary: "a patch given with --patch",
            patch: PatchSource::User { text },
            attach: AttachMode::Default,
            min_version: None,
        })
    }

    /// Why this variant does not apply to `v`, if it does not.
    pub fn not_applicable(&self, v: Version) -> Option<String> {
        let (maj, min) = self.min_version?;
        (v.minor_version() < (maj, min)).then(|| {
            format!(
                "{} needs Python {maj}.{min}+ ({v} has no such API)",
                self.name
            )
        })
    }

    /// The diff to apply for `v`, with the name of where it came from, or
    /// `None` for variants that use the stdlib unchanged.
    pub fn patch_for(&self, v: Version) -> Option<Result<(String, &str), String>> {
        match &self.patch {
            PatchSource::None => None,
            PatchSource::User { text, .. } => Some(Ok((self.name.clone(), text.as_str()))),
            PatchSource::Builtin(families) => Some(
                families
                    .iter()
                    .find(|f| {
                        v.minor_version() >= f.from && f.to.is_none_or(|to| v.minor_version() <= to)
                    })
                    .map(|f| (format!("patches/{}/{}.diff", self.name, f.family), f.text))
                    .ok_or_else(|| format!("{} has no patch for Python {v}", self.name)),
            ),
        }
    }
}

/// Resolve `--variant` values (`all` = every built-in variant).
pub fn resolve(requested: &[String]) -> Result<Vec<Variant>, String> {
    let all = catalogue();
    if requested.iter().any(|r| r == "all") {
        return Ok(all);
    }
    let mut out: Vec<Variant> = Vec::new();
    for name in requested {
        let v = all.iter().find(|v| &v.name == name).ok_or_else(|| {
            format!(
                "unknown variant `{name}` (variants: {}, all)",
                names().join(", ")
            )
        })?;
        if !out.iter().any(|o| o.name == v.name) {
            out.push(v.clone());
        }
    }
    Ok(out)
}
