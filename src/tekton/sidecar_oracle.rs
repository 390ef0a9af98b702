//! The rule of `sidecar_type.rs` and `support/k8s_types.rs`, tested: a sidecar is read as it was read when
//! it was deserialized into k8s-openapi's types with the strict deserializer (`support/strict.rs`), the
//! reading that Kubernetes' own field lists and kinds stand behind.
//!
//! Declarations are generated from the shape tables, then damaged (a value of another kind, `null`, an
//! unknown or misspelt key, an integer out of range), and each is read both ways. Where both accept it,
//! the JSON written is the same, but for the empty values k8s-openapi writes for a required field left
//! out (`port: 0`), which Kubernetes reads alike. Where both refuse it, the messages are the same, but
//! for one difference, on purpose: an unknown field in one entry of `workspaces` no longer hides those of
//! the entries after it. And a `workspaces` entry written as a list, which serde's derive took as the
//! fields in order, is refused.

use k8s_openapi::api::core::v1::{
    ContainerPort, EnvFromSource, EnvVar, Lifecycle, Probe, ResourceRequirements, SecurityContext,
    VolumeDevice, VolumeMount,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::sidecar::{FIELDS, parse};
use super::sidecar_type::SIDECAR;
use crate::support::error::FieldError;
use crate::support::shape::{Presence, Shape, Struct};

use super::strict;

/// The Sidecar as the policy typed it before: k8s-openapi's types for the Kubernetes parts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Typed {
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ports: Option<Vec<ContainerPort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env_from: Option<Vec<EnvFromSource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env: Option<Vec<EnvVar>>,
    #[serde(default, alias = "resources", skip_serializing_if = "Option::is_none")]
    compute_resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volume_mounts: Option<Vec<VolumeMount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volume_devices: Option<Vec<VolumeDevice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    startup_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lifecycle: Option<Lifecycle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    termination_message_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    termination_message_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdin_once: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workspaces: Option<Vec<WorkspaceUsage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart_policy: Option<String>,
}

/// Tekton's `WorkspaceUsage`: a sidecar asks for a Task workspace, optionally at its own path.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WorkspaceUsage {
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    mount_path: String,
}

/// The old `sidecar::parse`: the same top-level checks, then the strict deserializer into [`Typed`].
fn typed(value: &Value) -> Result<Value, Vec<String>> {
    let Value::Object(fields) = value else {
        return Err(vec!["not a mapping".to_string()]);
    };
    let allowed = &FIELDS[..FIELDS.len() - 1];
    let mut errors: Vec<FieldError> = fields
        .keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| FieldError::unknown("", key, &FIELDS))
        .collect();
    let misspelt = !errors.is_empty();
    let both = fields.contains_key("computeResources") && fields.contains_key("resources");
    if both {
        errors.push(FieldError::new(
            "resources",
            "give either computeResources (v1) or resources (v1beta1), not both",
        ));
    }
    let known: Map<String, Value> = fields
        .iter()
        .filter(|(key, _)| allowed.contains(&key.as_str()) && !(both && *key == "resources"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    match strict::from_value::<Typed>(&Value::Object(known)) {
        Ok(sidecar) if errors.is_empty() => {
            return Ok(serde_json::to_value(sidecar).expect("serializes"));
        }
        Ok(_) => {}
        Err(found) => errors.extend(found),
    }
    match fields.get("name") {
        Some(Value::String(name)) => {
            if let Some(problem) = super::sidecar::name_problem(name) {
                errors.push(FieldError::new("name", problem));
            }
        }
        None => errors.push(FieldError::new("name", "is required")),
        Some(_) => {}
    }
    if !misspelt && fields.get("image").is_none_or(Value::is_null) {
        errors.push(FieldError::new("image", "is required"));
    }
    Err(errors.iter().map(ToString::to_string).collect())
}

/// The new reading, in the same terms.
fn shaped(value: &Value) -> Result<Value, Vec<String>> {
    parse(value.clone())
        .map(|sidecar| Value::Object(sidecar.fields().clone()))
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// The empty value k8s-openapi writes for a required field left out.
fn is_empty_value(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.is_empty()) || value == &json!(0)
}

/// `a` and `b` alike, but for fields one has with an empty value where the other has none.
fn alike(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let one_sided = |x: &Map<String, Value>, y: &Map<String, Value>| {
                x.iter()
                    .filter(|(key, _)| !y.contains_key(*key))
                    .all(|(_, value)| is_empty_value(value))
            };
            one_sided(a, b)
                && one_sided(b, a)
                && a.iter()
                    .filter_map(|(key, value)| Some((value, b.get(key)?)))
                    .all(|(x, y)| alike(x, y))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| alike(x, y))
        }
        _ => a == b,
    }
}

/// Whether the two readings agree, as the module comment has it.
fn agree(value: &Value) -> Result<(), String> {
    let workspaces_as_lists = value
        .get("workspaces")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(Value::is_array));
    if workspaces_as_lists {
        return Ok(());
    }
    let (old, new) = (typed(value), shaped(value));
    let same = match (&old, &new) {
        (Ok(old), Ok(new)) => alike(old, new),
        (Err(old), Err(new)) => {
            // k8s-openapi's reading stops at the first unknown field of the workspaces (Tekton's own
            // type, read by serde's derive); the shapes report every one, where it is. So the old
            // messages come in the same order, and any more are unknown fields of the workspaces
            // after the first.
            let unknown_workspace_field =
                |m: &String| m.starts_with("workspaces[") && m.contains(": unknown field");
            let mut extras = Vec::new();
            let mut expected = old.iter().peekable();
            for message in new {
                if expected.peek() == Some(&message) {
                    expected.next();
                } else {
                    extras.push(message);
                }
            }
            expected.peek().is_none()
                && extras.iter().all(|m| unknown_workspace_field(m))
                && (extras.is_empty() || old.iter().any(unknown_workspace_field))
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(format!("{value}\n  typed:  {old:?}\n  shaped: {new:?}"))
    }
}

/// A small deterministic generator of values of a shape, damaged now and then.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// A value of some other kind than the shape's.
    fn stray(&mut self) -> Value {
        self.pick(&[
            Value::Null,
            json!(true),
            json!(7),
            json!(-3),
            json!(2.5),
            json!(1e3),
            json!("a sequence"),
            json!("x"),
            json!([1]),
            json!({"k": 1}),
            json!([]),
            json!({}),
        ])
    }

    fn value(&mut self, shape: &Shape, depth: usize) -> Value {
        if self.chance(2) {
            return self.stray();
        }
        match shape {
            Shape::String => self.pick(&[
                json!(""),
                json!("a"),
                json!("/data"),
                json!("$(params.p)"),
                json!("Always"),
                json!("Localhost"),
            ]),
            Shape::Bool => json!(self.chance(50)),
            Shape::Int32 | Shape::Int64 | Shape::IntOrString => self.pick(&[
                json!(0),
                json!(80),
                json!(5432),
                json!(-1),
                json!(2_147_483_648_u64),
                json!(-2_147_483_649_i64),
                json!(9_223_372_036_854_775_808_u64),
                json!("http"),
                json!(1.5),
            ]),
            Shape::Quantity => self.pick(&[
                json!("1"),
                json!("500m"),
                json!("1Gi"),
                json!(1),
                json!(0.5),
                json!(-2),
                json!(1e21),
                json!(18_446_744_073_709_551_615_u64),
            ]),
            Shape::List(item) => {
                let n = if depth > 5 { 0 } else { self.below(3) };
                Value::Array((0..n).map(|_| self.value(item, depth + 1)).collect())
            }
            Shape::Map(item) => {
                let n = if depth > 5 { 0 } else { self.below(3) };
                let keys = ["cpu", "memory", "nvidia.com/gpu"];
                Value::Object(
                    (0..n)
                        .map(|i| (keys[i].to_string(), self.value(item, depth + 1)))
                        .collect(),
                )
            }
            Shape::Struct(shape) => Value::Object(self.fields(shape, depth)),
        }
    }

    fn fields(&mut self, shape: &Struct, depth: usize) -> Map<String, Value> {
        let mut map = Map::new();
        for field in shape.fields {
            let wanted = match field.presence {
                Presence::Required => 90,
                _ if depth == 0 => 35,
                _ => 40,
            };
            if depth > 6 || !self.chance(wanted) {
                continue;
            }
            let value = if self.chance(3) {
                Value::Null
            } else {
                self.value(&field.shape, depth + 1)
            };
            map.insert(field.name.to_string(), value);
        }
        if self.chance(3) {
            // An unknown key: a misspelt field (a suggestion), or none like any (the list of fields).
            let key = match shape.fields.get(self.below(shape.fields.len().max(1))) {
                Some(field) if self.chance(60) => {
                    let mut letters: Vec<char> = field.name.chars().collect();
                    if letters.len() > 3 {
                        letters.swap(1, 2);
                    }
                    letters.push('x');
                    letters.into_iter().collect()
                }
                _ => "zz".to_string(),
            };
            map.insert(key, json!(1));
        }
        map
    }

    /// A declared sidecar: mostly one that reads, often with one thing wrong.
    fn sidecar(&mut self) -> Value {
        let Shape::Struct(shape) = &SIDECAR else {
            panic!("a Sidecar is a mapping")
        };
        let mut map = self.fields(shape, 0);
        if self.chance(70) {
            map.insert("name".to_string(), json!("db"));
            map.insert("image".to_string(), json!("postgres:16"));
        }
        if self.chance(3) {
            map.insert("template".to_string(), json!("redis"));
        }
        Value::Object(map)
    }
}

#[test]
fn the_tables_name_k8s_openapi_s_fields() {
    // With a key near no field, a message lists every field k8s-openapi's type has, in its order.
    let value = json!({"name": "db", "image": "p", "readinessProbe": {"httpGet": {"port": 1, "zz": 1}},
        "securityContext": {"zz": 1}, "env": [{"name": "A", "valueFrom": {"zz": 1}}]});
    assert_eq!(typed(&value), shaped(&value));
    assert!(shaped(&value).expect_err("unknown").len() == 3);
}

#[test]
fn a_workspaces_entry_written_as_a_list_is_refused() {
    let value = json!({"name": "db", "image": "p", "workspaces": [["source", "/src"]]});
    assert!(
        typed(&value).is_ok(),
        "serde's derive took it as the fields in order"
    );
    assert_eq!(
        shaped(&value),
        Err(vec![
            "workspaces[0]: is a list, expected WorkspaceUsage".to_string()
        ])
    );
}

#[test]
fn every_unknown_field_of_the_workspaces_is_reported() {
    let value = json!({"name": "db", "image": "p", "workspaces": [{"name": "a", "zz": 1}, {"name": "b", "yy": 1}]});
    assert_eq!(typed(&value).expect_err("unknown").len(), 1);
    assert_eq!(
        shaped(&value),
        Err(vec![
            "workspaces[0].zz: unknown field; the fields allowed here are name, mountPath"
                .to_string(),
            "workspaces[1].yy: unknown field; the fields allowed here are name, mountPath"
                .to_string(),
        ])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn a_sidecar_is_read_as_k8s_openapi_reads_it(seed in any::<u64>()) {
        let value = Gen(seed | 1).sidecar();
        if let Err(difference) = agree(&value) {
            prop_assert!(false, "{}", difference);
        }
    }
}
