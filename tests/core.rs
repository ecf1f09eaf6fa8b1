//! Issue 2: the core harness end to end on real interpreters.

use crate::util::*;

#[test]
fn three_process_reproduces_on_stock_and_is_fixed_by_create_only() {
    let Some(py) = python("3.10") else { return };
    let (code, json) = run_json(&["run", "--python", py.to_str().unwrap()]);
    assert_eq!(code, 0, "{json:#}");
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let stock = cases.iter().find(|c| c["variant"] == "stock").unwrap();
    assert_eq!(stock["outcome"], "bug reproduced");
    let p3 = stock["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "P3")
        .unwrap();
    assert_eq!(p3["exit_code"], 1);
    assert_eq!(p3["exception"], "FileNotFoundError");
    let fixed = cases
        .iter()
        .find(|c| c["variant"] == "create-only")
        .unwrap();
    assert_eq!(fixed["outcome"], "fixed");
}
