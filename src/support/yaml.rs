//! Declarations are YAML (JSON is YAML): read here into JSON values, in one pass over the events of
//! granit-parser.
//!
//! granit-parser is the parser of serde-saphyr: pure Rust (no C libyaml to build for wasm32-wasip1),
//! maintained, made to be panic-free on hostile input, and its errors carry the line and column. The
//! deprecated serde_yaml and its forks serde_yaml_ng and serde_norway only cap recursion and alias
//! repetition (an alias bomb is expanded up to the cap before it fails) and keep the last of two equal
//! keys without a word. serde-saphyr refuses both, but its serde layer doubles the cost of parsing, and a
//! declaration is read at every admission. So this module builds the value itself from the parser's
//! events and enforces the same kind of budget: a declaration needs little nesting, few anchors and no
//! second document, and an alias expansion is counted before it is copied, so a bomb is refused, not
//! expanded.

use std::collections::BTreeMap;

use granit_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

/// The deepest nesting a declaration may use (a sidecar's deepest field is about eight levels down).
pub(crate) const MAX_DEPTH: usize = 32;
/// The most aliases (`*name`) in one declaration.
pub(crate) const MAX_ALIASES: usize = 100;
/// The most anchors (`&name`) in one declaration.
pub(crate) const MAX_ANCHORS: usize = 100;
/// The most values a declaration may hold once its aliases are expanded.
pub(crate) const MAX_NODES: usize = 100_000;
/// The most text (scalars and keys, in bytes) that aliases may copy into one declaration. Without it one
/// anchored 200 KB string and a hundred aliases to it would become 20 MB of sidecar, and a 20 MB patch.
pub(crate) const MAX_ALIAS_BYTES: usize = 64 * 1024;

/// The core-schema tag prefix that `!!` stands for.
const CORE: &str = "tag:yaml.org,2002:";

/// Reads one YAML document into a JSON value; the error says where and what, on one line.
pub fn read(text: &str) -> Result<Value, String> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| {
            let at = err.marker();
            format!("line {} column {}: {}", at.line(), at.col() + 1, err.kind())
        })?;
        builder.event(event).map_err(|message| {
            format!(
                "line {} column {}: {message}",
                span.start.line(),
                span.start.col() + 1
            )
        })?;
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

/// Reads an annotation value or a pasted text: YAML (JSON is YAML) into a JSON value, within the budget
/// above; blank text is null, and the error reads as the end of a sentence about the text.
pub fn read_document(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    read(text).map_err(|message| format!("is not valid YAML or JSON: {message}"))
}

/// How much a value holds: what an alias to it adds to the declaration.
#[derive(Debug, Default, Clone, Copy)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn since(self, start: Size) -> Size {
        Size {
            nodes: self.nodes.saturating_sub(start.nodes),
            bytes: self.bytes.saturating_sub(start.bytes),
        }
    }
}

/// A collection being built, with the size of the declaration when it started.
enum Open {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
        start: Size,
    },
    Mapping {
        entries: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
        start: Size,
    },
}

#[derive(Default)]
struct Builder {
    open: Vec<Open>,
    /// Each anchor's value and size.
    anchors: BTreeMap<usize, (Value, Size)>,
    aliases: usize,
    /// What the declaration holds so far, aliases expanded.
    size: Size,
    /// The text aliases have copied so far.
    alias_bytes: usize,
    documents: usize,
    root: Option<Value>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err("holds more than one YAML document; declare one list".to_string());
                }
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.expect_collection_tag(tag.as_deref(), "seq")?;
                self.open(Open::Sequence {
                    items: Vec::new(),
                    anchor,
                    start: self.size,
                })?;
            }
            Event::MappingStart(_, anchor, tag) => {
                self.expect_collection_tag(tag.as_deref(), "map")?;
                self.open(Open::Mapping {
                    entries: Map::new(),
                    key: None,
                    anchor,
                    start: self.size,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, start) = match self.open.pop() {
                    Some(Open::Sequence {
                        items,
                        anchor,
                        start,
                    }) => (Value::Array(items), anchor, start),
                    Some(Open::Mapping {
                        entries,
                        anchor,
                        start,
                        ..
                    }) => (Value::Object(entries), anchor, start),
                    None => return Err("a collection ends that never started".to_string()),
                };
                self.remember(anchor, &value, self.size.since(start))?;
                self.place(value, None)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let size = Size {
                    nodes: 1,
                    bytes: text.len(),
                };
                self.count(size)?;
                let value = scalar(&text, style, tag.as_deref())?;
                self.remember(anchor, &value, size)?;
                self.place(value, Some(&text))?;
            }
            Event::Alias(anchor) => {
                self.aliases += 1;
                if self.aliases > MAX_ALIASES {
                    return Err(expansion_refused());
                }
                let (value, size) = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or("an alias refers to no anchor")?;
                self.alias_bytes = self.alias_bytes.saturating_add(size.bytes);
                if self.alias_bytes > MAX_ALIAS_BYTES {
                    return Err(expansion_refused());
                }
                self.count(size)?;
                let key = value.as_str().map(str::to_string);
                self.place(value, key.as_deref())?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(format!("the alias *{name} refers to no anchor"));
            }
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, collection: Open) -> Result<(), String> {
        if self.open.len() >= MAX_DEPTH {
            return Err(format!(
                "nests deeper than the {MAX_DEPTH} levels a sidecar declaration may use"
            ));
        }
        if let Some(Open::Mapping { key: None, .. }) = self.open.last() {
            return Err("a mapping key must be a plain value, not a list or a mapping".to_string());
        }
        self.count(Size { nodes: 1, bytes: 0 })?;
        self.open.push(collection);
        Ok(())
    }

    /// Counts values as they are made or copied by an alias, before the copy is made.
    fn count(&mut self, added: Size) -> Result<(), String> {
        self.size.nodes = self.size.nodes.saturating_add(added.nodes);
        self.size.bytes = self.size.bytes.saturating_add(added.bytes);
        if self.size.nodes > MAX_NODES {
            Err(expansion_refused())
        } else {
            Ok(())
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value, size: Size) -> Result<(), String> {
        if anchor == 0 {
            return Ok(());
        }
        if self.anchors.len() >= MAX_ANCHORS {
            return Err(expansion_refused());
        }
        self.anchors.insert(anchor, (value.clone(), size));
        Ok(())
    }

    /// Puts a finished value where it belongs: the root, the next list item, a mapping key or its value.
    /// `text` is the value as written, which a mapping key keeps.
    fn place(&mut self, value: Value, text: Option<&str>) -> Result<(), String> {
        match self.open.last_mut() {
            None => self.root = Some(value),
            Some(Open::Sequence { items, .. }) => items.push(value),
            Some(Open::Mapping { entries, key, .. }) => match key.take() {
                Some(name) => {
                    entries.insert(name, value);
                }
                None => {
                    let name =
                        text.ok_or("a mapping key must be a plain value, not a list or a mapping")?;
                    if entries.contains_key(name) {
                        return Err(format!("the key {name:?} appears twice in one mapping"));
                    }
                    *key = Some(name.to_string());
                }
            },
        }
        Ok(())
    }

    fn expect_collection_tag(&self, tag: Option<&Tag>, kind: &str) -> Result<(), String> {
        match tag {
            None => Ok(()),
            Some(tag) if tag.handle() == CORE && tag.suffix() == kind => Ok(()),
            Some(tag) => Err(unsupported(tag)),
        }
    }
}

fn expansion_refused() -> String {
    format!(
        "its YAML anchors and aliases expand beyond what a sidecar declaration needs (at most {MAX_ANCHORS} anchors, {MAX_ALIASES} aliases, {MAX_NODES} values and {} KiB copied by aliases), so it is refused rather than expanded",
        MAX_ALIAS_BYTES / 1024
    )
}

fn unsupported(tag: &Tag) -> String {
    let shown = if tag.handle() == CORE {
        format!("!!{}", tag.suffix())
    } else {
        format!("{}{}", tag.handle(), tag.suffix())
    };
    format!("the YAML tag {shown} is not supported here; write the value without it")
}

/// A scalar's value under the YAML 1.2 core schema: a quoted or block scalar is a string; a plain one is
/// null, a boolean, an integer or a float when it is spelt as one, and a string otherwise. A core tag
/// (`!!str`, `!!int`...) decides instead.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            plain(text)
        } else {
            Value::String(text.to_string())
        });
    };
    if tag.handle() != CORE {
        return Err(unsupported(tag));
    }
    let resolved = plain(text);
    let fits = match tag.suffix() {
        "str" => return Ok(Value::String(text.to_string())),
        "null" => resolved.is_null(),
        "bool" => resolved.is_boolean(),
        "int" => resolved.is_i64() || resolved.is_u64(),
        "float" => resolved.is_number(),
        _ => return Err(unsupported(tag)),
    };
    if fits {
        Ok(resolved)
    } else {
        Err(format!("{text:?} is not a valid !!{}", tag.suffix()))
    }
}

fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    integer(text)
        .or_else(|| float(text))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`.
fn integer(text: &str) -> Option<Value> {
    let (radix, digits) = match (text.strip_prefix("0o"), text.strip_prefix("0x")) {
        (Some(octal), _) => (8, octal),
        (_, Some(hex)) => (16, hex),
        _ => (10, text.strip_prefix('+').unwrap_or(text)),
    };
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    if unsigned.is_empty()
        || !unsigned.chars().all(|c| c.is_digit(radix))
        || (radix != 10 && unsigned != digits)
    {
        return None;
    }
    match i64::from_str_radix(digits, radix) {
        Ok(n) => Some(Value::Number(n.into())),
        Err(_) => u64::from_str_radix(digits, radix)
            .ok()
            .map(|n| Value::Number(n.into()))
            .or_else(|| float(digits)),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`. Infinities and NaN have no JSON form: they stay
/// strings, which every numeric field then refuses.
fn float(text: &str) -> Option<Value> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let valid = digits(whole)
        && digits(fraction)
        && (!whole.is_empty() || !fraction.is_empty())
        && exponent.is_none_or(|e| !e.is_empty() && digits(e));
    if !valid {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;
    use std::fmt::Write as _;

    #[rstest]
    #[case::block("- name: db\n  image: postgres:14\n  env:\n    - {name: A, value: '1'}\n", json!([{"name": "db", "image": "postgres:14", "env": [{"name": "A", "value": "1"}]}]))]
    #[case::json(r#"[{"name": "db", "ports": [{"containerPort": 5432}]}]"#, json!([{"name": "db", "ports": [{"containerPort": 5432}]}]))]
    #[case::core_schema("[~, null, true, False, 12, -3, +4, 0o17, 0x1F, 1.5, .5, 1e3, 0755, yes, no, on, 1_000, .inf, '12', \"true\", !!str 12, !!int '7']",
        json!([null, null, true, false, 12, -3, 4, 15, 31, 1.5, 0.5, 1000.0, 755, "yes", "no", "on", "1_000", ".inf", "12", "true", "12", 7]))]
    #[case::literal_block("script: |\n  set -e\n  echo hi\n", json!({"script": "set -e\necho hi\n"}))]
    #[case::anchors("base: &b {image: redis}\ncopy: *b\n", json!({"base": {"image": "redis"}, "copy": {"image": "redis"}}))]
    #[case::key_text_is_kept("{1: a, true: b, null: c}", json!({"1": "a", "true": "b", "null": "c"}))]
    #[case::empty("", Value::Null)]
    #[case::big_integer("18446744073709551615", json!(18446744073709551615u64))]
    fn reads_yaml_as_json(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(read(text), Ok(expected));
    }

    #[rstest]
    #[case::syntax(
        "- name: db\n  image: [postgres\n",
        "line 2 column 10: unclosed bracket '['"
    )]
    #[case::duplicate(
        "a: 1\nb: 2\na: 3\n",
        "line 3 column 1: the key \"a\" appears twice in one mapping"
    )]
    #[case::two_documents(
        "- a\n---\n- b\n",
        "line 2 column 1: holds more than one YAML document; declare one list"
    )]
    #[case::unknown_alias("- *nothing\n", "line 1 column 3: ")]
    #[case::custom_tag(
        "- !secret x\n",
        "line 1 column 11: the YAML tag !secret is not supported here; write the value without it"
    )]
    #[case::binary_tag(
        "- !!binary aGk=\n",
        "line 1 column 12: the YAML tag !!binary is not supported here; write the value without it"
    )]
    #[case::bad_int_tag("- !!int ten\n", "line 1 column 9: \"ten\" is not a valid !!int")]
    #[case::complex_key(
        "? [a, b]\n: c\n",
        "line 1 column 3: a mapping key must be a plain value, not a list or a mapping"
    )]
    fn refuses_what_a_declaration_cannot_be(#[case] text: &str, #[case] expected: &str) {
        let err = read(text).expect_err("refused");
        assert!(
            err.starts_with(expected),
            "{err:?} does not start with {expected:?}"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(
            read(&deep)
                .expect_err("too deep")
                .ends_with("nests deeper than the 32 levels a sidecar declaration may use")
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(&ok).is_ok());
    }

    #[test]
    fn aliases_may_copy_only_a_bounded_amount_of_text() {
        let big = "x".repeat(20_000);
        let copies = |n: usize| format!("a: &a {big}\nb: [{}]\n", vec!["*a"; n].join(", "));
        assert!(read(&copies(3)).is_ok());
        let err = read(&copies(4)).expect_err("80 KB copied");
        assert!(err.contains("64 KiB copied by aliases"), "{err}");
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_is_expanded() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            writeln!(bomb, "a{i}: &a{i} [{refs}]").expect("a String takes any text");
        }
        let err = read_document(&bomb).expect_err("refused");
        assert!(err.starts_with("is not valid YAML or JSON: "), "{err}");
        assert!(
            err.contains("so it is refused rather than expanded"),
            "{err}"
        );
        let many_aliases = format!("a: &a x\nb: [{}]\n", vec!["*a"; MAX_ALIASES + 1].join(", "));
        assert!(
            read(&many_aliases)
                .expect_err("refused")
                .contains("refused rather than expanded")
        );
    }
}
