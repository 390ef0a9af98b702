//! Reading a JSON document into a tree of only the parts a reader looks at.
//!
//! A tree costs an allocation for every key and string and as much again to drop, and most of a Tekton
//! Pod's text (its steps' images, commands, arguments and environment) is never looked at by the policy.
//! Those parts are skipped by the parser, which still checks that they are JSON, and the tree holds only
//! what [`Keep`] names. The reader that declares a `Keep` must look at nothing else: a test reads every
//! fixture both ways and asks for the same answer.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer as _;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The parts of a value that are kept.
#[derive(Debug)]
pub enum Keep {
    /// The whole value.
    All,
    /// Of an object, these members, each as its `Keep` says; the others are left out. Any other value is
    /// kept whole.
    Members(&'static [(&'static str, Keep)]),
    /// Of an array, every element as the `Keep` says. Any other value is kept whole.
    Elements(&'static Keep),
}

/// The document `text`, an object: its member `typed` read as a `T`, and the other members as a tree of
/// what `keep` names. A caller that wants a member typed would otherwise build it twice, as a tree and
/// from the tree.
pub fn read_split<T: DeserializeOwned>(
    text: &str,
    typed: &str,
    keep: &Keep,
) -> serde_json::Result<(Option<T>, Value)> {
    let mut parser = serde_json::Deserializer::from_str(text);
    let split = parser.deserialize_map(Split {
        typed,
        keep,
        found: PhantomData,
    })?;
    parser.end()?;
    Ok(split)
}

/// The top-level object, split into the typed member and the tree of the others.
struct Split<'k, T> {
    typed: &'k str,
    keep: &'k Keep,
    found: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Split<'_, T> {
    type Value = (Option<T>, Value);

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let mut typed = None;
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            if key == self.typed {
                typed = Some(entries.next_value::<T>()?);
            } else {
                member(&mut entries, &mut object, key, self.keep)?;
            }
        }
        Ok((typed, Value::Object(object)))
    }
}

/// The member `key`, whose value is next in `entries`, added to `object` if the object's `keep` names it.
fn member<'de, A: MapAccess<'de>>(
    entries: &mut A,
    object: &mut Map<String, Value>,
    key: String,
    keep: &Keep,
) -> Result<(), A::Error> {
    let keep = match keep {
        Keep::Members(members) => members
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, keep)| keep),
        _ => Some(&Keep::All),
    };
    match keep {
        Some(keep) => {
            let value = entries.next_value_seed(Pruned(keep))?;
            object.insert(key, value);
        }
        None => {
            entries.next_value::<IgnoredAny>()?;
        }
    }
    Ok(())
}

/// A value read as its `Keep` says.
struct Pruned<'k>(&'k Keep);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, parser: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => serde::Deserialize::deserialize(parser),
            _ => parser.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let keep = match self.0 {
            Keep::Elements(keep) => keep,
            _ => &Keep::All,
        };
        let mut list = Vec::new();
        while let Some(item) = items.next_element_seed(Pruned(keep))? {
            list.push(item);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            member(&mut entries, &mut object, key, self.0)?;
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The document `text` as a tree of what `keep` names.
    fn read(text: &str, keep: &Keep) -> serde_json::Result<Value> {
        let mut parser = serde_json::Deserializer::from_str(text);
        let value = Pruned(keep).deserialize(&mut parser)?;
        parser.end()?;
        Ok(value)
    }

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
            {"image": "i"}, "not a container"]}, "status": {"phase": "Pending"}}"#;
        assert_eq!(
            read(text, &POD).expect("read"),
            json!({"metadata": {"name": "p", "x": [1, {"y": null}]},
                   "spec": {"containers": [{"name": "a", "mounts": [{"m": 1.5}]}, {}, "not a container"]}})
        );
    }

    #[test]
    fn a_member_read_typed_is_left_out_of_the_tree() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Meta {
            name: String,
        }
        let text = r#"{"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "a", "args": []}]}}"#;
        let (meta, tree) = read_split::<Meta>(text, "metadata", &POD).expect("read");
        assert_eq!(meta, Some(Meta { name: "p".into() }));
        assert_eq!(tree, json!({"spec": {"containers": [{"name": "a"}]}}));
        assert_eq!(
            read_split::<Meta>(r#"{"spec": {}}"#, "metadata", &POD).expect("read"),
            (None, json!({"spec": {}}))
        );
        // Neither a document of another shape nor a member of another type is read.
        assert!(read_split::<Meta>("[]", "metadata", &POD).is_err());
        assert!(read_split::<Meta>(r#"{"metadata": {"name": 1}}"#, "metadata", &POD).is_err());
    }

    #[test]
    fn a_value_of_another_shape_is_kept_whole() {
        let text = r#"{"metadata": null, "spec": [{"containers": 1}]}"#;
        assert_eq!(
            read(text, &POD).expect("read"),
            json!({"metadata": null, "spec": [{"containers": 1}]})
        );
        let text = r#"{"spec": {"containers": {"name": "a", "args": []}}}"#;
        assert_eq!(
            read(text, &POD).expect("read"),
            json!({"spec": {"containers": {"name": "a", "args": []}}})
        );
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
            // What a pruned reading keeps is what the whole tree has at those places.
            let pruned = read(&text, &POD).expect("read");
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
