//! `shmharness expectations`: the expectation table as a scenario x variant
//! matrix. The README embeds the Markdown form; a test keeps them in sync.

use anyhow::Result;

use super::Exit;
use crate::cli::Format;
use crate::judge::expectations::EXPECTATIONS;
use crate::report::markdown;
use crate::report::table::{self, Cell};
use crate::scenario::catalogue;
use crate::variant;

/// Cell text: the outcome and its symptom keys, one line per version range.
fn cell(scenario: &str, variant: &variant::Variant) -> String {
    let mut parts = Vec::new();
    if let Some((maj, min)) = variant.min_version {
        parts.push(format!("n/a below {maj}.{min}"));
    }
    for row in EXPECTATIONS
        .iter()
        .filter(|r| r.scenario == scenario && r.variants.contains(&variant.name.as_str()))
    {
        let range = match (row.from, row.to) {
            (None, None) => String::new(),
            (f, t) => format!(
                "{}-{}: ",
                f.map(|(a, b)| format!("{a}.{b}")).unwrap_or_default(),
                t.map(|(a, b)| format!("{a}.{b}")).unwrap_or_default()
            ),
        };
        let symptoms = if row.symptoms.is_empty() {
            "no symptom".to_string()
        } else {
            row.symptoms.join(", ")
        };
        parts.push(format!("{range}{} ({symptoms})", row.outcome));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

pub fn run(format: Format) -> Result<Exit> {
    let variants = variant::catalogue();
    let mut headers = vec!["scenario".to_string()];
    headers.extend(variants.iter().map(|v| v.name.clone()));
    let rows: Vec<Vec<String>> = catalogue::SCENARIOS
        .iter()
        .filter(|s| !s.hidden)
        .map(|s| {
            std::iter::once(s.name.to_string())
                .chain(variants.iter().map(|v| cell(s.name, v)))
                .collect()
        })
        .collect();
    match format {
        Format::Markdown => print!("{}", markdown::table(&headers, &rows)),
        Format::Json => {
            let json: Vec<serde_json::Value> = EXPECTATIONS
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "scenario": r.scenario, "variants": r.variants, "from": r.from, "to": r.to,
                        "outcome": r.outcome, "evidence": r.evidence, "symptoms": r.symptoms,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Table => {
            let rows: Vec<Vec<Cell>> = rows
                .into_iter()
                .map(|r| r.into_iter().map(Cell::plain).collect())
                .collect();
            print!("{}", table::render(&headers, &rows));
        }
    }
    Ok(Exit::SUCCESS)
}
