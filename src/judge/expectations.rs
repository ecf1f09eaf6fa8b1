//! The expectation table: for each scenario, variant, version range, start
//! method and stdlib feature, the outcome and the exact symptom set a run
//! must show. This table is the one source of truth for verdicts; the
//! README matrix is generated from it (a test keeps them in sync).

use crate::contract::{Feature, ScenarioId, StartMethod, Usage, VariantId};

use ScenarioId as S;
use Usage as U;
use VariantId as V;

/// The outcome of a row whose usage the roles cannot apply.
const CANNOT_APPLY: &str = "n/a";

pub struct Expectation {
    pub scenario: ScenarioId,
    pub variants: &'static [VariantId],
    /// How the attachers attach (`default` unless the row says).
    pub usage: Usage,
    /// The row also holds for stock under these usages (one row where the
    /// outcome is the same, rather than a copy per usage).
    pub also_stock: &'static [Usage],
    /// The start methods the row is for; empty: any (or none: the scenario
    /// starts no multiprocessing child).
    pub start_methods: &'static [StartMethod],
    /// Only where the interpreter's stdlib has (`true`) or lacks (`false`)
    /// this feature: behaviour that changed in a micro release.
    pub feature: Option<(Feature, bool)>,
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
            usage: Usage::Default,
            also_stock: &[],
            start_methods: &[],
            feature: None,
            outcome,
            evidence,
            symptoms,
        }
    }

    /// Stock under `usages` in a scenario whose roles cannot apply them
    /// (a role says so, with why, and attaches as default): such a case is
    /// n/a, and a role that applied the usage after all fails it.
    const fn cannot_apply(
        scenario: ScenarioId,
        usages: &'static [Usage],
        why: &'static str,
    ) -> Expectation {
        Expectation {
            scenario,
            variants: &[],
            usage: Usage::Default,
            also_stock: usages,
            start_methods: &[],
            feature: None,
            outcome: CANNOT_APPLY,
            evidence: why,
            symptoms: &[],
        }
    }

    /// Does the usage reach the API in this row's cases?
    pub fn applies(&self) -> bool {
        self.outcome != CANNOT_APPLY
    }

    /// For attachers that attach this way.
    const fn usage(mut self, usage: Usage) -> Expectation {
        self.usage = usage;
        self
    }

    /// Also for stock under `usages`.
    const fn also_stock(mut self, usages: &'static [Usage]) -> Expectation {
        self.also_stock = usages;
        self
    }

    /// Is this the row's (variant, usage)?
    pub fn is_for(&self, variant: VariantId, usage: Usage) -> bool {
        (self.variants.contains(&variant) && self.usage == usage)
            || (variant == VariantId::Stock && self.also_stock.contains(&usage))
    }

    /// Only where the stdlib has (or lacks) `feature`.
    const fn feature(mut self, feature: Feature, present: bool) -> Expectation {
        self.feature = Some((feature, present));
        self
    }

    /// Only under these start methods.
    const fn start_methods(mut self, methods: &'static [StartMethod]) -> Expectation {
        self.start_methods = methods;
        self
    }

    pub fn covers(&self, method: Option<StartMethod>, features: &[Feature]) -> bool {
        (self.start_methods.is_empty() || method.is_some_and(|m| self.start_methods.contains(&m)))
            && self
                .feature
                .is_none_or(|(f, present)| features.contains(&f) == present)
    }
}

/// The row for a case, if any.
pub fn lookup(
    scenario: ScenarioId,
    variant: VariantId,
    usage: Usage,
    method: Option<StartMethod>,
    features: &[Feature],
) -> Option<&'static Expectation> {
    EXPECTATIONS
        .iter()
        .find(|e| e.scenario == scenario && e.is_for(variant, usage) && e.covers(method, features))
}

/// Shorthands for the variant lists below.
const FIXES: &[VariantId] = &[
    V::CreateOnly,
    V::CreateOnlyUnlinkGuard,
    V::CreateOnlyLenientTracker,
    V::NoTracking,
];
const SEED_BUG: &[&str] = &[
    "P1 FileNotFoundError",
    "P1 leak warning",
    "P1 tracker error",
    "P2 leak warning",
    "P3 FileNotFoundError",
];
const CREATOR_WARNS: &[&str] = &["P1 leak warning", "P1 tracker error"];
const KEYERROR: &[&str] = &["P1 tracker KeyError"];
const FORKS: &[StartMethod] = &[StartMethod::Fork];
const PICKLES: &[StartMethod] = &[StartMethod::Spawn, StartMethod::Forkserver];

/// Why a child cannot apply `track=False`: it attaches by receiving the
/// object, not by calling `SharedMemory(name, track=False)`.
const RECEIVED: &str = "a received SharedMemory cannot be given track=False";

/// Every (scenario, variant) has exactly one row for each version, start
/// method and stdlib feature (a unit test checks), and every row was derived
/// from the stdlib code first and then observed on CPython 3.8.18-3.15.2
/// (docs/catalogue-observations.md); tests/ states key facts independently.
pub const EXPECTATIONS: &[Expectation] = &[
    // The seed.
    Expectation::new(
        S::ThreeProcess,
        &[V::Stock],
        "bug reproduced",
        "P2 warned, P3 FileNotFoundError",
        SEED_BUG,
    ),
    Expectation::new(S::ThreeProcess, FIXES, "fixed", "P3 read data", &[])
        .also_stock(&[U::TrackFalse, U::Unregister]),
    Expectation::new(
        S::ThreeProcess,
        &[V::NoRegister],
        "fixed, tracker KeyError",
        "P3 read data; P1's unlink: tracker KeyError",
        KEYERROR,
    ),
    // An attacher unlinks: create-only's tracker never registered the name.
    Expectation::new(
        S::AttacherUnlinks,
        &[
            V::Stock,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
        ],
        "creator's tracker warns",
        "P2 unlinked; P1's tracker warns at exit",
        CREATOR_WARNS,
    )
    .also_stock(&[U::TrackFalse]),
    Expectation::new(
        S::AttacherUnlinks,
        &[V::CreateOnly],
        "tracker KeyError",
        "P2's tracker: KeyError traceback",
        &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
    )
    .also_stock(&[U::Unregister]),
    Expectation::new(
        S::AttacherUnlinks,
        &[V::NoRegister],
        "tracker KeyError",
        "P2's tracker: KeyError traceback",
        &["P2 tracker KeyError"],
    ),
    Expectation::new(
        S::AttacherUnlinks,
        &[V::NoTracking],
        "unlinked, no tracker",
        "P2 unlinked; no tracker knew the name",
        &[],
    ),
    // The safety net for crashed creators: the tracker is what cleans up.
    Expectation::new(
        S::CreatorCrashes,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
        ],
        "cleaned up",
        "P1's tracker removed the segment",
        &["P1 leak warning"],
    )
    .also_stock(&[U::TrackFalse, U::Unregister]),
    Expectation::new(
        S::CreatorCrashes,
        &[V::NoRegister, V::NoTracking],
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
        ],
        "cleaned up",
        "P1's tracker warned and removed it",
        &["P1 leak warning"],
    )
    .also_stock(&[U::TrackFalse, U::Unregister]),
    Expectation::new(
        S::CreatorExitsWithoutUnlink,
        &[V::NoRegister, V::NoTracking],
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
    Expectation::new(S::ManyAttachers, FIXES, "fixed", "R read data", &[])
        .also_stock(&[U::TrackFalse, U::Unregister]),
    Expectation::new(
        S::ManyAttachers,
        &[V::NoRegister],
        "fixed, tracker KeyError",
        "R read data; P1's unlink: tracker KeyError",
        KEYERROR,
    ),
    // One process family shares one tracker, under every start method.
    Expectation::new(
        S::Family,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "shared tracker, clean",
        "child read data, no warning",
        &[],
    )
    .also_stock(&[U::TrackFalse]),
    Expectation::new(
        S::Family,
        &[V::Stock],
        "tracker KeyError",
        "child unregistered P1's name; P1's unlink: KeyError",
        KEYERROR,
    )
    .usage(U::Unregister),
    Expectation::new(
        S::Family,
        &[V::NoRegister],
        "tracker KeyError",
        "P1's unlink: tracker KeyError",
        KEYERROR,
    ),
    // A same-family child unlinks: the creator registered the name in the
    // shared tracker, so the child's UNREGISTER is what clears it. The guard
    // and track=False skip it; the creator's tracker then "cleans up" a name
    // that is already gone (CPython's own
    // test_shared_memory_SharedMemoryManager_reuses_resource_tracker fails
    // the same way).
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "clean",
        "child unlinked, no warning",
        &[],
    ),
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[V::CreateOnlyUnlinkGuard],
        "creator's tracker warns",
        "child's unlink left P1's registration: leak warning, ENOENT",
        CREATOR_WARNS,
    )
    .also_stock(&[U::TrackFalse]),
    Expectation::new(
        S::FamilyAttacherUnlinks,
        &[V::NoRegister],
        "tracker KeyError",
        "an UNREGISTER for a name the tracker does not hold",
        KEYERROR,
    )
    .also_stock(&[U::Unregister]),
    // Control: the segment is gone before anyone attaches.
    Expectation::new(
        S::CreatorUnlinksFirst,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "FileNotFoundError (control)",
        "P2 FileNotFoundError",
        &["P2 FileNotFoundError"],
    )
    .also_stock(&[U::TrackFalse, U::Unregister]),
    Expectation::new(
        S::CreatorUnlinksFirst,
        &[V::NoRegister],
        "FileNotFoundError (control)",
        "P2 FileNotFoundError; P1's unlink: tracker KeyError",
        &["P1 tracker KeyError", "P2 FileNotFoundError"],
    ),
    // The documented pattern: the object itself goes to the child. Under
    // spawn and forkserver it is pickled as (name, create=False, size), so
    // the child re-attaches by name; under fork it is P1's object as is.
    Expectation::new(
        S::FamilyObject,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "shared tracker, clean",
        "child read the object's data, no warning",
        &[],
    ),
    Expectation::new(
        S::FamilyObject,
        &[V::NoRegister],
        "tracker KeyError",
        "an UNREGISTER for a name the tracker does not hold",
        KEYERROR,
    )
    .also_stock(&[U::Unregister]),
    Expectation::cannot_apply(S::FamilyObject, &[U::TrackFalse], RECEIVED),
    Expectation::new(
        S::FamilyObjectUnlinks,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "clean",
        "child unlinked the object, no warning",
        &[],
    ),
    Expectation::new(
        S::FamilyObjectUnlinks,
        &[V::NoRegister],
        "tracker KeyError",
        "an UNREGISTER for a name the tracker does not hold",
        KEYERROR,
    )
    .also_stock(&[U::Unregister]),
    Expectation::cannot_apply(S::FamilyObjectUnlinks, &[U::TrackFalse], RECEIVED),
    // The guard: under fork the child's object is P1's (`_registered`
    // true), so its unlink unregisters; an unpickled copy's is false.
    Expectation::new(
        S::FamilyObjectUnlinks,
        &[V::CreateOnlyUnlinkGuard],
        "clean",
        "inherited object: its unlink unregisters",
        &[],
    )
    .start_methods(FORKS),
    Expectation::new(
        S::FamilyObjectUnlinks,
        &[V::CreateOnlyUnlinkGuard],
        "creator's tracker warns",
        "pickled copy: its unlink left P1's registration",
        CREATOR_WARNS,
    )
    .start_methods(PICKLES),
    // SharedMemoryManager: both segments are created in P1 (registered in
    // its tracker); at shutdown the server attaches and unlinks them.
    Expectation::new(
        S::Manager,
        &[
            V::Stock,
            V::CreateOnly,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "clean",
        "child used both; shutdown removed them",
        &[],
    )
    .also_stock(&[U::Unregister]),
    Expectation::new(
        S::Manager,
        &[V::NoRegister],
        "tracker KeyError",
        "P1's close/unlink: KeyError",
        KEYERROR,
    ),
    Expectation::new(
        S::Manager,
        &[V::CreateOnlyUnlinkGuard],
        "creator's tracker warns",
        "the server's unlink never unregisters: 2 leaked, ENOENT",
        CREATOR_WARNS,
    ),
    Expectation::cannot_apply(S::Manager, &[U::TrackFalse], RECEIVED),
    // A ShareableList is a SharedMemory: the seed's bug, and track= cannot
    // reach it (ShareableList has no such parameter).
    Expectation::new(
        S::ShareableList,
        &[V::Stock],
        "bug reproduced",
        "P2 warned, P3 FileNotFoundError",
        SEED_BUG,
    ),
    Expectation::new(
        S::ShareableList,
        &[
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "fixed",
        "P3 read the list",
        &[],
    )
    .also_stock(&[U::Unregister]),
    Expectation::new(
        S::ShareableList,
        &[V::NoRegister],
        "fixed, tracker KeyError",
        "P3 read the list; P1's unlink: tracker KeyError",
        KEYERROR,
    ),
    Expectation::cannot_apply(
        S::ShareableList,
        &[U::TrackFalse],
        "ShareableList has no track parameter",
    ),
    // Raw os.fork(): before gh-146313 the child writes to P1's tracker;
    // with its at-fork handler (3.13.x backport, 3.14, 3.15) the child
    // starts a tracker of its own, which outlives it and destroys P1's
    // segment: the seed's bug inside one process tree.
    Expectation::new(
        S::RawFork,
        &[V::Stock],
        "clean",
        "the child used P1's tracker",
        &[],
    )
    .feature(Feature::TrackerForkHandler, false),
    Expectation::new(
        S::RawFork,
        &[V::Stock],
        "bug reproduced",
        "the child's own tracker unlinked P1's segment (gh-146313)",
        &[
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
        ],
    )
    .feature(Feature::TrackerForkHandler, true),
    Expectation::new(
        S::RawFork,
        &[
            V::CreateOnly,
            V::CreateOnlyUnlinkGuard,
            V::CreateOnlyLenientTracker,
            V::NoTracking,
        ],
        "clean",
        "the child did not register",
        &[],
    )
    .also_stock(&[U::TrackFalse]),
    Expectation::new(
        S::RawFork,
        &[V::NoRegister],
        "tracker KeyError",
        "P1's unlink: tracker KeyError",
        KEYERROR,
    ),
    Expectation::new(
        S::RawFork,
        &[V::Stock],
        "tracker KeyError",
        "the child unregistered P1's name in P1's tracker",
        KEYERROR,
    )
    .feature(Feature::TrackerForkHandler, false)
    .usage(U::Unregister),
    Expectation::new(
        S::RawFork,
        &[V::Stock],
        "clean",
        "the child's unregister went to its own tracker",
        &[],
    )
    .feature(Feature::TrackerForkHandler, true)
    .usage(U::Unregister),
    // gh-153279: a failed attach unlinks the owner's segment in every
    // version and variant here (a different bug; no variant changes that
    // handler); the variants differ only in the tracker noise around it.
    Expectation::new(
        S::AttachFails,
        &[V::Stock, V::CreateOnly],
        "segment destroyed",
        "P2's failed attach unlinked it; P2's tracker KeyError",
        &[
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
            "P2 OSError",
            "P2 tracker KeyError",
            "P3 FileNotFoundError",
        ],
    )
    .also_stock(&[U::Unregister]),
    Expectation::new(
        S::AttachFails,
        &[V::NoRegister],
        "segment destroyed",
        "P2's failed attach unlinked it; P2's tracker KeyError",
        &[
            "P1 FileNotFoundError",
            "P2 OSError",
            "P2 tracker KeyError",
            "P3 FileNotFoundError",
        ],
    ),
    Expectation::new(
        S::AttachFails,
        &[V::NoTracking],
        "segment destroyed",
        "P2's failed attach unlinked it",
        &["P1 FileNotFoundError", "P2 OSError", "P3 FileNotFoundError"],
    ),
    Expectation::new(
        S::AttachFails,
        &[V::CreateOnlyUnlinkGuard, V::CreateOnlyLenientTracker],
        "segment destroyed",
        "P2's failed attach unlinked it",
        &[
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
            "P2 OSError",
            "P3 FileNotFoundError",
        ],
    )
    .also_stock(&[U::TrackFalse]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::variant;
    use crate::scenario::catalogue::{self, Params, Step};
    use crate::scenario::symptoms::Key;

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
    fn every_scenario_variant_and_usage_has_exactly_one_expectation() {
        // Every built-in variant with the default usage, and stock with
        // every usage: one row under each start method and stdlib feature.
        // (A fix under another usage is judged against stock's.)
        let feature_sets: [&[Feature]; 2] = [&[], &[Feature::TrackerForkHandler]];
        let mut cells: Vec<(VariantId, Usage)> = variant::catalogue()
            .iter()
            .map(|v| (v.id.expect("built-in"), Usage::Default))
            .collect();
        cells.extend(Usage::ALL[1..].iter().map(|&u| (VariantId::Stock, u)));
        for s in catalogue::visible() {
            let methods: Vec<Option<StartMethod>> = if s.children {
                StartMethod::ALL.iter().copied().map(Some).collect()
            } else {
                vec![None]
            };
            for &(id, usage) in &cells {
                for method in &methods {
                    for features in feature_sets {
                        let rows = EXPECTATIONS
                            .iter()
                            .filter(|e| e.scenario == s.id && e.is_for(id, usage))
                            .filter(|e| e.covers(*method, features))
                            .count();
                        assert_eq!(
                            rows,
                            1,
                            "{} [{id} {usage}] {method:?} {features:?}",
                            s.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rows_select_by_start_method_and_feature() {
        let fork_only = Expectation::new(S::Family, &[V::Stock], "f", "", &[])
            .start_methods(&[StartMethod::Fork]);
        assert!(fork_only.covers(Some(StartMethod::Fork), &[]));
        assert!(!fork_only.covers(Some(StartMethod::Spawn), &[]));
        let handler = Expectation::new(S::RawFork, &[V::Stock], "h", "", &[])
            .feature(Feature::TrackerForkHandler, true);
        assert!(handler.covers(None, &[Feature::TrackerForkHandler]));
        assert!(!handler.covers(None, &[]));
    }
}
