//! Reading a JSON value as a typed shape, in place: every field checked against the shape's names and
//! kinds, without deserializing it into types.
//!
//! A declared sidecar is JSON that the policy checks, judges and then writes back into a Pod or a Task.
//! Deserializing it into typed structs only to serialize it again cost more than everything else the
//! policy does with it, and the monomorphised deserializers were most of the module. This walker reads the
//! value where it is against a static table of its shape ([`Shape`]) and leaves it as the typed round trip
//! would have: `null` fields gone, quantities written as strings.
//!
//! Its messages are the serde messages a typed reading gives, in the same order: every unknown field met
//! before the first type error, else that error, with its path (`env[1].valeu: unknown field; did you
//! mean "value"?`, `ports[0].containerPort: is string "80", expected an integer`). The leaf values are
//! checked by serde itself, so a message is serde's to the letter.

use serde::Deserialize;
use serde::de::{Error as _, Unexpected};
use serde_json::{Map, Value};

use crate::support::error::{FieldError, MAX_LISTED};

/// The kind of a value.
#[derive(Debug)]
pub(crate) enum Shape {
    String,
    Bool,
    /// A 32-bit integer.
    Int32,
    /// A 64-bit integer.
    Int64,
    /// Kubernetes' `IntOrString`: a 32-bit integer or a string.
    IntOrString,
    /// Kubernetes' `Quantity`: a string, or a number, which is read as the string of its digits.
    Quantity,
    List(&'static Shape),
    /// A mapping from strings to values of one shape.
    Map(&'static Shape),
    Struct(&'static Struct),
}

/// A mapping with named fields.
#[derive(Debug)]
pub(crate) struct Struct {
    /// How a message names it: `expected Probe`.
    pub(crate) name: &'static str,
    /// In the order a message lists them.
    pub(crate) fields: &'static [Field],
}

/// One field of a [`Struct`].
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) shape: Shape,
    pub(crate) presence: Presence,
}

/// What a field's absence or `null` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// May be left out or `null`, which is the same (every field of a Kubernetes type).
    Optional,
    /// May be left out, but `null` is not a value of it.
    NotNull,
    /// Must be given, and not as `null`.
    Required,
}

/// A field that may be left out or `null`.
pub(crate) const fn field(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        shape,
        presence: Presence::Optional,
    }
}

impl Struct {
    /// The names of its fields, for a message.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + Clone {
        self.fields.iter().map(|f| f.name)
    }

    fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What a reading does with a field its shape does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// Reports it (what a person wrote).
    Report,
    /// Drops it (what the policy reads but does not report on: what Tekton wrote, what the policy carried).
    Drop,
}

/// Reads `value` as `shape`, in place. Fails with every unknown field met before the first type error
/// (with [`Unknown::Report`]), or else with that error.
pub(crate) fn read(
    value: &mut Value,
    shape: &Shape,
    unknown: Unknown,
) -> Result<(), Vec<FieldError>> {
    let mut reading = Reading {
        unknown,
        found: Vec::new(),
    };
    let failed = reading.visit(value, shape, Path::Root).err();
    match failed {
        // An unknown field is the likelier cause of a type error nearby (a misspelt key), so say it first.
        _ if !reading.found.is_empty() => Err(reading.found),
        Some(error) => Err(vec![error]),
        None => Ok(()),
    }
}

struct Reading {
    unknown: Unknown,
    /// The unknown fields reported so far.
    found: Vec<FieldError>,
}

impl Reading {
    fn visit(
        &mut self,
        value: &mut Value,
        shape: &Shape,
        path: Path<'_, '_>,
    ) -> Result<(), FieldError> {
        match shape {
            Shape::String => leaf::<String>(value, path),
            Shape::Bool => leaf::<bool>(value, path),
            Shape::Int32 => leaf::<i32>(value, path),
            Shape::Int64 => leaf::<i64>(value, path),
            Shape::IntOrString => int_or_string(value, path),
            Shape::Quantity => {
                // k8s-openapi's Quantity takes a number as the string `to_string` writes of it.
                let text = match &*value {
                    Value::String(_) => return Ok(()),
                    Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                        (Some(u), _, _) => u.to_string(),
                        (None, Some(i), _) => i.to_string(),
                        (None, None, f) => f.unwrap_or_default().to_string(),
                    },
                    other => return Err(wrong_kind(path, other, "Quantity")),
                };
                *value = Value::String(text);
                Ok(())
            }
            Shape::List(item) => match value {
                Value::Array(items) => {
                    for (i, value) in items.iter_mut().enumerate() {
                        self.visit(value, item, Path::Index(&path, i))?;
                    }
                    Ok(())
                }
                other => Err(wrong_kind(path, other, "a sequence")),
            },
            Shape::Map(item) => match value {
                Value::Object(map) => {
                    for (key, value) in map.iter_mut() {
                        self.visit(value, item, Path::Key(&path, key))?;
                    }
                    Ok(())
                }
                other => Err(wrong_kind(path, other, "a map")),
            },
            Shape::Struct(shape) => match value {
                Value::Object(map) => self.visit_struct(map, shape, path),
                other => Err(wrong_kind(path, other, shape.name)),
            },
        }
    }

    fn visit_struct(
        &mut self,
        map: &mut Map<String, Value>,
        shape: &'static Struct,
        path: Path<'_, '_>,
    ) -> Result<(), FieldError> {
        let mut dropped = false;
        if self.unknown == Unknown::Report {
            let mut rendered = None;
            for key in map.keys().filter(|key| shape.field(key).is_none()) {
                let parent = rendered.get_or_insert_with(|| path.render());
                // Past what a message lists, an unknown field is only counted: no suggestion is searched
                // for, nor the allowed fields listed, thousands of times over.
                let error = if self.found.len() < MAX_LISTED {
                    FieldError::unknown(parent, key, &shape.names().collect::<Vec<_>>())
                } else {
                    FieldError::new(format!("{parent}.{key}"), "unknown field")
                };
                self.found.push(error);
            }
        }
        for (key, value) in map.iter_mut() {
            let Some(field) = shape.field(key) else {
                dropped = true;
                continue;
            };
            if value.is_null() && field.presence == Presence::Optional {
                dropped = true;
                continue;
            }
            self.visit(value, &field.shape, Path::Key(&path, key))?;
        }
        if let Some(missing) = shape
            .fields
            .iter()
            .find(|f| f.presence == Presence::Required && !map.contains_key(f.name))
        {
            return Err(at(path, &serde_json::Error::missing_field(missing.name)));
        }
        if dropped {
            map.retain(|key, value| {
                shape
                    .field(key)
                    .is_some_and(|f| !(value.is_null() && f.presence == Presence::Optional))
            });
        }
        Ok(())
    }
}

/// A leaf value checked by serde's own reading of `T`, for serde's own message.
fn leaf<'a, T: Deserialize<'a>>(value: &'a Value, path: Path<'_, '_>) -> Result<(), FieldError> {
    T::deserialize(value)
        .map(drop)
        .map_err(|error| at(path, &error))
}

/// k8s-openapi's `IntOrString`: a string, or an integer that fits in 32 bits.
fn int_or_string(value: &Value, path: Path<'_, '_>) -> Result<(), FieldError> {
    let Value::Number(n) = value else {
        return match value {
            Value::String(_) => Ok(()),
            other => Err(wrong_kind(path, other, "IntOrString")),
        };
    };
    let unexpected = match (n.as_u64(), n.as_i64()) {
        (_, Some(i)) if i32::try_from(i).is_ok() => return Ok(()),
        (Some(u), _) => Unexpected::Unsigned(u),
        (None, Some(i)) => Unexpected::Signed(i),
        (None, None) => return Err(wrong_kind(path, value, "IntOrString")),
    };
    Err(at(
        path,
        &serde_json::Error::invalid_value(unexpected, &"a 32-bit integer"),
    ))
}

/// The message a typed reading gives for `value` where it expects `expected`.
fn wrong_kind(path: Path<'_, '_>, value: &Value, expected: &str) -> FieldError {
    let unexpected = match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (None, Some(i), _) => Unexpected::Signed(i),
            (None, None, f) => Unexpected::Float(f.unwrap_or_default()),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    };
    at(
        path,
        &serde_json::Error::invalid_type(unexpected, &expected),
    )
}

fn at(path: Path<'_, '_>, error: &serde_json::Error) -> FieldError {
    FieldError::new(path.render(), type_message(&error.to_string()))
}

/// serde's messages name Rust types; say what a field wants in the words of the YAML a person wrote.
pub(crate) fn type_message(message: &str) -> String {
    let message = message
        .replace("invalid type: ", "")
        .replace("a sequence", "a list")
        .replace("a map", "a mapping")
        .replace("struct ", "");
    let Some((found, expected)) = message.split_once(", expected ") else {
        return message;
    };
    // serde names what it found without an article ("sequence", "map"), and other values with one; a
    // boolean reads best as its value alone.
    let found = match found {
        "sequence" => "a list",
        "map" => "a mapping",
        other => other.strip_prefix("boolean ").unwrap_or(other),
    };
    let expected = match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        other => other,
    };
    format!("is {found}, expected {expected}")
}

/// Where a value is: the keys and indexes from the root, each a reference to its parent's, which lives in
/// the caller's frame. It is written out only when a message needs it; nearly every value is read
/// without one.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a, 'p> {
    Root,
    Key(&'p Path<'a, 'p>, &'a str),
    Index(&'p Path<'a, 'p>, usize),
}

impl Path<'_, '_> {
    /// `spec.containers[0].name`.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        self.write(&mut text);
        text
    }

    fn write(&self, text: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.write(text);
                if !text.is_empty() && !key.starts_with('[') {
                    text.push('.');
                }
                text.push_str(key);
            }
            Path::Index(parent, i) => {
                parent.write(text);
                text.push('[');
                text.push_str(&i.to_string());
                text.push(']');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    const PORT: Struct = Struct {
        name: "ContainerPort",
        fields: &[
            field("containerPort", Shape::Int32),
            field("hostIP", Shape::String),
            field("name", Shape::String),
        ],
    };
    const LIMITS: Shape = Shape::Map(&Shape::Quantity);
    const USAGE: Struct = Struct {
        name: "WorkspaceUsage",
        fields: &[
            Field {
                name: "name",
                shape: Shape::String,
                presence: Presence::Required,
            },
            Field {
                name: "mountPath",
                shape: Shape::String,
                presence: Presence::NotNull,
            },
        ],
    };
    const ROOT: Struct = Struct {
        name: "Root",
        fields: &[
            field("ports", Shape::List(&Shape::Struct(&PORT))),
            field("limits", LIMITS),
            field("port", Shape::IntOrString),
            field("workspaces", Shape::List(&Shape::Struct(&USAGE))),
            field("tty", Shape::Bool),
            field("user", Shape::Int64),
        ],
    };

    fn reading(mut value: Value, unknown: Unknown) -> Result<Value, Vec<String>> {
        read(&mut value, &Shape::Struct(&ROOT), unknown)
            .map(|()| value)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[rstest]
    #[case::nulls_go(json!({"ports": [{"containerPort": 1, "name": null}], "tty": null}), json!({"ports": [{"containerPort": 1}]}))]
    #[case::quantities_become_strings(json!({"limits": {"cpu": 1, "memory": "1Gi", "x": -2, "y": 0.5}}), json!({"limits": {"cpu": "1", "memory": "1Gi", "x": "-2", "y": "0.5"}}))]
    #[case::int_or_string(json!({"port": "http"}), json!({"port": "http"}))]
    fn a_value_of_its_shape_is_left_as_a_typed_reading_leaves_it(
        #[case] value: Value,
        #[case] expected: Value,
    ) {
        assert_eq!(reading(value, Unknown::Report), Ok(expected));
    }

    #[rstest]
    #[case::unknown_with_hint(json!({"ports": [{"containerPort": 1, "nmae": "x"}]}), vec!["ports[0].nmae: unknown field; did you mean \"name\"?"])]
    #[case::unknown_before_type_error(json!({"ports": [{"containerPort": "x", "zz": 1}]}), vec!["ports[0].zz: unknown field; the fields allowed here are containerPort, hostIP, name"])]
    #[case::string_for_int(json!({"ports": [{"containerPort": "80"}]}), vec!["ports[0].containerPort: is string \"80\", expected an integer"])]
    #[case::float_for_int(json!({"user": 1.5}), vec!["user: is floating point `1.5`, expected an integer"])]
    #[case::int_out_of_range(json!({"ports": [{"containerPort": 3_000_000_000_u64}]}), vec!["ports[0].containerPort: is invalid value: integer `3000000000`, expected an integer"])]
    #[case::bool(json!({"tty": "yes"}), vec!["tty: is string \"yes\", expected true or false"])]
    #[case::list_for_struct(json!({"ports": [[1]]}), vec!["ports[0]: is a list, expected ContainerPort"])]
    #[case::mapping_for_list(json!({"ports": {"a": 1}}), vec!["ports: is a mapping, expected a list"])]
    #[case::list_for_map(json!({"limits": [1]}), vec!["limits: is a list, expected a mapping"])]
    #[case::null_quantity(json!({"limits": {"cpu": null}}), vec!["limits.cpu: is null, expected Quantity"])]
    #[case::bool_quantity(json!({"limits": {"cpu": true}}), vec!["limits.cpu: is `true`, expected Quantity"])]
    #[case::float_port(json!({"port": 1.5}), vec!["port: is floating point `1.5`, expected IntOrString"])]
    #[case::big_port(json!({"port": 3_000_000_000_u64}), vec!["port: is invalid value: integer `3000000000`, expected a 32-bit integer"])]
    #[case::required(json!({"workspaces": [{"mountPath": "/w"}]}), vec!["workspaces[0]: missing field `name`"])]
    #[case::not_null(json!({"workspaces": [{"name": "w", "mountPath": null}]}), vec!["workspaces[0].mountPath: is null, expected a string"])]
    fn a_value_of_another_shape_gets_serde_s_message(
        #[case] value: Value,
        #[case] expected: Vec<&str>,
    ) {
        assert_eq!(
            reading(value, Unknown::Report),
            Err(expected.into_iter().map(String::from).collect())
        );
    }

    #[test]
    fn unknown_fields_are_dropped_when_not_reported() {
        assert_eq!(
            reading(
                json!({"ports": [{"containerPort": 1, "extra": {"x": 1}}], "other": 1}),
                Unknown::Drop
            ),
            Ok(json!({"ports": [{"containerPort": 1}]}))
        );
    }

    #[test]
    fn the_first_type_error_ends_the_reading() {
        // Keys are visited in order: `limits` fails before `ports` is looked at.
        assert_eq!(
            reading(
                json!({"limits": {"cpu": []}, "ports": [{"zz": 1}]}),
                Unknown::Report
            ),
            Err(vec!["limits.cpu: is a list, expected Quantity".to_string()])
        );
    }
}
