//! The common shape of a declaration, read without the YAML parser: block sequences and mappings, flow
//! collections on one line, plain and simply quoted scalars, and literal `|` scripts. That is what
//! declarations are written in, and granit-parser, which reads any YAML, costs about ten times as much
//! per byte on it (its scanner is built for the whole language: simple keys, flow contexts over several
//! lines, every scalar style).
//!
//! The rule of this module: it either returns exactly the value granit-parser and the builder in
//! `yaml.rs` would return, or gives up (`None`) at the first thing it does not read itself (a comment, an
//! anchor, a tag, an escape, a multi-line scalar, a duplicate key, a document marker, a tab, anything
//! irregular), and the text is read by the parser, which also says where an invalid text is wrong. A
//! differential test (below) holds it to that rule.

use std::borrow::Cow;

use granit_parser::ScalarStyle;
use serde_json::{Map, Value};

use super::yaml_scalar::scalar;

/// Deeper declarations are left to the parser, which refuses them beyond `yaml::MAX_DEPTH`.
const MAX_DEPTH: usize = 16;

/// The value of `text` and the number of values it holds (as the budget counts them: every scalar, key
/// or value, and every collection), or `None` when the text is not of the shape read here.
pub(super) fn read(text: &str) -> Option<(Value, usize)> {
    // Line breaks other than `\n`, tabs, byte-order marks, the non-characters YAML does not print, and
    // other invisible characters are left to the parser, which knows what YAML makes of each.
    if text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(
                c,
                '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
            )
    }) {
        return None;
    }
    let mut reader = Reader {
        lines: text.split('\n').collect(),
        at: 0,
        partial: None,
        nodes: 0,
    };
    reader.skip_blank();
    let (indent, content) = reader.current()?;
    let value = if content.starts_with(['[', '{']) {
        let value = reader.inline(content, 0)?;
        reader.advance();
        value
    } else {
        reader.block(indent, 0)?
    };
    reader.skip_blank();
    (reader.at >= reader.lines.len()).then_some((value, reader.nodes))
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    at: usize,
    /// The rest of a line whose start has been read (`- ` of a sequence entry), with its column.
    partial: Option<(usize, &'a str)>,
    nodes: usize,
}

impl<'a> Reader<'a> {
    /// The line to read next, as its indentation and its content.
    fn current(&self) -> Option<(usize, &'a str)> {
        if let Some(partial) = self.partial {
            return Some(partial);
        }
        let line = self.lines.get(self.at)?;
        let content = line.trim_start_matches(' ');
        Some((line.len() - content.len(), content))
    }

    /// Moves past the current line (and the rest of it, if it was partly read).
    fn advance(&mut self) {
        self.partial = None;
        self.at += 1;
    }

    /// Skips lines holding nothing but spaces (never the rest of a partly read line).
    fn skip_blank(&mut self) {
        while self.partial.is_none()
            && self
                .lines
                .get(self.at)
                .is_some_and(|line| line.trim_start_matches(' ').is_empty())
        {
            self.at += 1;
        }
    }

    fn count(&mut self) {
        self.nodes += 1;
    }

    /// A block collection whose entries start at column `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let (_, content) = self.current()?;
        if is_entry(content) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }

    // Every path into a deeper collection goes through `sequence`, `mapping` or `Flow::value`, which
    // therefore check the depth: compact forms (`- key:`, a sequence at its key's column) skip `block`.
    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.count();
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            let Some((column, content)) = self.current() else {
                break;
            };
            if column != indent || !is_entry(content) {
                break;
            }
            let rest = content.get(1..)?;
            let inner = rest.trim_start_matches(' ');
            let item = if inner.is_empty() {
                self.advance();
                self.nested(indent, depth)?
            } else if is_entry(inner) || inner.starts_with('|') {
                return None;
            } else if key_split(inner).is_some() {
                // `- key: value`: a mapping whose entries start at the column of its first key.
                self.partial = Some((column + 1 + (rest.len() - inner.len()), inner));
                let (column, _) = self.current()?;
                self.mapping(column, depth + 1)?
            } else {
                let value = self.inline(inner, depth)?;
                self.advance();
                value
            };
            items.push(item);
        }
        Some(Value::Array(items))
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.count();
        let mut entries = Map::new();
        loop {
            self.skip_blank();
            let Some((column, content)) = self.current() else {
                break;
            };
            if column != indent || is_entry(content) {
                break;
            }
            let (key, rest) = key_split(content)?;
            if entries.contains_key(key) {
                return None;
            }
            self.count();
            let rest = rest.trim_start_matches(' ');
            let value = if rest.is_empty() {
                self.advance();
                self.nested_or_compact(indent, depth)?
            } else if rest.trim_end_matches(' ') == "|" {
                self.advance();
                self.literal(indent)?
            } else {
                let value = self.inline(rest, depth)?;
                self.advance();
                value
            };
            entries.insert(key.to_string(), value);
        }
        Some(Value::Object(entries))
    }

    /// What follows `key:` at the end of a line: a block more indented than the key, a sequence at the
    /// key's own column (YAML lets a mapping's sequence value start there), or nothing (null).
    fn nested_or_compact(&mut self, indent: usize, depth: usize) -> Option<Value> {
        self.skip_blank();
        match self.current() {
            Some((column, content)) if column == indent && is_entry(content) => {
                self.sequence(indent, depth + 1)
            }
            _ => self.nested(indent, depth),
        }
    }

    /// What follows `-` or `key:` at the end of a line: a block more indented than `indent`, or null.
    fn nested(&mut self, indent: usize, depth: usize) -> Option<Value> {
        self.skip_blank();
        match self.current() {
            Some((column, _)) if column > indent => self.block(column, depth + 1),
            _ => {
                self.count();
                Some(Value::Null)
            }
        }
    }

    /// A literal block scalar with clip chomping (`|`), the value of a key at column `indent`: its lines
    /// start at the column of the first, which must be deeper than the key.
    fn literal(&mut self, indent: usize) -> Option<Value> {
        self.count();
        let first = self.lines.get(self.at)?;
        let body = first.trim_start_matches(' ');
        let column = first.len() - body.len();
        if body.is_empty() || column <= indent {
            return None;
        }
        let mut text = String::new();
        while let Some(line) = self.lines.get(self.at) {
            let inner = line.trim_start_matches(' ');
            let at = line.len() - inner.len();
            if line.is_empty() {
                text.push('\n');
            } else if inner.is_empty() || (at < column && at > indent) {
                // Lines of spaces only, and lines between the key's column and the body's: what YAML
                // makes of them is for the parser to say.
                return None;
            } else if at >= column {
                text.push_str(line.get(column..)?);
                text.push('\n');
            } else {
                break;
            }
            self.at += 1;
        }
        let kept = text.trim_end_matches('\n').len();
        text.truncate(kept);
        if !text.is_empty() {
            text.push('\n');
        }
        Some(Value::String(text))
    }

    /// A value written on the rest of a line: a flow collection, a quoted or a plain scalar.
    fn inline(&mut self, text: &str, depth: usize) -> Option<Value> {
        let text = text.trim_end_matches(' ');
        if text.starts_with(['[', '{']) {
            let mut flow = Flow { text, at: 0 };
            let value = flow.value(self, depth + 1)?;
            return (flow.at == text.len()).then_some(value);
        }
        if let Some(quoted) = quoted(text) {
            self.count();
            return (quoted.len() + 2 == text.len()).then(|| Value::String(quoted.to_string()));
        }
        if !plain_start(text) || text.contains('#') || text.contains(": ") || text.ends_with(':') {
            return None;
        }
        self.count();
        scalar(Cow::Borrowed(text), ScalarStyle::Plain, None).ok()
    }
}

/// A flow collection on one line.
struct Flow<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Flow<'t> {
    fn rest(&self) -> &'t str {
        self.text.get(self.at..).unwrap_or_default()
    }

    fn skip_spaces(&mut self) {
        self.at = self.text.len() - self.rest().trim_start_matches(' ').len();
    }

    fn eat(&mut self, c: char) -> bool {
        let matched = self.rest().starts_with(c);
        if matched {
            self.at += c.len_utf8();
        }
        matched
    }

    fn value(&mut self, reader: &mut Reader<'_>, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        if self.eat('[') {
            reader.count();
            let mut items = Vec::new();
            self.skip_spaces();
            if !self.eat(']') {
                loop {
                    self.skip_spaces();
                    items.push(self.value(reader, depth + 1)?);
                    self.skip_spaces();
                    if self.eat(']') {
                        break;
                    }
                    if !self.eat(',') {
                        return None;
                    }
                }
            }
            return Some(Value::Array(items));
        }
        if self.eat('{') {
            reader.count();
            let mut entries = Map::new();
            self.skip_spaces();
            if !self.eat('}') {
                loop {
                    self.skip_spaces();
                    let rest = self.rest();
                    let end = rest.find(':')?;
                    let key = rest.get(..end)?;
                    if !is_key(key) || entries.contains_key(key) {
                        return None;
                    }
                    let key = key.to_string();
                    self.at += end + 1;
                    if !self.eat(' ') {
                        return None;
                    }
                    reader.count();
                    self.skip_spaces();
                    let value = self.value(reader, depth + 1)?;
                    entries.insert(key, value);
                    self.skip_spaces();
                    if self.eat('}') {
                        break;
                    }
                    if !self.eat(',') {
                        return None;
                    }
                }
            }
            return Some(Value::Object(entries));
        }
        let rest = self.rest();
        if let Some(quoted) = quoted(rest) {
            self.at += quoted.len() + 2;
            reader.count();
            return Some(Value::String(quoted.to_string()));
        }
        let end = rest.find([',', ']', '}']).unwrap_or(rest.len());
        let word = rest.get(..end)?.trim_end_matches(' ');
        // A colon belongs to a flow scalar when something other than a space follows it
        // (`postgres:14`); before a space or at the end it would make a mapping entry.
        let colon_ends = word.match_indices(':').any(|(i, _)| {
            word.get(i + 1..)
                .is_none_or(|after| after.is_empty() || after.starts_with(' '))
        });
        if word.is_empty() || !plain_start(word) || colon_ends || word.contains(['#', '[', '{']) {
            return None;
        }
        self.at += word.len();
        reader.count();
        scalar(Cow::Borrowed(word), ScalarStyle::Plain, None).ok()
    }
}

/// `- ` or a lone `-`: the start of a block sequence entry.
fn is_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// `key: rest` or `key:` at the end of a line, with a key of the plain characters names use.
fn key_split(content: &str) -> Option<(&str, &str)> {
    let end = content.find(':')?;
    let (key, rest) = (content.get(..end)?, content.get(end + 1..)?);
    (is_key(key) && (rest.is_empty() || rest.starts_with(' '))).then_some((key, rest))
}

/// granit-parser looks ahead at most 1,024 characters for a key's colon (`simple_key_max_lookahead`).
const MAX_KEY: usize = 1024;

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && !key.starts_with('-')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
}

/// Whether a plain scalar may start this way: not with an indicator YAML gives a meaning to, nor with
/// `-` followed by a space.
fn plain_start(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|first| !"?:,[]{}#&*!|>'\"%@`".contains(first))
        && !is_entry(text)
}

/// The content of a double- or single-quoted scalar that needs no unescaping (no backslash, no doubled
/// quote, no line break), when `text` starts with one.
fn quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = text.get(1..)?;
    let end = inner.find(quote)?;
    let content = inner.get(..end)?;
    let after = inner.get(end + 1..)?;
    (!content.contains('\\') && !after.starts_with(quote)).then_some(content)
}

#[cfg(test)]
mod tests {
    // The rule of `yaml_plain.rs`, tested: whatever it reads, it reads as granit-parser does.

    use super::read;
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
        Some((
            value,
            crate::support::yaml_budget::MAX_NODES - budget.nodes_left(),
        ))
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
}
