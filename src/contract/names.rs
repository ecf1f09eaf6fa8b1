//! Names that appear in results.json and on the command line: scenarios,
//! built-in variants, start methods. Enums, so a misspelt name in the
//! expectation table or the catalogue fails to compile.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A name that is not one of the known ones, with the closest known name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub known: Vec<&'static str>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.kind, self.given)?;
        match closest(&self.given, &self.known) {
            Some(near) => write!(f, " (did you mean `{near}`? ")?,
            None => write!(f, " (")?,
        }
        write!(f, "{}s: {}, all)", self.kind, self.known.join(", "))
    }
}

impl std::error::Error for UnknownName {}

/// The known name nearest to `given`, if it is near enough to be a typo.
pub fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    let given = given.to_ascii_lowercase().replace('_', "-");
    known
        .iter()
        .map(|k| (strsim::levenshtein(&given, k), *k))
        .filter(|(d, k)| {
            *d <= (k.len() / 3).max(2) || k.starts_with(&given) || given.starts_with(k)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

macro_rules! names {
    ($(#[$meta:meta])* $ty:ident, $kind:literal, { $($(#[$vmeta:meta])* $v:ident = $name:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $ty {
            $($(#[$vmeta])* #[serde(rename = $name)] $v),+
        }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$v),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$v => $name),+
                }
            }

            pub fn parse(s: &str) -> Result<$ty, UnknownName> {
                $ty::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| UnknownName {
                    kind: $kind,
                    given: s.to_string(),
                    known: $ty::ALL.iter().map(|v| v.name()).collect(),
                })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

names!(
    /// A scenario of the catalogue (see `shmharness expectations`).
    ScenarioId, "scenario", {
    ThreeProcess = "three-process",
    AttacherUnlinks = "attacher-unlinks",
    CreatorCrashes = "creator-crashes",
    CreatorExitsWithoutUnlink = "creator-exits-without-unlink",
    ManyAttachers = "many-attachers",
    Family = "family",
    FamilyAttacherUnlinks = "family-attacher-unlinks",
    CreatorUnlinksFirst = "creator-unlinks-first",
    FamilyObject = "family-object",
    FamilyObjectUnlinks = "family-object-unlinks",
    ShareableList = "shareable-list",
    Manager = "manager",
    RawFork = "raw-fork",
    AttachFails = "attach-fails",
    /// Test-only: a process that hangs until the timeout kills it.
    Hang = "hang",
});

names!(
    /// A built-in variant: the stdlib as installed, changed by a fix, or
    /// used differently by the attaching processes.
    VariantId, "variant", {
    Stock = "stock",
    CreateOnly = "create-only",
    NoRegister = "no-register",
    CreateOnlyUnlinkGuard = "create-only+unlink-guard",
    CreateOnlyLenientTracker = "create-only+lenient-tracker",
    NoTracking = "no-tracking",
});

names!(
    /// How application code attaches to a segment someone else created:
    /// separate from the stdlib variant, so any fix combines with any usage.
    #[derive(Default)]
    Usage, "usage", {
    /// Plain `SharedMemory(name)` / `ShareableList(name=...)`.
    #[default]
    Default = "default",
    /// `SharedMemory(name, track=False)` (the API PR #110778 added in 3.13).
    TrackFalse = "track-false",
    /// `resource_tracker.unregister(shm._name, "shared_memory")` right
    /// after attaching (gh-82300's and StackOverflow 62748654's workaround).
    Unregister = "unregister",
});

names!(
    /// How multiprocessing starts a child process.
    StartMethod, "start method", {
    Fork = "fork",
    Spawn = "spawn",
    Forkserver = "forkserver",
});

// Never parsed from the command line, so not one of `names!`.
/// A fact about an interpreter's stdlib that changes what a scenario
/// shows, found by reading the installed `multiprocessing` (behaviour
/// that changed in a micro release, where a version range would guess).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Feature {
    /// gh-146313 / PR #146316: `resource_tracker` registers an at-fork
    /// handler, so a raw `os.fork()` child starts a tracker of its own
    /// (3.13.x backport, 3.14.x, 3.15).
    #[serde(rename = "tracker-fork-handler")]
    TrackerForkHandler,
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Feature::TrackerForkHandler => "tracker-fork-handler",
        })
    }
}

/// A name as one file-name component: ASCII letters, digits and `-+._`
/// kept, anything else `_` (`patch:fix` -> `patch_fix`). Bundles, overlay
/// dirs and cache keys all name things this way.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl VariantId {
    /// Is `name` (a case's variant) the stock baseline?
    pub fn is_stock(name: &str) -> bool {
        name == VariantId::Stock.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json_and_parse() {
        for v in VariantId::ALL {
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(VariantId::parse(v.name()).unwrap(), *v);
        }
        for s in ScenarioId::ALL {
            assert_eq!(ScenarioId::parse(s.name()).unwrap(), *s);
        }
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let e = VariantId::parse("create_only").unwrap_err();
        assert!(e.to_string().contains("did you mean `create-only`?"), "{e}");
        let e = ScenarioId::parse("attacher-unlink").unwrap_err();
        assert!(
            e.to_string().contains("did you mean `attacher-unlinks`?"),
            "{e}"
        );
        let e = VariantId::parse("zzzzzzzzzz").unwrap_err();
        assert!(!e.to_string().contains("did you mean"), "{e}");
        assert!(
            e.to_string().contains("variants: stock, create-only"),
            "{e}"
        );
    }
}
