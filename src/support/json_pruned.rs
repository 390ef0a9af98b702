//! Reading a JSON document into a tree of only the parts a reader looks at.
//!
//! A tree costs an allocation for every key and string and as much again to drop, and most of a Tekton
//! Pod's text (its steps' images, commands, arguments and environment) is never looked at by the policy.
//! Those parts are skipped by the parser, which still checks that they are JSON, and the tree holds only
//! what [`Keep`] names. The reader that declares a `Keep` must look at nothing else: a test reads every
//! fixture both ways and asks for the same answer.
//!
//! The skipped parts are checked to be JSON as serde's `IgnoredAny` checks it, which is looser than
//! serde_json's tree on three points: a number beyond `f64` (`1e400`), an escape that is half a
//! surrogate pair, and nesting deeper than 128 levels. None reaches the policy from policy-server or
//! kwctl, which read the request into such a tree before they send it; a caller that sends one gets its
//! text back as it was.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The parts of a value that are kept.
#[derive(Debug)]
pub enum Keep {
    /// The whole value.
    All,
    /// Of an object, these members, each as its `Keep` says; the others are left out.
    Members(&'static [(&'static str, Keep)]),
    /// Of an array, every element as the `Keep` says.
    Elements(&'static Keep),
}

/// The document `text` as a tree of what `keep` names. A value of another shape than its `Keep` expects
/// (an object's `null`, a list where an object goes) is an error: the caller reads the whole tree then,
/// which the API server's objects never need.
pub fn read(text: &str, keep: &Keep) -> serde_json::Result<Value> {
    let mut parser = serde_json::Deserializer::from_str(text);
    let value = Pruned(keep).deserialize(&mut parser)?;
    parser.end()?;
    Ok(value)
}

/// A value read as its `Keep` says.
struct Pruned<'k>(&'k Keep);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, parser: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => serde::Deserialize::deserialize(parser),
            Keep::Members(members) => parser.deserialize_map(Members(members)),
            Keep::Elements(keep) => parser.deserialize_seq(Elements(keep)),
        }
    }
}

/// An object, of which the members named are kept.
struct Members(&'static [(&'static str, Keep)]);

impl<'de> Visitor<'de> for Members {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            match self.0.iter().find(|(name, _)| *name == key) {
                Some((_, keep)) => {
                    let value = entries.next_value_seed(Pruned(keep))?;
                    object.insert(key, value);
                }
                None => {
                    entries.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// An array, each element kept as the `Keep` says.
struct Elements(&'static Keep);

impl<'de> Visitor<'de> for Elements {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut list = Vec::new();
        while let Some(item) = items.next_element_seed(Pruned(self.0))? {
            list.push(item);
        }
        Ok(Value::Array(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const CONTAINER: Keep = Keep::Members(&[("name", Keep::All), ("mounts", Keep::All)]);
    const POD: Keep = Keep::Members(&[
        ("metadata", Keep::All),
        (
            "spec",
            Keep::Members(&[("containers", Keep::Elements(&CONTAINER))]),
        ),
    ]);

    #[test]
    fn keeps_what_is_named_and_leaves_out_the_rest() {
        let text = r#"{"kind": "Pod", "metadata": {"name": "p", "x": [1, {"y": null}]},
            "spec": {"nodeName": "n", "containers": [{"name": "a", "args": ["-v"], "mounts": [{"m": 1.5}]},
            {"image": "i"}]}, "status": {"phase": "Pending"}}"#;
        assert_eq!(
            read(text, &POD).expect("read"),
            json!({"metadata": {"name": "p", "x": [1, {"y": null}]},
                   "spec": {"containers": [{"name": "a", "mounts": [{"m": 1.5}]}, {}]}})
        );
    }

    #[test]
    fn a_value_of_another_shape_is_refused() {
        for text in [
            r#"{"metadata": null, "spec": [{"containers": 1}]}"#,
            r#"{"spec": {"containers": {"name": "a", "args": []}}}"#,
            r#"{"spec": {"containers": [null]}}"#,
            r#"{"spec": null}"#,
            "[]",
        ] {
            assert!(read(text, &POD).is_err(), "{text}");
            assert!(read(text, &Keep::All).is_ok(), "{text}");
        }
    }

    #[test]
    fn what_is_left_out_must_still_be_json() {
        for text in [
            r#"{"status": {"phase": }}"#,
            r#"{"status": [1,]}"#,
            r#"{"spec": {}} x"#,
        ] {
            assert!(read(text, &POD).is_err(), "{text}");
        }
        // A tree as deep as serde_json reads one, and no deeper; what is left out is skipped without
        // recursion, at any depth.
        let nested = |depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let kept = format!("{{\"metadata\": {}}}", nested(200));
        assert!(read(&kept, &POD).is_err());
        let skipped = format!("{{\"status\": {}}}", nested(200));
        assert_eq!(read(&skipped, &POD).expect("skipped"), json!({}));
    }

    fn document() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z\"\\\\]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 60, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("metadata".to_string()),
                        Just("spec".to_string()),
                        Just("containers".to_string()),
                        Just("name".to_string()),
                        "[a-z]{1,3}"
                    ],
                    inner,
                    0..5
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn keeping_all_reads_what_serde_json_reads(document in document()) {
            let text = serde_json::to_string(&document).expect("serializes");
            prop_assert_eq!(read(&text, &Keep::All).expect("read"), document.clone());
            // What a pruned reading keeps is what the whole tree has at those places (when the document
            // has the shapes it expects).
            let Ok(pruned) = read(&text, &POD) else {
                return Ok(());
            };
            if let (Some(kept), Some(whole)) = (pruned.get("metadata"), document.get("metadata")) {
                prop_assert_eq!(kept, whole);
            }
            if let (Some(Value::Array(kept)), Some(Value::Array(whole))) = (
                pruned.pointer("/spec/containers"),
                document.pointer("/spec/containers"),
            ) {
                prop_assert_eq!(kept.len(), whole.len());
                for (kept, whole) in kept.iter().zip(whole) {
                    prop_assert_eq!(kept.get("name"), whole.get("name"));
                }
            }
        }
    }
}
