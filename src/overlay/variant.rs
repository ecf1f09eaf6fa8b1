//! Variants: the stdlib as installed, or changed by a fix, or used in a
//! different way by the attaching processes. `builtin` is the one place that
//! says what each built-in variant does; a user's `--patch` becomes a
//! variant too, with one patch per version range.

use crate::contract::{UnknownName, Usage, VariantId, Version, VersionRange};
use crate::overlay::patch;

/// `range`, or an error if it is reversed (`3.13-3.8` covers nothing);
/// `arg` is what the user wrote, for the message.
pub fn checked(range: VersionRange, arg: &str) -> Result<VersionRange, VariantError> {
    match (range.from, range.to) {
        (Some(a), Some(b)) if range.is_reversed() => Err(VariantError::ReversedRange {
            arg: arg.to_string(),
            from: a.to_string(),
            to: b.to_string(),
        }),
        _ => Ok(range),
    }
}

/// A patch family: one diff text for a range of minor versions.
#[derive(Debug)]
pub struct FamilyPatch {
    /// Name shown to users and used as the file name in `patches/<variant>/`.
    pub family: &'static str,
    pub range: VersionRange,
    pub text: &'static str,
}

macro_rules! families {
    ($dir:literal) => {
        &[
            FamilyPatch {
                family: "3.8-3.9",
                range: VersionRange::minors((3, 8), Some((3, 9))),
                text: include_str!(concat!("../../patches/", $dir, "/3.8-3.9.diff")),
            },
            FamilyPatch {
                family: "3.10-3.12",
                range: VersionRange::minors((3, 10), Some((3, 12))),
                text: include_str!(concat!("../../patches/", $dir, "/3.10-3.12.diff")),
            },
            FamilyPatch {
                family: "3.13",
                range: VersionRange::minors((3, 13), None),
                text: include_str!(concat!("../../patches/", $dir, "/3.13.diff")),
            },
        ]
    };
}

const CREATE_ONLY: &[FamilyPatch] = families!("create-only");
const NO_REGISTER: &[FamilyPatch] = families!("no-register");
const UNLINK_GUARD: &[FamilyPatch] = families!("create-only+unlink-guard");
const LENIENT_TRACKER: &[FamilyPatch] = families!("create-only+lenient-tracker");
const NO_TRACKING: &[FamilyPatch] = families!("no-tracking");

/// One patch of a user's `--patch` or `--git`: for the versions of `range`.
#[derive(Debug, Clone)]
pub struct UserPatch {
    pub range: VersionRange,
    /// What it is called: `fix` (of `fix.diff`), `stdin`, a branch.
    pub origin: String,
    pub text: String,
    /// Where it was read from.
    pub from: PatchFrom,
    /// It changes something under `Lib/multiprocessing/` (not only tests).
    pub code: bool,
}

/// Where a user's patch was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchFrom {
    /// `--patch PATH`, the path as given (`-`: stdin).
    File(String),
    /// `--git ARG`, and the git command whose output it is
    /// (`git diff --merge-base main`).
    Git { arg: String, command: String },
}

impl PatchFrom {
    /// How the user asked for it: `--patch fix.diff`, `--git main`.
    pub fn arg(&self) -> String {
        match self {
            PatchFrom::File(path) => format!("--patch {path}"),
            PatchFrom::Git { arg, .. } => format!("--git {arg}"),
        }
    }
}

impl UserPatch {
    /// Where outputs say a diff came from: its file's name (`3.9.diff`),
    /// `stdin`, or the git command that printed it; the candidate itself
    /// is `patch:NAME` everywhere.
    pub fn file_name(&self) -> String {
        match &self.from {
            PatchFrom::Git { command, .. } => command.clone(),
            PatchFrom::File(path) => match std::path::Path::new(path).file_name() {
                Some(n) if path != "-" => n.to_string_lossy().into_owned(),
                _ => "stdin".into(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub enum PatchSource {
    None,
    Builtin(&'static [FamilyPatch]),
    /// A user's `--patch` (each checked to parse when read).
    User(Vec<UserPatch>),
}

#[derive(Debug, Clone)]
pub struct Variant {
    /// What every output calls it: `create-only`, `patch:fix`.
    pub name: String,
    /// The built-in variant, or `None` for a user's patch.
    pub id: Option<VariantId>,
    pub summary: String,
    pub patch: PatchSource,
}

/// Why a variant cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error(transparent)]
    Unknown(#[from] UnknownName),
    #[error("--variant stock is the baseline; name a fix to compare with it")]
    StockAsCandidate,
    #[error("--patch {path}: cannot read: {source}")]
    CannotRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `arg`: `--patch fix.diff`, `--git main`.
    #[error("{arg}: the patch is not text (binary data)")]
    Binary { arg: String },
    #[error("{arg}: {source}")]
    Parse {
        arg: String,
        #[source]
        source: patch::PatchError,
    },
    #[error(
        "{arg}: it changes no code under Lib/multiprocessing/, so the candidate is stock; to run its Lib/test/ hunks against stock, use `shmharness cpython-tests {arg}`"
    )]
    NoCode { arg: String },
    #[error(
        "--patch {arg}: the range is reversed (write the lower version first, e.g. {to}-{from})"
    )]
    ReversedRange {
        arg: String,
        from: String,
        to: String,
    },
    #[error("--patch -: stdin can be read once; give the other patches as files")]
    StdinTwice,
    #[error(
        "--variant {name} is how attachers attach, not a fix: name a fix and add --usage {usage} (and `shmharness advise` says which usage holds on stock)"
    )]
    UsageNotVariant { name: String, usage: Usage },
    #[error(
        "--variant {given}: this command judges one candidate against stock; name one (run compares several)"
    )]
    OneCandidate { given: String },
    #[error("--name {name} names a --patch candidate; a built-in variant has its own name")]
    NameWithoutPatch { name: String },
    #[error("--patch {arg}: no file after `=` (write RANGE=FILE, e.g. 3.12=fix-3.12.diff)")]
    NoFile { arg: String },
    #[error("--patch {arg}: `{range}` is not a version range (try 3.10, 3.8-3.9 or 3.13-)")]
    NotARange { arg: String, range: String },
    #[error(
        "--patch {path}: no X.Y[-Z.W].diff files in this folder (lay it out like patches/create-only/)"
    )]
    EmptyFolder { path: String },
    #[error(
        "{a} and {b} cover the same Python versions; give each version one patch (RANGE= before each, e.g. 3.8-3.12=)"
    )]
    Overlap { a: String, b: String },
    #[error(transparent)]
    Git(#[from] super::git::GitError),
}

/// Built-in variant `id`: what it changes in the stdlib.
pub fn builtin(id: VariantId) -> Variant {
    let (summary, patch) = match id {
        VariantId::Stock => ("the installed stdlib, unchanged", PatchSource::None),
        VariantId::CreateOnly => (
            "the seed's fix (PR #119126): register with the tracker only `if create:`",
            PatchSource::Builtin(CREATE_ONLY),
        ),
        VariantId::NoRegister => (
            "the seed's other option: register deleted, unregister kept (every unlink is an UNREGISTER the tracker never saw)",
            PatchSource::Builtin(NO_REGISTER),
        ),
        VariantId::CreateOnlyUnlinkGuard => (
            "create-only, and unlink() unregisters only what this instance registered",
            PatchSource::Builtin(UNLINK_GUARD),
        ),
        VariantId::CreateOnlyLenientTracker => (
            "create-only, and the tracker ignores UNREGISTER of a name it never saw",
            PatchSource::Builtin(LENIENT_TRACKER),
        ),
        VariantId::NoTracking => (
            "upstream's closed PRs #15989/#21516/#20136: register and unregister both removed",
            PatchSource::Builtin(NO_TRACKING),
        ),
    };
    Variant {
        name: id.name().to_string(),
        id: Some(id),
        summary: summary.to_string(),
        patch,
    }
}

/// Every built-in variant, in display order.
pub fn catalogue() -> Vec<Variant> {
    VariantId::ALL.iter().map(|&id| builtin(id)).collect()
}

impl Variant {
    /// The user's patches as one variant, `patch:NAME`.
    pub fn user(name: &str, patches: Vec<UserPatch>) -> Variant {
        Variant {
            name: format!("patch:{name}"),
            id: None,
            summary: "a patch given with --patch".to_string(),
            patch: PatchSource::User(patches),
        }
    }

    /// Why this variant does not apply to `v`, if it does not.
    pub fn not_applicable(&self, v: Version) -> Option<String> {
        match &self.patch {
            PatchSource::User(patches) if !patches.iter().any(|p| p.range.matches(v)) => {
                Some(format!("no --patch covers Python {}.{}", v.major, v.minor))
            }
            _ => None,
        }
    }

    /// The diff to apply for `v`, with the name of where it came from, or
    /// `None` for variants that use the stdlib unchanged.
    pub fn patch_for(&self, v: Version) -> Option<Result<(String, &str), String>> {
        match &self.patch {
            PatchSource::None => None,
            PatchSource::User(patches) => patches
                .iter()
                .find(|p| p.range.matches(v))
                .map(|p| Ok((p.file_name(), p.text.as_str()))),
            PatchSource::Builtin(families) => Some(
                families
                    .iter()
                    .find(|f| f.range.matches(v))
                    .map(|f| (format!("patches/{}/{}.diff", self.name, f.family), f.text))
                    .ok_or_else(|| format!("{} has no patch for Python {v}", self.name)),
            ),
        }
    }
}

/// The variants that became usages (how attachers attach is not a change
/// to the stdlib): `--variant track-false` means `--variant stock --usage
/// track-false`.
pub const USAGE_ALIASES: &[(&str, Usage)] = &[
    ("track-false", Usage::TrackFalse),
    ("userland-unregister", Usage::Unregister),
];

/// Resolve `--variant` values (`all` = every built-in variant), in the
/// order given, without duplicates; an old variant name that is a usage
/// now gives stock and that usage (with a note).
pub fn resolve(requested: &[String]) -> Result<(Vec<Variant>, Vec<Usage>), VariantError> {
    if requested.iter().any(|r| r == "all") {
        return Ok((catalogue(), Vec::new()));
    }
    let mut ids: Vec<VariantId> = Vec::new();
    let mut usages = Vec::new();
    // Named beside real variants, an alias adds its usage to theirs.
    if requested
        .iter()
        .any(|r| !USAGE_ALIASES.iter().any(|(alias, _)| alias == r))
        && requested
            .iter()
            .any(|r| USAGE_ALIASES.iter().any(|(alias, _)| alias == r))
    {
        usages.push(Usage::Default);
    }
    for name in requested {
        let id = match USAGE_ALIASES.iter().find(|(alias, _)| alias == name) {
            Some(&(alias, usage)) => {
                crate::term::progress::note(&format!(
                    "--variant {alias} is now --variant stock --usage {usage}: how attachers attach is not a stdlib change"
                ));
                usages.push(usage);
                VariantId::Stock
            }
            None => VariantId::parse(name)?,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok((ids.into_iter().map(builtin).collect(), usages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reversed_patch_range_says_which_way_round() {
        let reversed = checked(VersionRange::parse("3.13-3.8").unwrap(), "3.13-3.8=x.diff");
        assert_eq!(
            reversed.unwrap_err().to_string(),
            "--patch 3.13-3.8=x.diff: the range is reversed (write the lower version first, e.g. 3.8-3.13)"
        );
        assert!(checked(VersionRange::parse("3.8-3.13").unwrap(), "").is_ok());
    }

    #[test]
    fn every_builtin_has_a_patch_or_none_for_every_version() {
        for v in catalogue() {
            for minor in 8..=16 {
                let version = Version::new(3, minor, 0);
                if v.not_applicable(version).is_some() {
                    continue;
                }
                if let Some(p) = v.patch_for(version) {
                    let (origin, text) = p.unwrap();
                    patch::parse(text).unwrap_or_else(|e| panic!("{origin}: {e}"));
                }
            }
        }
    }

    #[test]
    fn the_catalogue_is_every_builtin_in_order() {
        let names: Vec<String> = catalogue().into_iter().map(|v| v.name).collect();
        let ids: Vec<&str> = VariantId::ALL.iter().map(|id| id.name()).collect();
        assert_eq!(names, ids);
        assert_eq!(resolve(&["all".into()]).unwrap().0.len(), ids.len());
        // In the order asked, once each.
        let asked = ["no-tracking", "stock", "no-tracking"].map(String::from);
        let names: Vec<String> = resolve(&asked)
            .unwrap()
            .0
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["no-tracking", "stock"]);
        // Real variants alone add no usage (`--usage` decides).
        assert!(resolve(&asked).unwrap().1.is_empty());
        assert!(resolve(&["stock".into(), "nope".into()]).is_err());
        assert!(resolve(&[]).unwrap().0.is_empty());
        // An old variant name is stock under its usage; beside a real
        // variant, the default usage runs too.
        let (v, u) = resolve(&["track-false".into()]).unwrap();
        assert_eq!((v[0].name.as_str(), u), ("stock", vec![Usage::TrackFalse]));
        let (v, u) = resolve(&["create-only".into(), "userland-unregister".into()]).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(u, [Usage::Default, Usage::Unregister]);
    }

    #[test]
    fn each_builtin_patch_is_the_file_of_its_family() {
        let v = builtin(VariantId::CreateOnly);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("patches/create-only");
        for (version, family) in [
            ("3.8.18", "3.8-3.9"),
            ("3.9.0", "3.8-3.9"),
            ("3.10.0", "3.10-3.12"),
            ("3.12.9", "3.10-3.12"),
            ("3.13.0", "3.13"),
            ("3.15.2", "3.13"),
        ] {
            let (origin, text) = v
                .patch_for(Version::parse(version).unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(
                origin,
                format!("patches/create-only/{family}.diff"),
                "{version}"
            );
            let file = std::fs::read_to_string(dir.join(format!("{family}.diff"))).unwrap();
            assert_eq!(text, file, "{version}");
        }
        assert_eq!(
            v.patch_for(Version::new(3, 7, 17)).unwrap(),
            Err("create-only has no patch for Python 3.7.17".into())
        );
        // Stock uses the stdlib as is.
        assert!(
            builtin(VariantId::Stock)
                .patch_for(Version::new(3, 13, 0))
                .is_none()
        );
    }

    #[test]
    fn what_a_variant_does_not_apply_to_says_why() {
        // No built-in variant is gated on a version (what a usage needs is
        // asked of the stdlib itself).
        for v in catalogue() {
            assert_eq!(v.not_applicable(Version::new(3, 12, 9)), None, "{}", v.name);
        }
        assert_eq!(
            builtin(VariantId::CreateOnly).not_applicable(Version::new(3, 8, 0)),
            None
        );
        let user = Variant::user(
            "fix",
            vec![UserPatch {
                range: VersionRange::parse("3.10-3.12").unwrap(),
                origin: "fix".into(),
                text: "t".into(),
                from: PatchFrom::File("fix.diff".into()),
                code: true,
            }],
        );
        assert_eq!((user.name.as_str(), user.id), ("patch:fix", None));
        assert_eq!(
            user.not_applicable(Version::new(3, 9, 1)).as_deref(),
            Some("no --patch covers Python 3.9")
        );
        assert_eq!(user.not_applicable(Version::new(3, 11, 0)), None);
        assert_eq!(
            user.patch_for(Version::new(3, 11, 0)),
            Some(Ok(("fix.diff".to_string(), "t")))
        );
        assert_eq!(user.patch_for(Version::new(3, 13, 0)), None);
    }
}
