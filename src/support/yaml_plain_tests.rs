//! The rule of `yaml_plain.rs`, tested: whatever it reads, it reads as granit-parser does.

use super::yaml_plain::read;
use crate::support::yaml::{Budget, read_events};
use proptest::prelude::*;
use rstest::rstest;
use serde_json::Value;
use serde_json::json;
use std::fmt::Write as _;

/// What the parser makes of `text`, with the values it counts.
fn parsed(text: &str) -> Option<(Value, usize)> {
    let budget = Budget::default();
    let value = read_events(text, &budget).ok()?;
    Some((value, super::yaml_budget::MAX_NODES - budget.nodes_left()))
}

/// The rule of the module: the parser's value and count whenever this reader gives one.
fn agrees(text: &str) -> Result<(), String> {
    match read(text) {
        None => Ok(()),
        Some(ours) => match parsed(text) {
            Some(theirs) if theirs == ours => Ok(()),
            theirs => Err(format!("{text:?}: read {ours:?}, the parser {theirs:?}")),
        },
    }
}

#[rstest]
#[case::bench_pod("- name: postgres\n  image: postgres:14\n  env:\n    - {name: POSTGRES_DB, value: foobar}\n  readinessProbe:\n    exec: {command: [pg_isready, -h, 127.0.0.1]}\n- name: minio\n  script: |\n    mkdir -p /data\n\n    exec minio server /data --address 127.0.0.1:9000   \n  readinessProbe:\n    httpGet: {path: /minio/health/ready, port: 9000}\n",
    json!([{"name": "postgres", "image": "postgres:14", "env": [{"name": "POSTGRES_DB", "value": "foobar"}], "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}}},
           {"name": "minio", "script": "mkdir -p /data\n\nexec minio server /data --address 127.0.0.1:9000   \n", "readinessProbe": {"httpGet": {"path": "/minio/health/ready", "port": 9000}}}]))]
#[case::one_line_flow("- {name: db-0, image: postgres:14, env: [{name: PGPORT, value: \"5432\"}], readinessProbe: {exec: {command: [pg_isready, -p, '5432']}}}\n",
    json!([{"name": "db-0", "image": "postgres:14", "env": [{"name": "PGPORT", "value": "5432"}], "readinessProbe": {"exec": {"command": ["pg_isready", "-p", "5432"]}}}]))]
#[case::compact_sequence("- name: db\n  env:\n  - name: A\n    value: x y\n  ports: []\n  stdin:\n", json!([{"name": "db", "env": [{"name": "A", "value": "x y"}], "ports": [], "stdin": null}]))]
#[case::top_level_flow("[{name: redis, image: 'redis:7'}]", json!([{"name": "redis", "image": "redis:7"}]))]
#[case::core_schema("[~, null, true, False, 12, -3, 0x1F, 1.5, .5, yes, .inf, '12']", json!([null, null, true, false, 12, -3, 31, 1.5, 0.5, "yes", ".inf", "12"]))]
fn the_common_shape_is_read_here_as_the_parser_reads_it(
    #[case] text: &str,
    #[case] expected: Value,
) {
    let (value, nodes) = read(text).expect("read without the parser");
    assert_eq!(value, expected);
    assert_eq!(parsed(text), Some((value, nodes)));
}

#[rstest]
#[case::comment("- name: db # the database\n")]
#[case::comment_line("# sidecars\n- name: db\n")]
#[case::anchor("- &db {name: db}\n")]
#[case::tag("- name: !!str 12\n")]
#[case::escape("- name: \"a\\tb\"\n")]
#[case::doubled_quote("- name: 'it''s'\n")]
#[case::multi_line_plain("- name: a\n    b\n")]
#[case::multi_line_flow("- {name: a,\n   image: b}\n")]
#[case::tab("- name: a\tb\n")]
#[case::strip_chomping("- script: |-\n    a\n")]
#[case::folded("- script: >\n    a\n")]
#[case::spaces_only_line_in_script("- script: |\n    a\n  \n    b\n")]
#[case::duplicate_key("- name: a\n  name: b\n")]
#[case::document_marker("---\n- name: a\n")]
#[case::json_keys("[{\"name\": \"db\"}]")]
#[case::colon_at_the_end_of_a_flow_scalar("[a:, b]")]
#[case::uneven_indentation("- name: a\n   image: b\n")]
#[case::crlf("- name: a\r\n")]
#[case::noncharacter("a: \u{fffe}")]
#[case::noncharacter_in_flow("[\u{ffff}]")]
#[case::key_beyond_the_parsers_lookahead(&format!("{}: v", "k".repeat(1025)))]
#[case::compact_chain_deeper_than_the_limit(&(0..17).map(|i| format!("{}- a:\n", "  ".repeat(i))).collect::<String>())]
#[case::compact_sequences_under_keys(&(0..17).map(|i| format!("{}a:\n{0}- b: 1\n", "  ".repeat(i))).collect::<String>())]
fn everything_else_is_left_to_the_parser(#[case] text: &str) {
    assert_eq!(read(text), None);
    assert!(agrees(text).is_ok());
}

/// Words that put YAML's rules to the test: numbers, nulls, booleans, indicators inside and at the
/// start, colons, spaces, Unicode.
const WORDS: [&str; 28] = [
    "db",
    "postgres:14",
    "-h",
    "127.0.0.1",
    "1",
    "0x1F",
    "1.5",
    "true",
    "null",
    "~",
    "a b",
    "x:y",
    "http://h",
    ".5",
    "1e3",
    "-",
    "a#b",
    "ünï",
    "-1",
    "+1",
    "0o17",
    "TRUE",
    "yes",
    "a:",
    ":a",
    "?a",
    "a,b",
    "%x",
];

fn word() -> impl Strategy<Value = String> {
    (0..WORDS.len(), 0..4usize).prop_map(|(i, quoting)| {
        let w = WORDS[i];
        match quoting {
            1 => format!("'{w}'"),
            2 => format!("\"{w}\""),
            _ => w.to_string(),
        }
    })
}

#[derive(Debug, Clone)]
enum Node {
    Word(String),
    Script(Vec<String>),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => word().prop_map(Node::Word),
        1 => prop::collection::vec("[a-z #:'\"-]{0,8}", 1..4).prop_map(Node::Script),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(("[a-zA-Z][a-zA-Z0-9_.-]{0,6}", inner.clone()), 0..4)
                .prop_map(Node::Map),
            prop::collection::vec(inner, 0..4).prop_map(Node::Seq),
        ]
    })
}

/// How a generated node is written.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// Collections in flow style, on one line.
    flow: bool,
    /// The indentation step.
    width: usize,
    /// `- key: value` for a mapping in a sequence, and a mapping's sequence at the key's column.
    compact: bool,
}

/// Renders a node in block style at `indent` (after `key:` or `-`), or in flow style.
fn render(node: &Node, indent: usize, style: Style, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Word(w) => {
            let _ = writeln!(out, " {w}");
        }
        Node::Script(lines) => {
            out.push_str(" |\n");
            for line in lines {
                let _ = writeln!(out, "{pad}{line}");
            }
        }
        Node::Map(_) | Node::Seq(_) if style.flow => {
            out.push(' ');
            out.push_str(&flow_text(node));
            out.push('\n');
        }
        Node::Map(entries) => {
            out.push('\n');
            for (key, value) in entries {
                let _ = write!(out, "{pad}{key}:");
                match value {
                    Node::Seq(items) if style.compact && !items.is_empty() => {
                        out.push('\n');
                        seq_items(items, indent, style, out);
                    }
                    _ => render(value, indent + style.width, style, out),
                }
            }
        }
        Node::Seq(items) => {
            out.push('\n');
            seq_items(items, indent, style, out);
        }
    }
}

fn seq_items(items: &[Node], indent: usize, style: Style, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Node::Map(entries) if style.compact && !entries.is_empty() => {
                // `- key: value`, the other keys under the first.
                let mut rendered = String::new();
                render(item, indent + 2, style, &mut rendered);
                let body = rendered.trim_start_matches('\n');
                let _ = write!(out, "{pad}- {}", body.get(indent + 2..).unwrap_or(body));
            }
            _ => {
                let _ = write!(out, "{pad}-");
                render(item, indent + style.width, style, out);
            }
        }
    }
}

fn flow_text(node: &Node) -> String {
    match node {
        Node::Word(w) => w.clone(),
        Node::Script(lines) => lines.join(" "),
        Node::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", flow_text(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Node::Seq(items) => {
            let parts: Vec<String> = items.iter().map(flow_text).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated declarations, block and flow, then damaged at one place: whenever this reader
    /// gives a value, it is the parser's, with the same count.
    #[test]
    fn the_reader_agrees_with_the_parser(
        root in node(),
        style in (any::<bool>(), 1..4usize, any::<bool>())
            .prop_map(|(flow, width, compact)| Style { flow, width, compact }),
        damage in (any::<prop::sample::Index>(), 0..14usize, any::<bool>()),
    ) {
        let mut text = String::new();
        render(&root, 0, style, &mut text);
        let text = text.trim_start().to_string();
        prop_assert!(agrees(&text).is_ok(), "{}", agrees(&text).unwrap_err());
        let (at, what, insert) = damage;
        let mut damaged = text.clone();
        let i = at.index(damaged.len() + 1);
        if damaged.is_char_boundary(i) {
            let c = [' ', '\n', ':', '-', '#', '"', '\'', '|', '[', ']', '{', '}', ',', 'a'][what];
            if insert || i == damaged.len() {
                damaged.insert(i, c);
            } else if damaged.is_char_boundary(i + 1) {
                damaged.replace_range(i..=i, &c.to_string());
            }
        }
        prop_assert!(agrees(&damaged).is_ok(), "{}", agrees(&damaged).unwrap_err());
    }
}
