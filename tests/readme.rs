//! The README's expectation matrix is generated from the expectation table;
//! this keeps the copy honest.

use crate::util::bin;

#[test]
fn readme_expectation_matrix_matches_the_table() {
    let out = bin().arg("expectations").output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let begin = "<!-- expectations:begin -->\n";
    let start = readme.find(begin).expect("begin marker") + begin.len();
    let end = readme
        .find("<!-- expectations:end -->")
        .expect("end marker");
    assert_eq!(
        &readme[start..end],
        generated,
        "README's expectation matrix is stale: paste `shmharness expectations` between the markers"
    );
}
