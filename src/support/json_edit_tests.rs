//! The rule of `json_edit.rs`, tested: an edit made to the text means what it means made to the tree.

use super::json_edit::{Edit, apply, by_text, path};
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
                if let Some(slot) = array_at(document, path).and_then(|list| list.get_mut(*index)) {
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
fn object_at<'a>(document: &'a mut Value, path: &[String]) -> Option<&'a mut Map<String, Value>> {
    path.iter()
        .try_fold(document, |value, key| value.as_object_mut()?.get_mut(key))?
        .as_object_mut()
}

fn array_at<'a>(document: &'a mut Value, path: &[String]) -> Option<&'a mut Vec<Value>> {
    path.iter()
        .try_fold(document, |value, key| value.as_object_mut()?.get_mut(key))?
        .as_array_mut()
}
