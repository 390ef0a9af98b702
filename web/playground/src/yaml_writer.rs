//! Writes JSON values as block YAML, the way people write Kubernetes objects: the playground shows the
//! objects the policy returns as their author would write them. Only the page needs this, so it lives here
//! and not in the policy crate.

use pipelinerun_sidecars::support::yaml::read;
use serde_json::{Map, Value};

/// Writes a value as block YAML, the way people write Kubernetes objects: for the playground, which shows
/// objects as the author would write them. Strings stay strings when read back under the core schema
/// (the policy's reader gives the same value): a string that would read as another type, or that holds characters a
/// plain scalar cannot, is double-quoted (JSON's escapes are YAML's); a multi-line one is a literal block.
pub fn write(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        Value::Object(entries) if !entries.is_empty() => mapping(&mut out, entries, 0),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

/// `name` first, as people write a container or a list entry; serde_json keeps the other keys sorted.
fn mapping(out: &mut String, entries: &Map<String, Value>, indent: usize) {
    let name = entries.get_key_value("name");
    let rest = entries.iter().filter(|(key, _)| key.as_str() != "name");
    for (key, value) in name.into_iter().chain(rest) {
        out.push_str(&" ".repeat(indent));
        out.push_str(&if is_plain(key) {
            key.clone()
        } else {
            quoted(key)
        });
        out.push(':');
        nested(out, value, indent + 2);
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        nested(out, item, indent + 2);
    }
}

/// What follows `key:` or `-`: a collection on the next lines (a list item's mapping starts on the dash's
/// line, as kubectl writes it), or a scalar after a space.
fn nested(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(entries) if !entries.is_empty() => {
            if out.ends_with('-') {
                let mut item = String::new();
                mapping(&mut item, entries, indent);
                out.push(' ');
                out.push_str(item.get(indent..).unwrap_or_default());
            } else {
                out.push('\n');
                mapping(out, entries, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(out, items, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar, indent));
            out.push('\n');
        }
    }
}

fn inline(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// A string as a plain scalar when it reads back as itself, as a literal block when it has several lines,
/// and double-quoted otherwise.
fn string(text: &str, indent: usize) -> String {
    if is_plain(text) {
        return text.to_string();
    }
    if let Some(block) = literal(text, indent) {
        return block;
    }
    quoted(text)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// YAML 1.1 booleans: Kubernetes reads YAML with a 1.1 parser, so these are quoted even though the core
/// schema reads them as strings.
const YAML_1_1_BOOLEANS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

fn is_plain(text: &str) -> bool {
    let starts_clean = text
        .chars()
        .next()
        .is_some_and(|c| !"-?:,[]{}#&*!|>'\"%@` \t+.".contains(c) && !c.is_ascii_digit());
    starts_clean
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\t', ',', '[', ']', '{', '}'])
        && text.chars().all(|c| !c.is_control() && c != '\u{feff}')
        && !YAML_1_1_BOOLEANS.contains(&text)
        && reads_back_as_itself(text)
}

/// `|`, `|-` or `|+` and the lines, when a literal block gives the text back exactly: lines without
/// control characters, and a first line that does not start with a space (it would set the indentation).
fn literal(text: &str, indent: usize) -> Option<String> {
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let clean = body.contains('\n')
        && !body.starts_with([' ', '\n'])
        && body
            .chars()
            .all(|c| c == '\n' || !c.is_control() && c != '\u{feff}')
        && !body.contains(" \n");
    if !clean {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut block = format!("|{chomp}");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        block.push('\n');
        if !line.is_empty() {
            block.push_str(&pad);
            block.push_str(line);
        }
    }
    Some(block)
}

/// Whether the policy's reader gives `text` back as that same string when it is written as a plain scalar
/// (not a number, a boolean or null under the core schema).
fn reads_back_as_itself(text: &str) -> bool {
    read(text).is_ok_and(|value| value.as_str() == Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::{Number, json};

    #[rstest]
    #[case::container(
        json!({"name": "sidecar-db", "image": "postgres:14", "env": [{"name": "A", "value": "1"}], "args": [], "resources": {}}),
        "name: sidecar-db\nargs: []\nenv:\n  - name: A\n    value: \"1\"\nimage: postgres:14\nresources: {}\n"
    )]
    #[case::would_read_as_another_type(
        json!(["true", "yes", "on", "null", "~", "12", "1.22", "0x1F", ".5", "", "ok"]),
        "- \"true\"\n- \"yes\"\n- \"on\"\n- \"null\"\n- \"~\"\n- \"12\"\n- \"1.22\"\n- \"0x1F\"\n- \".5\"\n- \"\"\n- ok\n"
    )]
    #[case::indicators(
        json!(["-x", "#c", "x #y", "a: b", "a:", "*ref", "{x}", "tab\there", "k8s.io/name: x"]),
        "- \"-x\"\n- \"#c\"\n- \"x #y\"\n- \"a: b\"\n- \"a:\"\n- \"*ref\"\n- \"{x}\"\n- \"tab\\there\"\n- \"k8s.io/name: x\"\n"
    )]
    #[case::literal_blocks(
        json!({"clip": "set -e\necho hi\n", "strip": "a\n\n  b", "keep": "a\nb\n\n", "quoted": " lead\nx"}),
        "clip: |\n  set -e\n  echo hi\nkeep: |+\n  a\n  b\n\nquoted: \" lead\\nx\"\nstrip: |-\n  a\n\n    b\n"
    )]
    #[case::lists_in_lists(json!([[1, [2]], {"a": [{"b": null}]}]), "-\n  - 1\n  -\n    - 2\n- a:\n    - b: null\n")]
    #[case::odd_keys(json!({"a: b": 1, "": 2, "multi\nline": 3}), "\"\": 2\n\"a: b\": 1\n\"multi\\nline\": 3\n")]
    #[case::scalar(json!("x"), "x\n")]
    fn writes_yaml_as_people_write_it(#[case] value: Value, #[case] expected: &str) {
        assert_eq!(write(&value), expected);
        assert_eq!(read(expected), Ok(value));
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter_map("JSON has no NaN or infinity", Number::from_f64)
                .prop_map(Value::Number),
            "[ -~\n\t#:'\"|>\u{e9}\u{1F600}]{0,16}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[ -~\n]{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn what_is_written_reads_back(value in any_json()) {
            let text = write(&value);
            proptest::prop_assert_eq!(read(&text), Ok(value), "{}", text);
        }
    }
}
