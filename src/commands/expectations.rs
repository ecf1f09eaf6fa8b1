//! `shmharness expectations`: the expectation table as a scenario x variant
//! matrix. The README embeds the Markdown form; a test keeps them in sync.

use crate::cli::Format;
use crate::commands::error::Result;
use crate::contract::StartMethod;
use crate::export::table::Table;
use crate::judge::expectations::EXPECTATIONS;
use crate::overlay::variant::{self, Variant};
use crate::scenario::catalogue;

/// Cell text: the outcome and its symptom keys, one part per row (with the
/// versions and start methods it is for, when it is not for all).
fn cell(scenario: crate::contract::ScenarioId, variant: &Variant) -> String {
    let mut parts = Vec::new();
    if let Some((maj, min)) = variant.min_version {
        parts.push(format!("n/a below {maj}.{min}"));
    }
    let Some(id) = variant.id else {
        return "-".into();
    };
    for row in EXPECTATIONS
        .iter()
        .filter(|r| r.scenario == scenario && r.variants.contains(&id))
    {
        let mut when = Vec::new();
        if row.versions != variant::MinorRange::ALL {
            when.push(row.versions.label());
        }
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
        parts.push(format!("{when}{} ({symptoms})", row.outcome));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

pub fn run(format: Format) -> Result<u8> {
    let variants = variant::catalogue();
    let mut headers = vec!["scenario".to_string()];
    headers.extend(variants.iter().map(|v| v.name.clone()));
    let mut table = Table::new(headers);
    for s in catalogue::visible() {
        table.plain_row(
            std::iter::once(s.name().to_string()).chain(variants.iter().map(|v| cell(s.id, v))),
        );
    }
    match format {
        Format::Markdown => crate::term::style::out(&table.markdown()),
        Format::Table => crate::term::style::out(&table.terminal()),
        Format::Json => {
            let json: Vec<serde_json::Value> = EXPECTATIONS
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "scenario": r.scenario,
                        "variants": r.variants,
                        "from": r.versions.from,
                        "to": r.versions.to,
                        "start_methods": r.start_methods,
                        "feature": r.feature.map(|(f, present)| serde_json::json!({"feature": f, "present": present})),
                        "outcome": r.outcome,
                        "evidence": r.evidence,
                        "symptoms": r.symptoms,
                    })
                })
                .collect();
            crate::term::style::outln(&serde_json::to_string_pretty(&json).expect("JSON"));
        }
    }
    Ok(crate::commands::exit::OK)
}
