//! The contract: every type that is serialised into results.json, and every
//! type a renderer reads. This module is a leaf: it depends on nothing else
//! in the crate, so `judge/`, `scenario/` and `suite` produce these values
//! and `export/` only reads them, with no cycle between them.
//!
//! `shmharness schema` prints the JSON Schema derived from these types;
//! `schema/results.schema.json` is exactly that output (a test checks).
//! Field docs become schema descriptions, so they are written for the
//! people who consume results.json.

mod event;
pub mod exit;
#[cfg(test)]
pub mod fixtures;
mod interpreter;
mod names;
mod observation;
mod range;
mod results;
mod suite;
mod verify;

pub use event::{Event, RoleName};
pub use interpreter::{Alias, Interpreter, Rejected, Source, Version};
pub use names::{Feature, ScenarioId, StartMethod, UnknownName, Usage, VariantId, slug};
pub use observation::{Origin, ProcessObservation, Symptom, Traceback};
pub use range::VersionRange;
pub use results::{
    AppliedPatch, Case, Host, MergedLeg, Results, Row, SCHEMA_VERSION, ScenarioInfo, Timing,
    VariantInfo, Verdict,
};
pub use suite::{FailingTest, FailureKind, TestRun};
pub use verify::{CandidateVerdict, InterpreterVerdict};

/// The JSON Schema of results.json, as `shmharness schema` prints it.
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Results)).expect("schema is JSON");
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://github.com/shmharness/shmharness/schema/results.schema.json".into(),
        );
        obj.insert(
            "title".into(),
            format!("shmharness results.json (schema_version {SCHEMA_VERSION})").into(),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_schema_is_what_the_types_derive() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/results.schema.json"))
                .expect("schema/results.schema.json is JSON");
        assert!(
            committed == super::schema(),
            "schema/results.schema.json is stale: run `cargo run -- schema > schema/results.schema.json`"
        );
    }
}
