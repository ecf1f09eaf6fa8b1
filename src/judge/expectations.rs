//! The expectation table: for each scenario, variant and version range, the
//! outcome and the exact symptom set a run must show. This table is the one
//! source of truth; the README matrix is generated from it (and a test keeps
//! them in sync). Rows were checked against BRIEF.md and observed on
//! CPython 3.8.18 to 3.13.0.

use crate::contract::{ScenarioId, StartMethod, VariantId, Version};
use crate::variant::MinorRange;

use ScenarioId as S;
use VariantId as V;

pub struct Expectation {
    pub scenario: ScenarioId,
    pub variants: &'static [VariantId],
    /// The minor versions the row is for.
    pub versions: MinorRange,
    /// The start methods the row is for; empty: any (or none: the scenario
    /// starts no multiprocessing child).
    pub start_methods: &'static [StartMethod],
    pub outcome: &'static str,
    /// A few words of evidence for the table cell.
    pub evidence: &'static str,
    /// Sorted symptom keys (see judge::symptoms; a unit test checks each
    /// one names a process of the scenario and a known symptom).
    pub symptoms: &'static [&'static str],
}

impl Expectation {
    const fn new(
        scenario: ScenarioId,
        variants: &'static [VariantId],
        outcome: &'static str,
        evidence: &'static str,
        symptoms: &'static [&'static str],
    ) -> Expectation {
        Expectation {
            scenario,
            variants,
            versions: MinorRange::ALL,
            start_methods: &[],
            outcome,
            evidence,
            symptoms,
        }
    }

    /// Only for minor versions `from..=to` (`None`: open end).
    #[allow(dead_code)]
    const fn versions(mut self, from: Option<(u32, u32)>, to: Option<(u32, u32)>) -> Expectation {
        self.versions = MinorRange::new(from, to);
        self
    }

    /// Only under these start methods.
    #[allow(dead_code)]
    const fn start_methods(mut self, methods: &'static [StartMethod]) -> Expectation {
        self.start_methods = methods;
        self
    }

    pub fn covers(&self, v: Version, method: Option<StartMethod>) -> bool {
        self.versions.covers(v)
            && (self.start_methods.is_empty()
                || method.is_some_and(|m| self.start_methods.contains(&m)))
    }
}

/// The row for a case, if any.
pub fn lookup(
    scenario: ScenarioId,
    variant: VariantId,
    v: Version,
    method: Option<StartMethod>,
) -> Option<&'static Expectation> {
    EXPECTATIONS
        .iter()
        .find(|e| e.scenario == scenario && e.variants.contains(&variant) && e.covers(v, method))
}

/// Variants that leave the stdlib's registration alone for the creator and
/// keep attachers out of the tracker: the fixes and the workarounds.
/// (`track-false` exists from 3.13; below that its cases are n/a before any
/// row is consulted.)
pub const EXPECTATIONS: &[Expectation] = &[
    // The seed.
    Expectation::new(
        S::ThreeProcess,
        &[V::Stock],
        "bug reproduced",
        "P2 warned, P3 FileNotFoundError",
        &[
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
            "P2 leak warning",
            "P3 FileNotFoundError",
        ],
    ),
    Expectation::new(
        S::ThreeProcess,
        &[
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
            V::UserlandUnregister,
        ],
        "fixed",
        "P3 read data",
        &[],
    ),
    Expectation::new(
        S::ThreeProcess,
        &[V::NoRegister],
        "fixed, tracker KeyError",
        "P3 read data; P1's unlink: tracker KeyError",
        &["P1 tracker KeyError"],
    ),
    // An attacher unlinks: create-only's tracker never registered the name.
    Expectation::new(
        S::AttacherUnlinks,
        &[
            V::Stock,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
        ],
        "unlinked cleanly",
        "P2 unlinked; P1's tracker warns at exit",
        &["P1 leak warning", "P1 tracker error"],
    ),
    Expectation::new(
        S::AttacherUnlinks,
        &[V::CreateOnly, V::UserlandUnregister],
        "tracker KeyError",
        "P2's tracker: KeyError traceback",
        &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
    ),
    Expectation::new(
        S::AttacherUnlinks,
        &[V::NoRegister],
        "tracker KeyError",
        "P2's tracker: KeyError traceback",
        &["P2 tracker KeyError"],
    ),
    // The safety net for crashed creators.
    Expectation::new(
        S::CreatorCrashes,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
            V::UserlandUnregister,
        ],
        "cleaned up",
        "P1's tracker removed the segment",
        &["P1 leak warning"],
    ),
    Expectation::new(
        S::CreatorCrashes,
        &[V::NoRegister],
        "segment leaked",
        "nothing removed the segment",
        &["segment leaked"],
    ),
    Expectation::new(
        S::CreatorExitsWithoutUnlink,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
            V::UserlandUnregister,
        ],
        "cleaned up",
        "P1's tracker warned and removed it",
        &["P1 leak warning"],
    ),
    Expectation::new(
        S::CreatorExitsWithoutUnlink,
        &[V::NoRegister],
        "segment leaked",
        "nothing removed the segment",
        &["segment leaked"],
    ),
    // Many attachers: the first one to exit destroys the segment on stock.
    Expectation::new(
        S::ManyAttachers,
        &[V::Stock],
        "bug reproduced",
        "attachers warned, R FileNotFoundError",
        &[
            "A* leak warning",
            "A* tracker error",
            "B* FileNotFoundError",
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
            "R FileNotFoundError",
        ],
    ),
    Expectation::new(
        S::ManyAttachers,
        &[
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
            V::UserlandUnregister,
        ],
        "fixed",
        "R read data",
        &[],
    ),
    Expectation::new(
        S::ManyAttachers,
        &[V::NoRegister],
        "fixed, tracker KeyError",
        "R read data; P1's unlink: tracker KeyError",
        &["P1 tracker KeyError"],
    ),
    // One process family shares one tracker.
    Expectation::new(
        S::Family,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
        ],
        "shared tracker, clean",
        "child read data, no warning",
        &[],
    ),
    Expectation::new(
        S::Family,
        &[V::UserlandUnregister],
        "tracker KeyError",
        "child unregistered P1's name; P1's unlink: KeyError",
        &["P1 tracker KeyError"],
    ),
    Expectation::new(
        S::Family,
        &[V::NoRegister],
        "tracker KeyError",
        "P1's unlink: tracker KeyError",
        &["P1 tracker KeyError"],
    ),
    // A same-family child unlinks: the creator registered the name in the
    // shared tracker, so the child's UNREGISTER is what clears it. The guard
    // and track=False skip it; the creator's tracker then "cleans up" a name
    // that is already gone (CPython's own
    // test_shared_memory_SharedMemoryManager_reuses_resource_tracker fails
    // the same way).
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[V::Stock, V::CreateOnly, V::CreateOnlyLenientTracker],
        "clean",
        "child unlinked, no warning",
        &[],
    ),
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[V::CreateOnlyUnlinkGuard, V::TrackFalse],
        "creator's tracker warns",
        "child's unlink left P1's registration: leak warning, ENOENT",
        &["P1 leak warning", "P1 tracker error"],
    ),
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[V::NoRegister, V::UserlandUnregister],
        "tracker KeyError",
        "an UNREGISTER for a name the tracker does not hold",
        &["P1 tracker KeyError"],
    ),
    // Control: the segment is gone before anyone attaches.
    Expectation::new(
        S::CreatorUnlinksFirst,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::TrackFalse,
            V::UserlandUnregister,
        ],
        "FileNotFoundError (control)",
        "P2 FileNotFoundError",
        &["P2 FileNotFoundError"],
    ),
    Expectation::new(
        S::CreatorUnlinksFirst,
        &[V::NoRegister],
        "FileNotFoundError (control)",
        "P2 FileNotFoundError; P1's unlink: tracker KeyError",
        &["P1 tracker KeyError", "P2 FileNotFoundError"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::symptoms::Key;
    use crate::scenario::catalogue::{self, Params, Step};
    use crate::variant;

    /// The process groups a scenario has (the keys' first word).
    fn groups(scenario: ScenarioId) -> Vec<String> {
        (catalogue::find(scenario).steps)(&Params::default())
            .into_iter()
            .flat_map(|s| match s {
                Step::Start(p) | Step::Run(p) => p.into_iter().map(|p| p.group).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn every_symptom_names_a_process_of_its_scenario_and_a_known_symptom() {
        for row in EXPECTATIONS {
            let groups = groups(row.scenario);
            let mut sorted = row.symptoms.to_vec();
            sorted.sort();
            assert_eq!(
                sorted, row.symptoms,
                "{}: symptoms must be sorted",
                row.scenario
            );
            for key in row.symptoms {
                let parsed = Key::parse(key)
                    .unwrap_or_else(|| panic!("{}: `{key}` is not a symptom", row.scenario));
                if let Some(g) = &parsed.group {
                    assert!(
                        groups.contains(g),
                        "{}: `{key}` names `{g}`, not one of {groups:?}",
                        row.scenario
                    );
                }
            }
        }
    }

    #[test]
    fn every_scenario_variant_and_version_has_exactly_one_expectation() {
        for s in catalogue::visible() {
            for v in variant::catalogue() {
                let id = v.id.expect("built-in");
                for minor in 8..=16 {
                    let version = Version::new(3, minor, 0);
                    let rows = EXPECTATIONS
                        .iter()
                        .filter(|e| e.scenario == s.id && e.variants.contains(&id))
                        .filter(|e| e.covers(version, None))
                        .count();
                    let want = usize::from(v.not_applicable(version).is_none());
                    assert!(
                        rows == want || (want == 0 && rows <= 1),
                        "{} [{}] on 3.{minor}: {rows} rows",
                        s.name(),
                        v.name
                    );
                }
            }
        }
    }

    #[test]
    fn version_ranged_rows_select_by_version() {
        const ROWS: &[Expectation] = &[
            Expectation::new(S::Family, &[V::Stock], "old", "", &[]).versions(None, Some((3, 13))),
            Expectation::new(S::Family, &[V::Stock], "new", "", &[]).versions(Some((3, 14)), None),
        ];
        let pick = |minor| {
            ROWS.iter()
                .find(|e| e.covers(Version::new(3, minor, 0), None))
                .map(|e| e.outcome)
        };
        assert_eq!(pick(13), Some("old"));
        assert_eq!(pick(14), Some("new"));
        let fork_only = Expectation::new(S::Family, &[V::Stock], "f", "", &[])
            .start_methods(&[StartMethod::Fork]);
        assert!(fork_only.covers(Version::new(3, 12, 0), Some(StartMethod::Fork)));
        assert!(!fork_only.covers(Version::new(3, 12, 0), Some(StartMethod::Spawn)));
    }
}
