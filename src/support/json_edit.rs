//! Changes to a JSON document by path, made to the text it came as.
//!
//! A mutating policy answers with the whole object, which policy-server diffs into a JSONPatch. Writing
//! the object out again from a tree costs as much as everything else the policy does with a Pod, and
//! changes nothing the policy means to change. So the policy says what it changes ([`Edit`]) and the
//! changes are made to the request's own text: everything else stays as the API server sent it, byte for
//! byte.
//!
//! The text was read before (it is valid JSON). One walk over it finds where every edit goes: it looks
//! into the members on the edits' paths and skips over everything else. The edits are then written in one
//! pass. Should two edits touch the same place (one inside what another replaces, two members added to the
//! same object...), their order matters, and they are made one after the other instead. What an edit
//! means is what `apply_to_value` makes of it on a tree (in the tests), and property tests hold the text
//! to that.

use std::ops::Range;

use serde_json::Value;

use super::json_text::{Keys, is_array, is_object, skip_space, walk_object};

/// One change, at a path of object keys from the document's root. A path has at least one key: an edit
/// with none changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// The member at the path becomes the value; the objects on the way are made (or replace what is
    /// there, if it is not an object).
    Set(Vec<String>, Value),
    /// The member at the path goes, if it is there.
    Remove(Vec<String>),
    /// Element `index` of the array at the path becomes the value, if it has one.
    Replace(Vec<String>, usize, Value),
    /// The values go before element `index` of the array at the path (at its end, for its length or
    /// more); a missing member, or one that is not an array, becomes an array of them. Nothing happens if
    /// the objects on the way are not there.
    Insert(Vec<String>, usize, Vec<Value>),
}

impl Edit {
    fn path(&self) -> &[String] {
        match self {
            Edit::Set(path, _)
            | Edit::Remove(path)
            | Edit::Replace(path, ..)
            | Edit::Insert(path, ..) => path,
        }
    }
}

/// A path from its keys.
pub fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| (*key).to_string()).collect()
}

/// The document `text`, which must be JSON (it was read before), with `edits` made in order. `None` only
/// if the text is not JSON after all.
pub fn apply(text: &str, edits: &[Edit]) -> Option<String> {
    if let Some(edited) = by_text(text, edits) {
        return Some(edited);
    }
    // Edits that meet are made one after the other, each seeing the last; the text is first written out
    // again from its tree, which keeps no key twice (the one thing that stops a single edit).
    let document: Value = serde_json::from_str(text).ok()?;
    let mut text = serde_json::to_string(&document).ok()?;
    for edit in edits {
        text = by_text(&text, std::slice::from_ref(edit))?;
    }
    Some(text)
}

/// The edits made to the text: `None` when they touch the same place, or the text is not what the walk
/// expects.
pub(super) fn by_text(text: &str, edits: &[Edit]) -> Option<String> {
    let bytes = text.as_bytes();
    let start = skip_space(bytes, 0);
    let text = text.get(start..)?.trim_end();
    let bytes = text.as_bytes();
    let mut wanted = Keys::default();
    for edit in edits {
        wanted.add(
            edit.path(),
            matches!(edit, Edit::Replace(..) | Edit::Insert(..)),
        );
    }
    // Only an object's members are edited: any other document stays as it is.
    if !is_object(bytes, &(0..bytes.len())) {
        return Some(text.to_string());
    }
    let root = 0..walk_object(bytes, 0, &mut wanted.0)?;
    if root.end != bytes.len() {
        return None;
    }
    let mut splices: Vec<Splice> = Vec::new();
    let mut reaches: Vec<(&Edit, &[String])> = Vec::new();
    for edit in edits {
        // An edit that goes into what an earlier one made, removed or replaced would see it changed.
        if reaches
            .iter()
            .any(|(earlier, reach)| edit.path().starts_with(reach) && !side_by_side(earlier, edit))
        {
            return None;
        }
        let Placed::At(splice, reach) = place(bytes, &root, &wanted, edit)? else {
            continue;
        };
        // Two edits at one place, or adding and removing members of one object, would see each other.
        let meet = |other: &Splice| {
            overlap(&splice.at, &other.at)
                || splice.members_of.is_some() && splice.members_of == other.members_of
        };
        if splices.iter().any(meet) {
            return None;
        }
        // An insertion where a replaced span starts goes before it, where it ends after it.
        let key = |s: &Splice| (s.at.start, s.at.end);
        let at = splices.partition_point(|other| key(other) < key(&splice));
        splices.insert(at, splice);
        reaches.push((edit, reach));
    }
    let added: usize = splices.iter().map(|s| s.with.len()).sum();
    let mut out = String::with_capacity(text.len() + added);
    let mut from = 0;
    for splice in &splices {
        out.push_str(text.get(from..splice.at.start)?);
        out.push_str(&splice.with);
        from = splice.at.end;
    }
    out.push_str(text.get(from..)?);
    Some(out)
}

/// Whether two spans of the text share a byte, or are one insertion point: an insertion at the edge of a
/// replaced span does not meet it.
fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => a.start == b.start,
        (true, false) => b.start < a.start && a.start < b.end,
        (false, true) => a.start < b.start && b.start < a.end,
        (false, false) => a.start < b.end && b.start < a.end,
    }
}

/// Whether `later` can be made without seeing `earlier`, though it edits the same member: replacing
/// elements of an array does not move them, so a later replacement or insertion finds them where they
/// were.
fn side_by_side(earlier: &Edit, later: &Edit) -> bool {
    matches!(earlier, Edit::Replace(..))
        && matches!(later, Edit::Replace(..) | Edit::Insert(..))
        && earlier.path() == later.path()
}

/// Text that replaces a span of the document (inserts, for an empty span).
struct Splice {
    at: Range<usize>,
    with: String,
    /// Where the object starts whose members it adds or removes: two such changes to one object must see
    /// each other (a member added first needs the comma of the one after it).
    members_of: Option<usize>,
}

/// Where an edit goes in the text.
enum Placed<'e> {
    /// It changes nothing there.
    Nowhere,
    /// The text it writes, and the member whose value it changes (its path, or the start of it that the
    /// edit makes).
    At(Splice, &'e [String]),
}

/// Where `edit` goes in the object `root` and what it writes; `None` when it cannot be made to the text
/// alone.
fn place<'e>(bytes: &[u8], root: &Range<usize>, keys: &Keys, edit: &'e Edit) -> Option<Placed<'e>> {
    let path = edit.path();
    let Some((last, parents)) = path.split_last() else {
        return Some(Placed::Nowhere);
    };
    let write = |span: Range<usize>, with: String, reach: &'e [String]| {
        let splice = Splice {
            at: span,
            with,
            members_of: None,
        };
        Some(Placed::At(splice, reach))
    };
    if let Edit::Set(_, value) = edit {
        // As deep as the path goes through objects; the rest is made.
        let mut object = root.clone();
        let mut level = keys.0.as_slice();
        for (depth, name) in path.iter().enumerate() {
            let key = level.iter().find(|key| key.name == *name)?;
            let (reach, rest) = (path.get(..=depth)?, path.get(depth + 1..)?);
            let Some(found) = &key.found else {
                return write_member(bytes, &object, name, nested(rest, value)?, reach);
            };
            // The value there becomes `value`, or, if it is not an object, one that holds the rest.
            if rest.is_empty() || !is_object(bytes, &found.value) {
                return write(found.value.clone(), nested(rest, value)?, reach);
            }
            object = found.value.clone();
            level = &key.below;
        }
        return Some(Placed::Nowhere);
    }
    let Some((object, level)) = keys.object_at(bytes, root, parents) else {
        return Some(Placed::Nowhere);
    };
    let found = level
        .iter()
        .find(|key| key.name == *last)
        .and_then(|key| key.found.as_ref());
    match (edit, found) {
        (Edit::Set(..), _) | (Edit::Remove(_) | Edit::Replace(..), None) => Some(Placed::Nowhere),
        // A key given twice: removing the last would let the earlier one show through.
        (Edit::Remove(_), Some(found)) if found.count > 1 => None,
        (Edit::Remove(_), Some(found)) => {
            let splice = Splice {
                at: found.cut.clone(),
                with: String::new(),
                members_of: Some(object.start),
            };
            Some(Placed::At(splice, path))
        }
        (Edit::Replace(_, index, value), Some(found)) => match found.elements.get(*index) {
            Some(element) if is_array(bytes, &found.value) => {
                write(element.clone(), serde_json::to_string(value).ok()?, path)
            }
            _ => Some(Placed::Nowhere),
        },
        (Edit::Insert(_, index, values), found) => {
            let listed: Vec<String> = values
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()
                .ok()?;
            let joined = listed.join(",");
            let Some(found) = found else {
                return write_member(bytes, &object, last, format!("[{joined}]"), path);
            };
            if !is_array(bytes, &found.value) {
                return write(found.value.clone(), format!("[{joined}]"), path);
            }
            if values.is_empty() {
                return Some(Placed::Nowhere);
            }
            let (at, with) = match (found.elements.get(*index), found.elements.last()) {
                (Some(element), _) => (element.start..element.start, joined + ","),
                (None, Some(end)) => (end.end..end.end, format!(",{joined}")),
                (None, None) => (found.value.start + 1..found.value.end - 1, joined),
            };
            write(at, with, path)
        }
    }
}

/// `{"a":{"b":value}}` for the keys `[a, b]`, and the value itself for none.
fn nested(keys: &[String], value: &Value) -> Option<String> {
    let mut text = serde_json::to_string(value).ok()?;
    for key in keys.iter().rev() {
        text = format!("{{{}:{text}}}", serde_json::to_string(key).ok()?);
    }
    Some(text)
}

/// The member `"name":value` added first to the object at `span`.
fn write_member<'e>(
    bytes: &[u8],
    span: &Range<usize>,
    name: &str,
    value: String,
    reach: &'e [String],
) -> Option<Placed<'e>> {
    let open = span.start + 1;
    let member = format!("{}:{value}", serde_json::to_string(name).ok()?);
    // Into an empty object it replaces the space between the braces; else a comma follows it.
    let (at, with) = if bytes.get(skip_space(bytes, open)) == Some(&b'}') {
        (open..span.end - 1, member)
    } else {
        (open..open, member + ",")
    };
    let members_of = Some(span.start);
    let splice = Splice {
        at,
        with,
        members_of,
    };
    Some(Placed::At(splice, reach))
}

#[cfg(test)]
pub(crate) use tests::apply_to_value;

#[cfg(test)]
mod tests {
    // The rule of `json_edit.rs`, tested: an edit made to the text means what it means made to the tree.

    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::{Map, Value, json};

    /// What the edits make of `document` written as `text`: made to the text, and made to the tree, they
    /// must agree. Returns whether they could be made to the text alone.
    fn agree(text: &str, edits: &[Edit]) -> (Value, bool) {
        let mut tree: Value = serde_json::from_str(text).expect("JSON");
        apply_to_value(&mut tree, edits);
        let raw = apply(text, edits).expect("JSON");
        let read: Value = serde_json::from_str(&raw).expect("still JSON");
        assert_eq!(read, tree, "{text} with {edits:?} gave {raw}");
        let by_text = by_text(text, edits);
        if let Some(raw) = &by_text {
            let read: Value = serde_json::from_str(raw).expect("still JSON");
            assert_eq!(read, tree, "{text} with {edits:?} gave {raw} by text");
        }
        (tree, by_text.is_some())
    }

    /// [`agree`], for edits that the text alone must take.
    fn edited(text: &str, edits: &[Edit]) -> Value {
        let (tree, by_text) = agree(text, edits);
        assert!(by_text, "{text} with {edits:?} went to the tree");
        tree
    }

    #[rstest]
    #[case::set_new(r#"{"metadata": {"name": "p"}}"#, Edit::Set(path(&["metadata", "annotations", "a/b"]), json!("x")), json!({"metadata": {"name": "p", "annotations": {"a/b": "x"}}}))]
    #[case::set_existing(r#"{"metadata": {"annotations": {"a/b": "old", "c": "d"}}}"#, Edit::Set(path(&["metadata", "annotations", "a/b"]), json!("x")), json!({"metadata": {"annotations": {"a/b": "x", "c": "d"}}}))]
    #[case::set_over_null(r#"{"metadata": {"annotations": null}}"#, Edit::Set(path(&["metadata", "annotations", "k"]), json!("v")), json!({"metadata": {"annotations": {"k": "v"}}}))]
    #[case::set_into_empty(r#"{ "metadata" : { } }"#, Edit::Set(path(&["metadata", "k"]), json!(1)), json!({"metadata": {"k": 1}}))]
    #[case::remove_first(r#"{"spec": {"a": 1, "b": [2], "c": 3}}"#, Edit::Remove(path(&["spec", "a"])), json!({"spec": {"b": [2], "c": 3}}))]
    #[case::remove_middle(r#"{"spec": {"a": 1, "b": [2], "c": 3}}"#, Edit::Remove(path(&["spec", "b"])), json!({"spec": {"a": 1, "c": 3}}))]
    #[case::remove_only(r#"{"spec": {"a": {"x": "}"}}}"#, Edit::Remove(path(&["spec", "a"])), json!({"spec": {}}))]
    #[case::remove_missing(r#"{"spec": {"a": 1}}"#, Edit::Remove(path(&["spec", "z"])), json!({"spec": {"a": 1}}))]
    #[case::replace(r#"{"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}"#, Edit::Replace(path(&["spec", "containers"]), 1, json!({"name": "c"})), json!({"spec": {"containers": [{"name": "a"}, {"name": "c"}]}}))]
    #[case::insert_before(r#"{"spec": {"containers": [{"name": "a"}, {"name": "r"}]}}"#, Edit::Insert(path(&["spec", "containers"]), 1, vec![json!({"name": "x"}), json!({"name": "y"})]), json!({"spec": {"containers": [{"name": "a"}, {"name": "x"}, {"name": "y"}, {"name": "r"}]}}))]
    #[case::insert_at_end(r#"{"spec": {"containers": [{"name": "a"}]}}"#, Edit::Insert(path(&["spec", "containers"]), 1, vec![json!({"name": "x"})]), json!({"spec": {"containers": [{"name": "a"}, {"name": "x"}]}}))]
    #[case::insert_into_empty(r#"{"spec": {"initContainers": [ ]}}"#, Edit::Insert(path(&["spec", "initContainers"]), 0, vec![json!(1)]), json!({"spec": {"initContainers": [1]}}))]
    #[case::insert_makes_the_array(r#"{"spec": {}}"#, Edit::Insert(path(&["spec", "initContainers"]), 0, vec![json!(1)]), json!({"spec": {"initContainers": [1]}}))]
    #[case::escaped_key(r#"{"metadata": {"annotations": {"a\/b": "old"}}}"#, Edit::Set(path(&["metadata", "annotations", "a/b"]), json!("new")), json!({"metadata": {"annotations": {"a/b": "new"}}}))]
    #[case::strings_with_brackets(r#"{"a": "[{\"}", "spec": {"c": ["]", "\\"]}}"#, Edit::Insert(path(&["spec", "c"]), 9, vec![json!("x")]), json!({"a": "[{\"}", "spec": {"c": ["]", "\\", "x"]}}))]
    fn an_edit_to_the_text_means_what_it_means_to_the_tree(
        #[case] text: &str,
        #[case] edit: Edit,
        #[case] expected: Value,
    ) {
        assert_eq!(edited(text, &[edit]), expected);
    }

    #[test]
    fn the_rest_of_the_text_is_left_as_it_was() {
        let text = "{\"metadata\": {\"annotations\": {\"k\": \"v\"}},\n  \"spec\": {\"containers\": [ {\"name\": \"step\",   \"args\": [\"1.50\"]} ], \"n\": 1.50e3}}";
        let raw = apply(
            text,
            &[
                Edit::Insert(path(&["spec", "containers"]), 1, vec![json!({"name": "x"})]),
                Edit::Set(path(&["metadata", "annotations", "m"]), json!("y")),
            ],
        )
        .expect("edited");
        assert_eq!(
            raw,
            "{\"metadata\": {\"annotations\": {\"m\":\"y\",\"k\": \"v\"}},\n  \"spec\": {\"containers\": [ {\"name\": \"step\",   \"args\": [\"1.50\"]},{\"name\":\"x\"} ], \"n\": 1.50e3}}"
        );
    }

    #[test]
    fn a_key_given_twice_is_edited_as_it_is_read() {
        // serde_json, like the API server, reads the last of two equal keys.
        let text = r#"{"spec": {"a": {"x": 1}, "b": 2, "a": {"y": 3}}}"#;
        assert_eq!(
            edited(text, &[Edit::Set(path(&["spec", "a", "z"]), json!(4))]),
            json!({"spec": {"a": {"y": 3, "z": 4}, "b": 2}})
        );
        // Removing the last would let the first show through: that one is made to the tree.
        assert_eq!(
            agree(text, &[Edit::Remove(path(&["spec", "a"]))]),
            (json!({"spec": {"b": 2}}), false)
        );
    }

    #[test]
    fn edits_that_meet_are_made_in_order() {
        let text = r#"{"metadata": {"name": "p"}, "spec": {"c": [1, 2]}}"#;
        // Both add to an object that is not there: the second sees what the first made.
        let both = [
            Edit::Set(path(&["metadata", "annotations", "a"]), json!("1")),
            Edit::Set(path(&["metadata", "annotations", "b"]), json!("2")),
        ];
        assert_eq!(
            agree(text, &both),
            (
                json!({"metadata": {"name": "p", "annotations": {"a": "1", "b": "2"}}, "spec": {"c": [1, 2]}}),
                false
            )
        );
        let replace = Edit::Replace(path(&["spec", "c"]), 1, json!(9));
        let insert_after = Edit::Insert(path(&["spec", "c"]), 2, vec![json!(3)]);
        let insert_before = Edit::Insert(path(&["spec", "c"]), 1, vec![json!(4)]);
        for (edits, list, by_text) in [
            // Replacing an element moves none: an insertion after it, or before it, is made to the text.
            ([&replace, &insert_after], json!([1, 9, 3]), true),
            ([&replace, &insert_before], json!([1, 4, 9]), true),
            // An insertion moves the elements after it: what a later edit means by an index has changed.
            ([&insert_after, &replace], json!([1, 9, 3]), false),
        ] {
            let edits: Vec<Edit> = edits.into_iter().cloned().collect();
            assert_eq!(
                agree(text, &edits),
                (
                    json!({"metadata": {"name": "p"}, "spec": {"c": list}}),
                    by_text
                ),
                "{edits:?}"
            );
        }
        // Apart, they are made to the text.
        let apart = [
            Edit::Insert(path(&["spec", "c"]), 1, vec![json!(3)]),
            Edit::Set(path(&["metadata", "annotations", "a"]), json!("1")),
        ];
        assert_eq!(
            edited(text, &apart),
            json!({"metadata": {"name": "p", "annotations": {"a": "1"}}, "spec": {"c": [1, 3, 2]}})
        );
    }

    #[test]
    fn anything_but_an_object_is_left_alone() {
        for text in ["[1]", "\"x\"", "null"] {
            let edits = [Edit::Set(path(&["a"]), json!(1))];
            assert_eq!(apply(text, &edits).expect("JSON"), text);
        }
        // Nor does an edit without a path change anything, even an array's element.
        assert_eq!(
            edited("[1]", &[Edit::Replace(vec![], 0, json!(2))]),
            json!([1])
        );
    }

    #[test]
    fn text_that_is_not_json_is_refused_rather_than_edited() {
        // Neither the scan nor the tree can read it: no half-edited text comes back.
        let edits = [Edit::Set(
            path(&["metadata", "annotations", "k"]),
            json!("v"),
        )];
        for text in [
            "{not json",
            r#"{"metadata": {"annotations": {"k": }}}"#,
            r#"{"a": "#,
        ] {
            assert_eq!(apply(text, &edits), None, "{text}");
        }
    }

    fn document() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-c\"\\\\/{}\\[\\], ]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[ab\"]{1,2}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn key_path() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[ab\"]{1,2}", 1..4)
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (key_path(), document()).prop_map(|(p, v)| Edit::Set(p, v)),
            key_path().prop_map(Edit::Remove),
            (key_path(), 0..4usize, document()).prop_map(|(p, i, v)| Edit::Replace(p, i, v)),
            (
                key_path(),
                0..5usize,
                prop::collection::vec(document(), 0..3)
            )
                .prop_map(|(p, i, v)| Edit::Insert(p, i, v)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn one_edit_to_any_document_is_made_to_its_text(
            fields in prop::collection::btree_map("[ab\"]{1,2}", document(), 0..4),
            edit in edit(),
        ) {
            // A serialized tree has no key twice, so nothing sends one edit to the tree.
            let text = serde_json::to_string(&Value::Object(fields.into_iter().collect())).expect("serializes");
            edited(&text, &[edit]);
        }

        #[test]
        fn edits_to_any_document_agree(
            fields in prop::collection::btree_map("[ab\"]{1,2}", document(), 0..4),
            edits in prop::collection::vec(edit(), 1..4),
            pretty in any::<bool>(),
        ) {
            let document = Value::Object(fields.into_iter().collect());
            let text = if pretty {
                serde_json::to_string_pretty(&document)
            } else {
                serde_json::to_string(&document)
            }.expect("serializes");
            agree(&text, &edits);
        }
    }

    /// `edits` made to a parsed document: what they mean, which the text edits are held to (the tests), and
    /// how the tests make them to an object they build.
    pub(crate) fn apply_to_value(document: &mut Value, edits: &[Edit]) {
        for edit in edits {
            match edit {
                Edit::Set(path, value) => set(document, path, value.clone()),
                Edit::Remove(path) => {
                    if let Some((last, parents)) = path.split_last()
                        && let Some(parent) = object_at(document, parents)
                    {
                        parent.remove(last);
                    }
                }
                Edit::Replace(path, _, _) if path.is_empty() => {}
                Edit::Replace(path, index, value) => {
                    if let Some(slot) =
                        array_at(document, path).and_then(|list| list.get_mut(*index))
                    {
                        *slot = value.clone();
                    }
                }
                Edit::Insert(path, index, values) => {
                    let Some((last, parents)) = path.split_last() else {
                        continue;
                    };
                    let Some(parent) = object_at(document, parents) else {
                        continue;
                    };
                    let member = parent
                        .entry(last.as_str())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !member.is_array() {
                        *member = Value::Array(Vec::new());
                    }
                    if let Value::Array(list) = member {
                        let at = (*index).min(list.len());
                        list.splice(at..at, values.iter().cloned());
                    }
                }
            }
        }
    }

    fn set(document: &mut Value, path: &[String], value: Value) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        // Only an object's members are edited; anything else stays as it is.
        let Value::Object(object) = document else {
            return;
        };
        let mut at = object;
        for key in parents {
            let member = at
                .entry(key.as_str())
                .or_insert_with(|| Value::Object(Map::new()));
            if !member.is_object() {
                *member = Value::Object(Map::new());
            }
            let Value::Object(next) = member else {
                return;
            };
            at = next;
        }
        at.insert(last.clone(), value);
    }

    /// The object at `path`, if every step of it is one.
    fn object_at<'a>(
        document: &'a mut Value,
        path: &[String],
    ) -> Option<&'a mut Map<String, Value>> {
        path.iter()
            .try_fold(document, |value, key| value.as_object_mut()?.get_mut(key))?
            .as_object_mut()
    }

    fn array_at<'a>(document: &'a mut Value, path: &[String]) -> Option<&'a mut Vec<Value>> {
        path.iter()
            .try_fold(document, |value, key| value.as_object_mut()?.get_mut(key))?
            .as_array_mut()
    }
}
