//! Plain-text tables for the terminal: columns padded to the widest cell,
//! colors applied after padding so escape codes never skew the layout.

use crate::results::Verdict;
use crate::style;

/// One cell: its text and, for verdict cells, the verdict that colors it.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub verdict: Option<Verdict>,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            verdict: None,
        }
    }

    pub fn judged(text: impl Into<String>, verdict: Verdict) -> Cell {
        Cell {
            text: text.into(),
            verdict: Some(verdict),
        }
    }
}

pub fn render(headers: &[String], rows: &[Vec<Cell>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.text.chars().count());
        }
    }
    let mut out = String::new();
    let pad = |text: &str, w: usize| {
        format!(
            "{text}{}",
            " ".repeat(w.saturating_sub(text.chars().count()))
        )
    };
    let header: Vec<String> = headers
        .iter()
        .zip(&widths)
        .map(|(h, &w)| pad(h, w))
        .collect();
    out += &style::bold(header.join("  ").trim_end());
    out.push('\n');
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                let text = if i + 1 == cols {
                    cell.text.clone()
                } else {
                    pad(&cell.text, w)
                };
                match cell.verdict {
                    Some(v) => style::verdict(v, &text),
                    None => text,
                }
            })
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}
