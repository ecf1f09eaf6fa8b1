//! shmharness: reproduce CPython's shared_memory resource-tracker bug
//! (gh-82300) on every installed Python, stock vs patched, and judge a fix.
//!
//! The pipeline, one direction, one folder per stage:
//!
//! discover (`discover`) -> select -> prepare overlays (`overlay`) -> run
//! cases (`run`, on the `scenario` catalogue) -> observe (`scenario`) ->
//! judge (`judge`) -> export (`export`: table, JSON, Markdown, JUnit,
//! bundle). CPython's own tests run on the same overlays
//! (`cpython_tests`).
//!
//! `contract` holds every type that reaches results.json or a renderer and
//! depends on nothing else here. `host` is what every stage asks of the
//! operating system (processes, segments, ledgers, signals); `term` is the
//! terminal. `commands` turns parsed arguments (`cli`) into that pipeline;
//! `main.rs` only calls [`main`]; nothing else is public.

mod cli;
mod commands;
mod contract;
mod cpython_tests;
mod discover;
mod export;
mod host;
mod judge;
mod overlay;
mod run;
mod scenario;
mod term;

pub use commands::main;

/// The catalogues' names, for integration tests that iterate over every
/// scenario or variant (what each one shows is observed, never read from
/// here).
pub mod catalogue {
    /// Every built-in variant, in display order.
    pub fn variants() -> Vec<&'static str> {
        crate::contract::VariantId::ALL
            .iter()
            .map(|v| v.name())
            .collect()
    }
}

#[cfg(test)]
mod layout {
    //! The house shows its pipeline: at most twelve top-level modules, and
    //! no two of them that use each other, however indirectly (tests
    //! included: a test that reaches up a stage is a cycle too).

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Top-level module -> the top-level modules its files name as
    /// `crate::x`.
    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let word = regex::Regex::new(r"crate::(\w+)").unwrap();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let top = rel.iter().next().unwrap().to_string_lossy();
            let top = top.trim_end_matches(".rs").to_string();
            if top == "lib" || top == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = graph.entry(top.clone()).or_default();
            for c in word.captures_iter(&text) {
                if c[1] != top {
                    deps.insert(c[1].to_string());
                }
            }
        }
        graph
    }

    #[test]
    fn src_has_at_most_twelve_modules() {
        let g = graph();
        assert!(g.len() <= 12, "{} modules: {:?}", g.len(), g.keys());
        assert!(g.contains_key("contract") && g["contract"].is_empty());
    }

    #[test]
    fn no_module_uses_one_that_uses_it() {
        let g = graph();
        // Depth-first search; a module met again on its own path is a cycle.
        fn visit(
            g: &BTreeMap<String, BTreeSet<String>>,
            m: &str,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if let Some(at) = path.iter().position(|p| p == m) {
                panic!("module cycle: {} -> {m}", path[at..].join(" -> "));
            }
            if !done.insert(m.to_string()) {
                return;
            }
            path.push(m.to_string());
            for d in g.get(m).into_iter().flatten() {
                visit(g, d, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for m in g.keys() {
            visit(&g, m, &mut Vec::new(), &mut done);
        }
    }
}
