//! Reading `tests/data/cases.json` and checking a generated gradient against it.

use serde_json::Value;

/// Calls a case's generated gradient on the arguments; returns the value and the gradient as a
/// flat list in parameter order.
pub type Case = fn(&[f64]) -> (f64, Vec<f64>);

/// The tolerance of the acceptance tests: `1e-12` relative, or `1e-12` absolute for expected
/// values below 1 in size.
const TOLERANCE: f64 = 1e-12;

fn cases() -> Vec<Value> {
    let text = include_str!("../data/cases.json");
    match serde_json::from_str(text) {
        Ok(Value::Array(cases)) => cases,
        other => panic!("tests/data/cases.json is not a JSON list: {other:?}"),
    }
}

fn case(id: &str) -> Value {
    let found = cases().into_iter().find(|c| c["id"] == id);
    found.unwrap_or_else(|| panic!("no case `{id}` in tests/data/cases.json"))
}

/// The numbers of a JSON value, nested lists flattened in order (row-major for arrays).
fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => vec![other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}"))],
    }
}

fn close(got: f64, expected: f64) -> bool {
    (got - expected).abs() <= TOLERANCE * expected.abs().max(1.0)
}

/// Checks every point of case `id` against the generated gradient registered for it.
pub fn check_case(id: &str, covered: &[(&str, Case)]) {
    let call = covered.iter().find(|(c, _)| *c == id).map(|(_, f)| *f);
    let call = call.unwrap_or_else(|| panic!("case `{id}` has no generated gradient"));
    let case = case(id);
    let points = case["points"].as_array().cloned().unwrap_or_default();
    assert!(!points.is_empty(), "case `{id}` has no points");
    for point in points {
        let args = numbers(&point["args"]);
        let expected_value = point["value"].as_f64().unwrap_or(f64::NAN);
        let expected_grad = numbers(&point["grad"]);
        let (value, grad) = call(&args);
        assert!(
            close(value, expected_value),
            "{id} at {args:?}: value {value}, expected {expected_value}"
        );
        assert_eq!(grad.len(), expected_grad.len(), "{id}: gradient length");
        for (k, (g, e)) in grad.iter().zip(&expected_grad).enumerate() {
            assert!(
                close(*g, *e),
                "{id} at {args:?}: ∂/∂arg{k} = {g}, expected {e}"
            );
        }
    }
}

/// Every case of the JSON is either covered here or listed as not yet covered, and no case is
/// both.
pub fn every_case_is_covered_or_listed(covered: &[(&str, Case)], not_yet: &[&str]) {
    for case in cases() {
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let is_covered = covered.iter().any(|(c, _)| *c == id);
        let is_listed = not_yet.contains(&id.as_str());
        assert!(
            is_covered != is_listed,
            "case `{id}`: covered {is_covered}, listed {is_listed}"
        );
    }
}

/// Each covered case's `rust` text appears in the test file, up to white space (rustfmt may
/// break its lines differently).
pub fn sources_match(file: &str, covered: &[(&str, Case)]) {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let file = squeeze(file);
    for (id, _) in covered {
        let source = squeeze(case(id)["rust"].as_str().unwrap_or_default());
        let found = file.contains(&source);
        assert!(found, "the source of case `{id}` differs from the JSON");
    }
}
