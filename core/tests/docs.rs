#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The README's lists of codes are checked against the core's tables, so the
//! docs cannot drift from what every host reports.

use carbon_tracker_core::{ErrorCode, TransitionCode, RECORD_FIELDS};

const README: &str = include_str!("../../README.md");

#[test]
fn the_readme_names_every_code_and_field() {
    let named = |word: &str| README.contains(&format!("`{word}`"));
    for code in ErrorCode::ALL {
        assert!(
            named(code.as_str()),
            "README.md does not name the error code `{code}`"
        );
    }
    for code in TransitionCode::ALL {
        assert!(
            named(code.as_str()),
            "README.md does not name the transition code `{}`",
            code.as_str()
        );
    }
    for field in RECORD_FIELDS {
        assert!(
            README.contains(field),
            "README.md does not name the field {field}"
        );
    }
}

#[test]
fn the_tables_have_no_duplicates() {
    let errors: std::collections::HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(errors.len(), ErrorCode::ALL.len());
    let transitions: std::collections::HashSet<_> =
        TransitionCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(transitions.len(), TransitionCode::ALL.len());
}
