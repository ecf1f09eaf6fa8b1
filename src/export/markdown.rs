//! Markdown (GitHub-flavoured) rendering of the outcome matrix: what goes
//! to `$GITHUB_STEP_SUMMARY`.

use crate::results::Results;

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n",
        headers
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    out += &format!("|{}\n", "---|".repeat(headers.len()));
    for row in rows {
        out += &format!(
            "| {} |\n",
            row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    out
}

pub fn matrix(results: &Results) -> String {
    let (headers, rows) = super::matrix(results);
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.text).collect())
        .collect();
    format!(
        "{}\n{}\n",
        table(&headers, &rows),
        super::summary_line(results)
    )
}
