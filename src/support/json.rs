//! Lookups in an object's raw JSON, where a missing or mistyped field reads as empty.
//!
//! The policy edits raw JSON rather than typed objects (a typed round trip would drop fields it does not
//! know), so every module that reads an object needs these; they live here once.

use std::collections::BTreeMap;

use serde_json::Value;

/// The array at `pointer` (a JSON pointer), or an empty slice.
pub fn array<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `items` by their string `name` field, each name's in their order (items without one are left out): an
/// index for lists of workspaces, bindings or volume mounts, which a request may make thousands long.
pub fn by_name<'a>(
    items: impl IntoIterator<Item = &'a Value>,
) -> BTreeMap<&'a str, Vec<&'a Value>> {
    let mut index: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for item in items {
        if let Some(name) = item.get("name").and_then(Value::as_str) {
            index.entry(name).or_default().push(item);
        }
    }
    index
}

/// The string entries of a labels or annotations mapping (other entries are skipped), to collect into a
/// map or extend one with.
pub fn string_entries(map: Option<&Value>) -> impl Iterator<Item = (String, String)> + '_ {
    map.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
}

/// The JSON kind of a value, the way a person would name it in a message.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
