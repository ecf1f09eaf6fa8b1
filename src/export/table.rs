//! One table type, two back-ends: padded text for the terminal (colors
//! applied after padding so escape codes never skew the layout) and
//! GitHub-flavoured Markdown.

use crate::contract::Verdict;
use crate::term::style;

/// One cell: its text and, for verdict cells, the verdict that colors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub verdict: Option<Verdict>,
    /// The text is Markdown already (code spans, `<br>`), its data escaped
    /// by whoever made it; otherwise it is text, escaped in
    /// [`Table::markdown`].
    pub markup: bool,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            verdict: None,
            markup: false,
        }
    }

    pub fn judged(text: impl Into<String>, verdict: Verdict) -> Cell {
        Cell {
            text: text.into(),
            verdict: Some(verdict),
            markup: false,
        }
    }

    /// Markdown made with [`text`] and [`code`] (the terminal shows it as is).
    pub fn markup(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            verdict: None,
            markup: true,
        }
    }
}

/// Text from data, safe in Markdown and in HTML: `&`, `<`, `>` as
/// entities, which both render as the characters (GitHub would otherwise
/// take `<details>` or `<segment>` for a tag).
pub fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The same, also for an HTML attribute value in double quotes.
pub fn html(s: &str) -> String {
    text(s).replace('"', "&quot;")
}

/// A Markdown code span holding `s` as is: entities are not decoded in a
/// code span, so nothing is escaped; the fence is longer than any run of
/// backticks in `s` (and padded when `s` starts or ends with one).
pub fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.is_empty()
        || s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' '))
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// A row of plain cells.
    pub fn plain_row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Cell::plain).collect());
    }

    /// Columns padded to the widest cell, two spaces apart, no trailing
    /// blanks; the header in bold, verdict cells colored.
    pub fn terminal(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.text.chars().count());
            }
        }
        let pad = |text: &str, w: usize| {
            format!(
                "{text}{}",
                " ".repeat(w.saturating_sub(text.chars().count()))
            )
        };
        let mut out = String::new();
        let header: Vec<String> = self
            .headers
            .iter()
            .zip(&widths)
            .map(|(h, &w)| pad(h, w))
            .collect();
        out += &style::bold(header.join("  ").trim_end());
        out.push('\n');
        for row in &self.rows {
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

    /// A GitHub-flavoured Markdown table: text cells and headers with
    /// `&`, `<`, `>` escaped ([`text`]), markup cells as they are; `|`
    /// escaped and newlines as spaces in both.
    pub fn markdown(&self) -> String {
        let escape = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
        let cell = |c: &Cell| {
            if c.markup {
                escape(&c.text)
            } else {
                escape(&text(&c.text))
            }
        };
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = line(self.headers.iter().map(|h| escape(&text(h))).collect());
        out += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for row in &self.rows {
            out += &line(row.iter().map(cell).collect());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(["interpreter", "stock"]);
        t.row(vec![
            Cell::plain("3.10.13"),
            Cell::judged("bug reproduced", Verdict::Pass),
        ]);
        t.row(vec![
            Cell::plain("3.8.18"),
            Cell::judged("a|b", Verdict::Fail),
        ]);
        t
    }

    #[test]
    fn terminal_pads_columns_and_trims_the_last() {
        assert_eq!(
            sample().terminal(),
            "interpreter  stock\n3.10.13      bug reproduced\n3.8.18       a|b\n"
        );
    }

    #[test]
    fn markdown_escapes_html_in_text_cells_and_headers_not_in_markup() {
        let mut t = Table::new(["id <b>"]);
        t.plain_row(["3.12|x <b>bold & <details>"]);
        t.row(vec![Cell::markup(format!(
            "{}<br>{}",
            code("a<b"),
            text("<x>")
        ))]);
        assert_eq!(
            t.markdown(),
            "| id &lt;b&gt; |\n|---|\n| 3.12\\|x &lt;b&gt;bold &amp; &lt;details&gt; |\n| `a<b`<br>&lt;x&gt; |\n"
        );
    }

    #[test]
    fn code_spans_hold_backticks_and_html_as_is() {
        assert_eq!(code("patch:x"), "`patch:x`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a``"), "``` `a`` ```");
        assert_eq!(code("<b> & c"), "`<b> & c`");
        assert_eq!(code("two\nlines"), "`two lines`");
        assert_eq!(html("a\"<&>"), "a&quot;&lt;&amp;&gt;");
    }

    #[test]
    fn markdown_escapes_pipes() {
        assert_eq!(
            sample().markdown(),
            "| interpreter | stock |\n|---|---|\n| 3.10.13 | bug reproduced |\n| 3.8.18 | a\\|b |\n"
        );
    }
}
