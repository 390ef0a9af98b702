//! Tekton's params as its substitution sees them: the values `ParamValue` reads from JSON, and the keys
//! `getTaskParameters` (`pkg/reconciler/taskrun/resources/apply.go`) makes of them, the Task's defaults
//! first and the TaskRun's values over them.

use std::collections::BTreeMap;

use serde_json::Value;

/// Replacements keyed without `$( )`.
type Pass = BTreeMap<String, String>;

/// A param's value as Tekton reads it (`ParamValue.UnmarshalJSON` in `pkg/apis/pipeline/v1/param_types.go`):
/// a list of strings, a mapping of strings, or else a string, which for any other JSON is its text.
enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(Vec<(String, String)>),
}

impl ParamValue {
    fn of(value: &Value) -> ParamValue {
        let strings = |items: &[Value]| -> Option<Vec<String>> {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        match value {
            Value::String(text) => ParamValue::String(text.clone()),
            Value::Array(items) => match strings(items) {
                Some(items) => ParamValue::Array(items),
                None => ParamValue::String(value.to_string()),
            },
            Value::Object(fields) => {
                let fields: Option<Vec<(String, String)>> = fields
                    .iter()
                    .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect();
                match fields {
                    Some(fields) => ParamValue::Object(fields),
                    None => ParamValue::String(value.to_string()),
                }
            }
            other => ParamValue::String(other.to_string()),
        }
    }
}

/// `getTaskParameters`: the Task's defaults (`replacementsFromDefaultParams`: those without a
/// `$(params.` reference first, then those with one, each resolved against what is known by then, as
/// Tekton resolves them), then every TaskRun param over them, declared or not.
pub(super) fn params(defaults: &[Value], given: &[Value]) -> Pass {
    let mut pass = Pass::new();
    let named = |param: &Value, field: &str| -> Option<(String, ParamValue)> {
        let name = param.get("name").and_then(Value::as_str)?;
        Some((name.to_string(), ParamValue::of(param.get(field)?)))
    };
    let defaults: Vec<(String, ParamValue)> = defaults
        .iter()
        .filter_map(|param| named(param, "default"))
        .collect();
    let references = |value: &ParamValue| matches!(value, ParamValue::String(text) if text.contains("$(params."));
    for (name, value) in defaults.iter().filter(|(_, value)| !references(value)) {
        insert_param(&mut pass, name, value);
    }
    for (name, value) in &defaults {
        let ParamValue::String(text) = value else {
            continue;
        };
        if !text.contains("$(params.") {
            continue;
        }
        // Each reference is replaced in the original text, and the last one found wins: Tekton's loop
        // starts from `p.Default.StringVal` for every match.
        for reference in dot_param_references(text) {
            let Some(found) = reference
                .strip_prefix("$(params.")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|referenced| pass.get(&format!("params.{referenced}")))
            else {
                continue;
            };
            let resolved = text.replace(reference, found);
            insert_param(&mut pass, name, &ParamValue::String(resolved));
        }
    }
    for (name, value) in given.iter().filter_map(|param| named(param, "value")) {
        insert_param(&mut pass, &name, &value);
    }
    pass
}

/// The keys of one param (`replacementsFromParams`): `params.X`, `params["X"]`, `params['X']` and
/// `inputs.params.X`; with `[i]` for each element of an array; `params.X.key` for each key of an object.
fn insert_param(pass: &mut Pass, name: &str, value: &ParamValue) {
    let patterns = [
        format!("params.{name}"),
        format!("params[{name:?}]"),
        format!("params['{name}']"),
        format!("inputs.params.{name}"),
    ];
    match value {
        ParamValue::String(text) => {
            for key in patterns {
                pass.insert(key, text.clone());
            }
        }
        ParamValue::Array(items) => {
            for key in &patterns {
                for (i, item) in items.iter().enumerate() {
                    pass.insert(format!("{key}[{i}]"), item.clone());
                }
            }
        }
        ParamValue::Object(fields) => {
            for (key, item) in fields {
                pass.insert(format!("params.{name}.{key}"), item.clone());
            }
        }
    }
}

/// The `$(params.name)` references of `text` in the dot form, each up to its first `)`, as
/// `substitution.ExtractVariableExpressions` finds them for the defaults' second pass.
fn dot_param_references(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(params.") {
        let from = rest.get(start..).unwrap_or_default();
        let Some(end) = from.find(')') else {
            break;
        };
        found.push(from.get(..=end).unwrap_or_default());
        rest = from.get(end + 1..).unwrap_or_default();
    }
    found
}
