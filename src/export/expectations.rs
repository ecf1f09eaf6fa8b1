//! The expectation table as a document: a scenario x variant matrix whose
//! cells say the outcome and its symptom keys (the README embeds the
//! Markdown form; a test keeps the two equal), and the rows as JSON.

use super::document::Document;
use super::table::Table;
use serde::Serialize;

use crate::contract::{Feature, ScenarioId, StartMethod, Usage, VariantId};
use crate::judge::expectations::{EXPECTATIONS, Expectation};
use crate::overlay::variant::{self, Variant};
use crate::scenario::catalogue;

/// Every visible scenario against every built-in variant (default usage),
/// then stock under each other usage.
pub fn document() -> Document {
    let mut columns: Vec<(Variant, Usage)> = variant::catalogue()
        .into_iter()
        .map(|v| (v, Usage::Default))
        .collect();
    for &u in &Usage::ALL[1..] {
        columns.push((variant::builtin(VariantId::Stock), u));
    }
    let mut headers = vec!["scenario".to_string()];
    headers.extend(columns.iter().map(|(v, u)| match u {
        Usage::Default => v.name.clone(),
        u => format!("{} --usage {u}", v.name),
    }));
    let mut table = Table::new(headers);
    for s in catalogue::visible() {
        table.plain_row(
            std::iter::once(s.name().to_string())
                .chain(columns.iter().map(|(v, u)| cell(s.id, v, *u))),
        );
    }
    let rows: Vec<Row> = EXPECTATIONS.iter().map(Row::of).collect();
    Document::new(vec![table], &rows)
}

/// One expectation row as `expectations --format json` prints it.
#[derive(Serialize)]
struct Row {
    scenario: ScenarioId,
    variants: &'static [VariantId],
    usage: Usage,
    also_stock: &'static [Usage],
    start_methods: &'static [StartMethod],
    feature: Option<FeatureCondition>,
    outcome: &'static str,
    evidence: &'static str,
    symptoms: &'static [&'static str],
}

#[derive(Serialize)]
struct FeatureCondition {
    feature: Feature,
    present: bool,
}

impl Row {
    fn of(r: &Expectation) -> Row {
        Row {
            scenario: r.scenario,
            variants: r.variants,
            usage: r.usage,
            also_stock: r.also_stock,
            start_methods: r.start_methods,
            feature: r
                .feature
                .map(|(feature, present)| FeatureCondition { feature, present }),
            outcome: r.outcome,
            evidence: r.evidence,
            symptoms: r.symptoms,
        }
    }
}

/// Cell text: the outcome and its symptom keys, one part per row (with the
/// start methods and stdlib feature it is for, when it is not for all).
fn cell(scenario: ScenarioId, variant: &Variant, usage: Usage) -> String {
    let Some(id) = variant.id else {
        return "-".into();
    };
    let rows: Vec<&Expectation> = EXPECTATIONS
        .iter()
        .filter(|r| r.scenario == scenario && r.is_for(id, usage))
        .collect();
    let mut parts = Vec::new();
    // Where the roles can pass track=, it is still n/a on a stdlib without it.
    if usage == Usage::TrackFalse && rows.iter().all(|r| r.applies()) {
        parts.push("n/a where SharedMemory has no track parameter".to_string());
    }
    parts.extend(rows.into_iter().map(part));
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

/// One row: `fork with tracker-fork-handler: bug reproduced (P1 ...)`.
fn part(row: &Expectation) -> String {
    if !row.applies() {
        return format!("n/a: {}", row.evidence);
    }
    let mut when = Vec::new();
    if let Some((feature, present)) = row.feature {
        when.push(format!(
            "{}{feature}",
            if present { "with " } else { "without " }
        ));
    }
    if !row.start_methods.is_empty() {
        let names: Vec<&str> = row
            .start_methods
            .iter()
            .map(|m| StartMethod::name(*m))
            .collect();
        when.push(names.join("/"));
    }
    let when = if when.is_empty() {
        String::new()
    } else {
        format!("{}: ", when.join(" "))
    };
    let symptoms = if row.symptoms.is_empty() {
        "no symptom".to_string()
    } else {
        row.symptoms.join(", ")
    };
    format!("{when}{} ({symptoms})", row.outcome)
}
