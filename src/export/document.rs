//! Outputs that are not a results set (the interpreters `list` found, the
//! expectation table): one or more tables and the same facts as JSON,
//! rendered in every `--format` like the results are.

use super::Format;
use super::table::Table;

/// What a command prints: its tables, and its JSON form.
pub struct Document {
    pub tables: Vec<Table>,
    /// The same facts as pretty JSON (see [`Document::new`]).
    json: String,
}

impl Document {
    /// Tables, and `facts` as JSON.
    pub fn new(tables: Vec<Table>, facts: &impl serde::Serialize) -> Document {
        Document {
            tables,
            json: serde_json::to_string_pretty(facts).expect("facts serialise"),
        }
    }

    /// The document in `format`: aligned tables, Markdown tables, or JSON.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => format!("{}\n", self.json),
            Format::Table => join(self.tables.iter().map(Table::terminal)),
            Format::Markdown => join(self.tables.iter().map(Table::markdown)),
        }
    }
}

/// Tables one after the other, a blank line between them.
fn join(tables: impl Iterator<Item = String>) -> String {
    tables.collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        let mut a = Table::new(["interpreter", "source"]);
        a.plain_row(["3.12.1", "pyenv"]);
        let mut b = Table::new(["rejected", "reason"]);
        b.plain_row(["/x/python3", "a | pipe"]);
        Document::new(vec![a, b], &serde_json::json!({"interpreters": ["3.12.1"]}))
    }

    #[test]
    fn every_format_renders_every_table() {
        crate::term::style::init(crate::term::style::ColorChoice::Never);
        let md = doc().render(Format::Markdown);
        assert!(md.starts_with("| interpreter | source |\n|"), "{md}");
        assert!(md.contains("\n\n| rejected | reason |"), "{md}");
        assert!(md.contains(r"a \| pipe"), "a cell's pipe is escaped: {md}");
        let table = doc().render(Format::Table);
        assert!(table.starts_with("interpreter  source"), "{table}");
        assert!(
            !table.contains('|') || table.contains("a | pipe"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&doc().render(Format::Json)).unwrap();
        assert_eq!(json["interpreters"][0], "3.12.1");
    }
}
