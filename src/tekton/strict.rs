//! A serde `Deserializer` over a JSON value that records every mapping key the target type does not know:
//! how the policy read a declared sidecar before `shape.rs`, kept as the oracle that reading is held to
//! (`sidecar_oracle.rs`, its only user: this is test code), with k8s-openapi's types.
//!
//! k8s-openapi's types skip unknown keys silently, so `env: [{name: A, valeu: "1"}]` would lose its value
//! without a word. Every derived or generated struct names its fields when it calls `deserialize_struct`;
//! this wrapper compares them with the keys actually given and records the difference, with the path and
//! the fields that are allowed there, before letting the type deserialize as usual.

use std::cell::RefCell;

use serde::de::{
    self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
    value::BorrowedStrDeserializer,
};
use serde_json::{Map, Value};

use crate::support::error::{FieldError, MAX_LISTED};
use crate::support::shape::{Path, type_message};

/// Deserializes `T` from `value`, failing on the first type error (with its path) or, when the types all
/// fit, on every unknown field found anywhere in the value.
pub fn from_value<'a, T: de::Deserialize<'a>>(value: &'a Value) -> Result<T, Vec<FieldError>> {
    deserialize(value, true)
}

fn deserialize<'a, T: de::Deserialize<'a>>(
    value: &'a Value,
    report_unknown: bool,
) -> Result<T, Vec<FieldError>> {
    let context = Context {
        report_unknown,
        ..Context::default()
    };
    let result = T::deserialize(Strict {
        value,
        path: Path::Root,
        context: &context,
    });
    let unknown = context.unknown.into_inner();
    match result {
        // An unknown field is the likelier cause of a type error nearby (a misspelt key), so say it first.
        _ if !unknown.is_empty() => Err(unknown),
        Ok(parsed) => Ok(parsed),
        Err(err) => {
            let path = context.failed_at.into_inner().unwrap_or_default();
            Err(vec![FieldError::new(path, type_message(&err.to_string()))])
        }
    }
}

/// What a deserialization found besides its result: the unknown fields, and where the first error was.
#[derive(Default)]
struct Context {
    report_unknown: bool,
    unknown: RefCell<Vec<FieldError>>,
    /// The innermost path that failed: errors are met on the way down and recorded first there.
    failed_at: RefCell<Option<String>>,
}

struct Strict<'a, 'u, 'p> {
    value: &'a Value,
    path: Path<'a, 'p>,
    context: &'u Context,
}

impl<'a, 'u, 'p> Strict<'a, 'u, 'p> {
    /// Notes where `result` failed, unless a deeper call already did.
    fn track<T>(
        context: &Context,
        path: Path<'_, '_>,
        result: Result<T, serde_json::Error>,
    ) -> Result<T, serde_json::Error> {
        if result.is_err() {
            context
                .failed_at
                .borrow_mut()
                .get_or_insert_with(|| path.render());
        }
        result
    }

    fn visit_map<V: Visitor<'a>>(
        self,
        map: &'a Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        visitor.visit_map(StrictMap {
            parent: self,
            entries: map.iter(),
            pending: None,
        })
    }

    fn visit_seq<V: Visitor<'a>>(
        self,
        items: &'a [Value],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        visitor.visit_seq(StrictSeq {
            parent: self,
            items: items.iter().enumerate(),
        })
    }
}

macro_rules! delegate {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            Self::track(self.context, self.path, self.value.$method(visitor))
        })*
    };
}

impl<'a> Deserializer<'a> for Strict<'a, '_, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let (context, path) = (self.context, self.path);
        let result = match self.value {
            Value::Object(map) => self.visit_map(map, visitor),
            Value::Array(items) => self.visit_seq(items, visitor),
            other => other.deserialize_any(visitor),
        };
        Self::track(context, path, result)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let (context, path) = (self.context, self.path);
        let result = match self.value {
            Value::Object(map) => {
                let unknown = map
                    .keys()
                    .filter(|key| context.report_unknown && !fields.contains(&key.as_str()));
                let mut found = context.unknown.borrow_mut();
                let mut rendered = None;
                for key in unknown {
                    let path = rendered.get_or_insert_with(|| path.render());
                    // Past what a message lists, an unknown field is only counted: no suggestion is
                    // searched for, nor the allowed fields listed, thousands of times over.
                    let error = if found.len() < MAX_LISTED {
                        FieldError::unknown(path, key, fields)
                    } else {
                        FieldError::new(format!("{path}.{key}"), "unknown field")
                    };
                    found.push(error);
                }
                drop(found);
                self.visit_map(map, visitor)
            }
            other => other.deserialize_struct(name, fields, visitor),
        };
        Self::track(context, path, result)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let (context, path) = (self.context, self.path);
        let result = match self.value {
            Value::Object(map) => self.visit_map(map, visitor),
            other => other.deserialize_map(visitor),
        };
        Self::track(context, path, result)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let (context, path) = (self.context, self.path);
        let result = match self.value {
            Value::Array(items) => self.visit_seq(items, visitor),
            other => other.deserialize_seq(visitor),
        };
        Self::track(context, path, result)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Self::track(
            self.context,
            self.path,
            self.value.deserialize_unit_struct(name, visitor),
        )
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Self::track(
            self.context,
            self.path,
            self.value.deserialize_enum(name, variants, visitor),
        )
    }

    delegate! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier deserialize_ignored_any
    }
}

struct StrictMap<'a, 'u, 'p> {
    parent: Strict<'a, 'u, 'p>,
    entries: serde_json::map::Iter<'a>,
    pending: Option<(&'a String, &'a Value)>,
}

impl<'a> MapAccess<'a> for StrictMap<'a, '_, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some(entry);
        let key = BorrowedStrDeserializer::<serde_json::Error>::new(entry.0.as_str());
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("value requested before its key"))?;
        seed.deserialize(Strict {
            value,
            path: Path::Key(&self.parent.path, key),
            context: self.parent.context,
        })
    }
}

struct StrictSeq<'a, 'u, 'p> {
    parent: Strict<'a, 'u, 'p>,
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
}

impl<'a> SeqAccess<'a> for StrictSeq<'a, '_, '_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.items.next() {
            Some((i, value)) => seed
                .deserialize(Strict {
                    value,
                    path: Path::Index(&self.parent.path, i),
                    context: self.parent.context,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, Probe};
    use serde_json::json;

    fn errors<T: for<'a> de::Deserialize<'a> + std::fmt::Debug>(value: Value) -> Vec<String> {
        from_value::<T>(&value)
            .expect_err("must fail")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn finds_unknown_fields_at_any_depth_with_the_allowed_names() {
        let found = errors::<Container>(json!({
            "name": "c",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "valeu": "2"}],
            "readinessProbe": {"exec": {"commnd": ["true"]}},
        }));
        assert_eq!(
            found,
            vec![
                "env[1].valeu: unknown field; did you mean \"value\"?",
                "readinessProbe.exec.commnd: unknown field; did you mean \"command\"?",
            ]
        );
    }

    #[test]
    fn type_errors_carry_their_path() {
        let found = errors::<Probe>(json!({"tcpSocket": {"port": 5432}, "periodSeconds": "often"}));
        assert_eq!(
            found,
            vec!["periodSeconds: is string \"often\", expected an integer"]
        );
    }

    #[test]
    fn accepts_what_kubernetes_accepts() {
        let container: Container = from_value(&json!({
            "name": "c", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
            "livenessProbe": {"httpGet": {"port": "http", "path": "/"}},
        }))
        .expect("valid container");
        assert_eq!(
            container.resources.and_then(|r| r.limits).expect("limits")["cpu"].0,
            "1"
        );
    }
}
