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
//!
//! One object's declarations share one [`Budget`] of text and values (`yaml_budget.rs`).

use std::collections::BTreeMap;

use granit_parser::{Event, Parser, Tag};
use serde_json::{Map, Value};

pub use super::yaml_budget::{Budget, MAX_BYTES, MAX_DOCUMENTS, MAX_NODES};
use super::yaml_plain;
use super::yaml_scalar::{CORE, scalar, unsupported};

/// The deepest nesting a declaration may use (a sidecar's deepest field is about eight levels down).
pub(crate) const MAX_DEPTH: usize = 32;
/// The most aliases (`*name`) in one declaration.
pub(crate) const MAX_ALIASES: usize = 100;
/// The most anchors (`&name`) in one declaration.
pub(crate) const MAX_ANCHORS: usize = 100;
/// The most text (scalars and keys, in bytes) that aliases may copy into one declaration. Without it one
/// anchored 200 KB string and a hundred aliases to it would become 20 MB of sidecar, and a 20 MB patch.
pub(crate) const MAX_ALIAS_BYTES: usize = 64 * 1024;

/// Reads one YAML document into a JSON value, within a budget of its own; the error says where and what,
/// on one line.
pub fn read(text: &str) -> Result<Value, String> {
    read_within(text, &Budget::default()).map_err(|refusal| match refusal {
        Refusal::Invalid(message) | Refusal::TooMuch(message) | Refusal::TooLong(message) => {
            message
        }
    })
}

/// Why a text was not read: it is not a declaration YAML can express, or reading it would cost more than
/// the budget allows.
pub(super) enum Refusal {
    Invalid(String),
    /// At a place in the text: what is there would take the budget.
    TooMuch(String),
    /// The whole text is longer than the budget: a sentence of its own.
    TooLong(String),
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal::Invalid(message)
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        Refusal::Invalid(message.to_string())
    }
}

fn read_within(text: &str, budget: &Budget) -> Result<Value, Refusal> {
    budget.take_text(text).map_err(Refusal::TooLong)?;
    // The common shape first, without the parser; what that reader gives up on, or what would take the
    // budget, is read by the parser, which says where and why.
    if let Some((value, nodes)) = yaml_plain::read(text)
        && budget.take_nodes_if_left(nodes)
    {
        return Ok(value);
    }
    read_events(text, budget)
}

/// Reads `text` with granit-parser, event by event, within `budget` (its text already taken).
pub(super) fn read_events(text: &str, budget: &Budget) -> Result<Value, Refusal> {
    let mut builder = Builder {
        budget,
        open: Vec::new(),
        anchors: BTreeMap::new(),
        aliases: 0,
        size: Size::default(),
        alias_bytes: 0,
        documents: 0,
        root: None,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| {
            let at = err.marker();
            Refusal::Invalid(format!(
                "line {} column {}: {}",
                at.line(),
                at.col() + 1,
                err.kind()
            ))
        })?;
        let at = |message: String| {
            format!(
                "line {} column {}: {message}",
                span.start.line(),
                span.start.col() + 1
            )
        };
        builder.event(event).map_err(|refusal| match refusal {
            Refusal::Invalid(message) => Refusal::Invalid(at(message)),
            Refusal::TooMuch(message) => Refusal::TooMuch(at(message)),
            Refusal::TooLong(message) => Refusal::TooLong(message),
        })?;
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

/// Reads an annotation value or a pasted text: YAML (JSON is YAML) into a JSON value, within its own
/// budget; blank text is null, and the error reads as the end of a sentence about the text.
pub fn read_document(text: &str) -> Result<Value, String> {
    read_document_within(text, &Budget::default())
}

/// [`read_document`] drawing on `budget`, which the other declarations on the same object share.
pub fn read_document_within(text: &str, budget: &Budget) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    read_within(text, budget).map_err(|refusal| match refusal {
        Refusal::Invalid(message) => format!("is not valid YAML or JSON: {message}"),
        Refusal::TooMuch(message) => format!("is refused at {message}"),
        Refusal::TooLong(message) => message,
    })
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

struct Builder<'b> {
    budget: &'b Budget,
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

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>) -> Result<(), Refusal> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err("holds more than one YAML document; declare one list".into());
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
                    None => return Err("a collection ends that never started".into()),
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
                // A key without tag or anchor is its text as written: nothing to resolve or to keep.
                let awaits_key = self.awaits_key();
                if awaits_key && anchor == 0 && tag.is_none() {
                    return self.place_key(text.into_owned());
                }
                let key = awaits_key.then(|| text.to_string());
                let value = scalar(text, style, tag.as_deref()).map_err(Refusal::Invalid)?;
                self.remember(anchor, &value, size)?;
                self.place(value, key.as_deref())?;
            }
            Event::Alias(anchor) => {
                self.aliases += 1;
                if self.aliases > MAX_ALIASES {
                    return Err(Refusal::TooMuch(expansion_refused()));
                }
                let (value, size) = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or(Refusal::Invalid("an alias refers to no anchor".into()))?;
                self.alias_bytes = self.alias_bytes.saturating_add(size.bytes);
                if self.alias_bytes > MAX_ALIAS_BYTES {
                    return Err(Refusal::TooMuch(expansion_refused()));
                }
                self.count(size)?;
                let key = value.as_str().map(str::to_string);
                self.place(value, key.as_deref())?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(format!("the alias *{name} refers to no anchor").into());
            }
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, collection: Open) -> Result<(), Refusal> {
        if self.open.len() >= MAX_DEPTH {
            return Err(format!(
                "nests deeper than the {MAX_DEPTH} levels a sidecar declaration may use"
            )
            .into());
        }
        if let Some(Open::Mapping { key: None, .. }) = self.open.last() {
            return Err("a mapping key must be a plain value, not a list or a mapping".into());
        }
        self.count(Size { nodes: 1, bytes: 0 })?;
        self.open.push(collection);
        Ok(())
    }

    /// Counts values as they are made or copied by an alias, before the copy is made.
    fn count(&mut self, added: Size) -> Result<(), Refusal> {
        self.size.nodes = self.size.nodes.saturating_add(added.nodes);
        self.size.bytes = self.size.bytes.saturating_add(added.bytes);
        self.budget
            .take_nodes(added.nodes)
            .map_err(Refusal::TooMuch)
    }

    fn remember(&mut self, anchor: usize, value: &Value, size: Size) -> Result<(), Refusal> {
        if anchor == 0 {
            return Ok(());
        }
        if self.anchors.len() >= MAX_ANCHORS {
            return Err(Refusal::TooMuch(expansion_refused()));
        }
        // The copy kept for the aliases costs what the value costs: anchors nested in one another would
        // otherwise copy the same values once for each.
        self.budget
            .take_nodes(size.nodes)
            .map_err(Refusal::TooMuch)?;
        self.anchors.insert(anchor, (value.clone(), size));
        Ok(())
    }

    /// Puts a finished value where it belongs: the root, the next list item, a mapping key or its value.
    /// `text` is the value as written, which a mapping key keeps.
    fn place(&mut self, value: Value, text: Option<&str>) -> Result<(), Refusal> {
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
                    return self.place_key(name.to_string());
                }
            },
        }
        Ok(())
    }

    /// Whether the next value completed is a mapping's key.
    fn awaits_key(&self) -> bool {
        matches!(self.open.last(), Some(Open::Mapping { key: None, .. }))
    }

    /// Makes `name` the key of the open mapping's next entry, unless the mapping has it already.
    fn place_key(&mut self, name: String) -> Result<(), Refusal> {
        if let Some(Open::Mapping { entries, key, .. }) = self.open.last_mut() {
            if entries.contains_key(&name) {
                return Err(format!("the key {name:?} appears twice in one mapping").into());
            }
            *key = Some(name);
        }
        Ok(())
    }

    fn expect_collection_tag(&self, tag: Option<&Tag>, kind: &str) -> Result<(), Refusal> {
        match tag {
            None => Ok(()),
            Some(tag) if tag.handle() == CORE && tag.suffix() == kind => Ok(()),
            Some(tag) => Err(unsupported(tag).into()),
        }
    }
}

fn expansion_refused() -> String {
    format!(
        "its YAML anchors and aliases expand beyond what a sidecar declaration needs (at most {MAX_ANCHORS} anchors, {MAX_ALIASES} aliases and {} KiB copied by aliases); write the entries out",
        MAX_ALIAS_BYTES / 1024
    )
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
        assert!(err.starts_with("is refused at line "), "{err}");
        assert!(
            err.ends_with("hold more than the 10000 values the policy reads on one object"),
            "{err}"
        );
        let many_aliases = format!("a: &a x\nb: [{}]\n", vec!["*a"; MAX_ALIASES + 1].join(", "));
        assert!(
            read(&many_aliases)
                .expect_err("refused")
                .ends_with("100 aliases and 64 KiB copied by aliases); write the entries out")
        );
    }

    #[test]
    fn the_declarations_of_one_object_share_one_budget() {
        let budget = Budget::default();
        let list = |n: usize| format!("[{}]", vec!["x"; n].join(", "));
        assert!(read_document_within(&list(MAX_NODES / 2), &budget).is_ok());
        let err = read_document_within(&list(MAX_NODES / 2), &budget).expect_err("over");
        assert!(err.starts_with("is refused at line 1 column "), "{err}");
        let budget = Budget::default();
        let long = format!("[{}]", "x".repeat(MAX_BYTES / 2));
        assert!(read_document_within(&long, &budget).is_ok());
        assert_eq!(
            read_document_within(&long, &budget),
            Err("is 33 KiB long, 65 KiB with the declarations read before it on this object; the policy reads at most 64 KiB of declarations on one object".to_string())
        );
        assert_eq!(
            read_document_within(&"x".repeat(MAX_BYTES + 1), &Budget::default()),
            Err(
                "is 65 KiB long; the policy reads at most 64 KiB of declarations on one object"
                    .to_string()
            )
        );
    }

    #[test]
    fn anchored_values_count_against_the_budget_when_they_are_remembered() {
        // Thirty anchors nested one in the other each remember the values inside them: 30 copies.
        let mut text = "x".to_string();
        for i in 0..30 {
            text = format!("&a{i} [{text}, {}]", vec!["y"; 300].join(", "));
        }
        let err = read(&text).expect_err("copies counted");
        assert!(
            err.ends_with("values the policy reads on one object"),
            "{err}"
        );
    }
}
