//! The Tekton v1 `Sidecar` a declaration spells out, and the checks Tekton and Kubernetes apply to it.
//!
//! The field list follows `pkg/apis/pipeline/v1/container_types.go` (`type Sidecar struct`) in
//! tektoncd/pipeline. The Kubernetes parts are read with the shapes of their Kubernetes types
//! (`support::k8s_types`) so that they mean exactly what the API server will make of them; the
//! Tekton-only parts (`script`, `workspaces`) are Tekton's own.

use std::collections::BTreeSet;

use serde_json::Value;

use super::sidecar_type::SIDECAR;
use crate::support::error::{FieldError, shortened};
use crate::support::json::kind_of;
use crate::support::k8s::is_dns_label;
use crate::support::shape::{self, Unknown};
use crate::tekton::variables::{has_variable, sidecar_container_name};
use crate::tekton::{INTERNAL_VOLUME_PREFIXES, RESERVED_NAME};

pub use super::sidecar_type::{FIELDS, Sidecar};

/// Reads one JSON object as a [`Sidecar`], reporting every unknown or mistyped field with its path.
pub fn parse(value: Value) -> Result<Sidecar, Vec<FieldError>> {
    let Value::Object(mut fields) = value else {
        return Err(vec![FieldError::new(
            "",
            format!(
                "must be a mapping of sidecar fields, not {}",
                kind_of(&value)
            ),
        )]);
    };
    // Checked here rather than by the shape so that the hint can include `template`.
    let allowed = FIELDS
        .split_last()
        .map_or(&FIELDS[..], |(_, sidecar_fields)| sidecar_fields);
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
    // Every problem at once: the known fields are read even when others are wrong, so that one round of
    // `kubectl create` shows the misspelt key, the mistyped value deeper down and the bad name together.
    if !errors.is_empty() {
        fields.retain(|key, _| allowed.contains(&key.as_str()) && !(both && key == "resources"));
    }
    let name = match fields.get("name") {
        Some(Value::String(name)) => name_problem(name),
        None => Some("is required".to_string()),
        Some(_) => None,
    };
    let no_image = fields.get("image").is_none_or(Value::is_null);
    let mut value = Value::Object(fields);
    match shape::read(&mut value, &SIDECAR, Unknown::Report) {
        Ok(()) if errors.is_empty() => {
            let Value::Object(mut fields) = value else {
                return Err(errors);
            };
            if let Some(resources) = fields.remove("resources") {
                fields.insert("computeResources".to_string(), resources);
            }
            return Ok(Sidecar(fields));
        }
        Ok(()) => {}
        Err(found) => errors.extend(found),
    }
    // What `check` would say of the name and the image, which it cannot see without a sidecar.
    if let Some(problem) = name {
        errors.push(FieldError::new("name", problem));
    }
    if !misspelt && no_image {
        errors.push(FieldError::new("image", "is required"));
    }
    Err(errors)
}

/// Tekton's and Kubernetes' own rules for one sidecar, each reported against its field.
pub fn check(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(problem) = name_problem(sidecar.name()) {
        errors.push(FieldError::new("name", problem));
    }
    if sidecar
        .text("image")
        .is_none_or(|image| image.trim().is_empty())
    {
        errors.push(FieldError::new("image", "is required"));
    }
    let script = sidecar.text("script");
    if let Some(script) = script
        && !script.starts_with("#!")
        && script.trim_start().starts_with("#!")
    {
        errors.push(FieldError::new(
            "script",
            "has blank characters before its #! line; Tekton writes a script as it is given, and a file runs only when #! are its first two characters: remove what comes before #!",
        ));
    }
    if script.is_some() && sidecar.get("command").is_some() {
        errors.push(FieldError::new(
            "script",
            "cannot be used with command: give the program either as a script or as a command",
        ));
    }
    for list in ["volumeMounts", "volumeDevices"] {
        for (i, mount) in sidecar.list(list).iter().enumerate() {
            if let Some(problem) = internal_volume_problem(text(mount, "name")) {
                errors.push(FieldError::new(format!("{list}[{i}].name"), problem));
            }
        }
    }
    errors.extend(required_fields(sidecar));
    errors.extend(unsubstituted(sidecar));
    let mut seen = BTreeSet::new();
    for (i, usage) in sidecar.list("workspaces").iter().enumerate() {
        let name = text(usage, "name");
        if name.is_empty() {
            errors.push(FieldError::new(
                format!("workspaces[{i}].name"),
                "is required",
            ));
        } else if !seen.insert(name) {
            errors.push(FieldError::new(
                format!("workspaces[{i}].name"),
                format!("workspace {name:?} is listed twice"),
            ));
        }
    }
    if let Some(policy) = sidecar.text("restartPolicy")
        && policy != "Always"
    {
        errors.push(FieldError::new(
            "restartPolicy",
            format!("{policy:?} is not allowed: a sidecar's restartPolicy can only be \"Always\""),
        ));
    }
    errors
}

/// The string field `key` of a checked mapping, empty when it is left out (as Kubernetes reads it).
pub(crate) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Why a sidecar may not mount `volume`, if it may not.
pub(crate) fn internal_volume_problem(volume: &str) -> Option<String> {
    let prefix = INTERNAL_VOLUME_PREFIXES
        .iter()
        .find(|p| volume.starts_with(**p))?;
    Some(format!(
        "volume {volume:?} is internal to Tekton: volumes named {prefix}* are only mounted into steps"
    ))
}

/// Variables in the fields Tekton never substitutes (`applyContainerReplacements` leaves them alone):
/// they would reach Kubernetes as written, and a guardrail would judge text that means something else.
fn unsubstituted(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut written = Vec::new();
    if sidecar.get("securityContext").is_some_and(holds_variable) {
        written.push("securityContext".to_string());
    }
    for list in ["ports", "volumeDevices"] {
        for (i, item) in sidecar.list(list).iter().enumerate() {
            if holds_variable(item) {
                written.push(format!("{list}[{i}]"));
            }
        }
    }
    written
        .into_iter()
        .map(|path| {
            FieldError::new(
                path,
                "holds a $(...) variable, which Tekton does not substitute in this field: write the value",
            )
        })
        .collect()
}

/// Whether a value holds `$(` in any of its strings.
fn holds_variable(value: &Value) -> bool {
    match value {
        Value::String(text) => has_variable(text),
        Value::Array(items) => items.iter().any(holds_variable),
        Value::Object(fields) => fields.values().any(holds_variable),
        _ => false,
    }
}

/// The Kubernetes fields that the API server requires, and reads as empty when they are left out: without
/// this check `env: [{value: x}]` would pass here and fail when Tekton creates the Pod.
fn required_fields(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in sidecar.list("env").iter().enumerate() {
        if text(var, "name").is_empty() {
            errors.push(FieldError::new(format!("env[{i}].name"), "is required"));
        }
    }
    for (i, port) in sidecar.list("ports").iter().enumerate() {
        let number = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        if !(1..=65535).contains(&number) {
            errors.push(FieldError::new(
                format!("ports[{i}].containerPort"),
                format!("is {number}; a port number is between 1 and 65535"),
            ));
        }
    }
    let required = [
        ("volumeMounts", ["name", "mountPath"]),
        ("volumeDevices", ["name", "devicePath"]),
    ];
    for (list, fields) in required {
        for (i, item) in sidecar.list(list).iter().enumerate() {
            for field in fields {
                if text(item, field).is_empty() {
                    errors.push(FieldError::new(
                        format!("{list}[{i}].{field}"),
                        "is required",
                    ));
                }
            }
        }
    }
    for field in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = sidecar.get(field) else {
            continue;
        };
        let handlers = ["exec", "httpGet", "tcpSocket", "grpc"]
            .into_iter()
            .filter(|handler| probe.get(handler).is_some())
            .count();
        if handlers != 1 {
            errors.push(FieldError::new(
                field,
                "needs exactly one of exec, httpGet, tcpSocket or grpc",
            ));
        }
    }
    errors
}

/// Why `name` cannot name a sidecar, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is required".to_string());
    }
    // Compared as container names: Tekton cuts `sidecar-<name>` to 63 characters and drops the dashes
    // left at the end, so a long name padded with dashes would otherwise become its results sidecar.
    if sidecar_container_name(name) == sidecar_container_name(RESERVED_NAME) {
        return Some(format!(
            "{:?} is reserved by Tekton for its results sidecar (the container {:?})",
            shortened(name),
            sidecar_container_name(RESERVED_NAME)
        ));
    }
    if name.len() > 63 {
        return Some(format!(
            "{:?} is {} characters long; a sidecar name is a DNS-1123 label of at most 63 (Tekton cuts the container name sidecar-<name> to 63)",
            shortened(name),
            name.len()
        ));
    }
    if !is_dns_label(name) {
        return Some(format!(
            "{:?} is not a DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit",
            shortened(name)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parses_every_tekton_field_and_the_v1beta1_resources_spelling() {
        let sidecar = parse(json!({
            "name": "postgres", "image": "postgres:14", "args": ["-c", "fsync=off"], "workingDir": "/w",
            "ports": [{"containerPort": 5432}], "envFrom": [{"secretRef": {"name": "db"}}],
            "env": [{"name": "POSTGRES_DB", "value": "foobar"}],
            "resources": {"limits": {"cpu": 1, "memory": "512Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}],
            "livenessProbe": {"tcpSocket": {"port": 5432}},
            "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}},
            "startupProbe": {"tcpSocket": {"port": 5432}},
            "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent", "securityContext": {"runAsUser": 999},
            "stdin": false, "stdinOnce": false, "tty": false,
            "workspaces": [{"name": "source", "mountPath": "/src"}], "restartPolicy": "Always"
        }))
        .expect("a complete sidecar parses");
        assert_eq!(
            sidecar.get("computeResources"),
            Some(&json!({"limits": {"cpu": "1", "memory": "512Mi"}})),
            "under its v1 name, the number written as a quantity"
        );
        assert!(sidecar.get("resources").is_none());
        assert_eq!(text(&sidecar.list("workspaces")[0], "mountPath"), "/src");
        assert_eq!(sidecar.text("restartPolicy"), Some("Always"));
    }

    #[test]
    fn null_fields_are_left_out() {
        let sidecar = parse(json!({"name": "db", "image": "p", "env": null,
            "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": null}}))
        .expect("parses");
        assert_eq!(
            Value::Object(sidecar.fields().clone()),
            json!({"name": "db", "image": "p", "readinessProbe": {"exec": {"command": ["true"]}}})
        );
    }

    #[rstest]
    #[case::top_level_typo(json!({"name": "db", "imgae": "postgres"}), "imgae: unknown field; did you mean \"image\"?")]
    #[case::nested_typo(
        json!({"name": "db", "image": "postgres", "readinessProbe": {"exec": {"commnd": ["true"]}}}),
        "readinessProbe.exec.commnd: unknown field; did you mean \"command\"?"
    )]
    #[case::nested_in_list(
        json!({"name": "db", "image": "postgres", "env": [{"name": "A", "valeu": "1"}]}),
        "env[0].valeu: unknown field; did you mean \"value\"?"
    )]
    #[case::wrong_type(
        json!({"name": "db", "image": "postgres", "env": [{"name": "PORT", "value": 5432}]}),
        "env[0].value: is integer `5432`, expected a string"
    )]
    #[case::not_a_mapping(json!("postgres"), "must be a mapping of sidecar fields, not a string")]
    #[case::both_resource_spellings(
        json!({"name": "db", "image": "p", "resources": {}, "computeResources": {}}),
        "resources: give either computeResources (v1) or resources (v1beta1), not both"
    )]
    fn parse_errors_name_the_field(#[case] input: Value, #[case] expected: &str) {
        assert_eq!(
            messages(parse(input).expect_err("must fail")),
            vec![expected.to_string()]
        );
    }

    #[rstest]
    #[case::no_image(json!({"name": "db"}), vec!["image: is required"])]
    #[case::reserved(json!({"name": "tekton-log-results", "image": "x"}), vec!["name: \"tekton-log-results\" is reserved by Tekton for its results sidecar (the container \"sidecar-tekton-log-results\")"])]
    // Tekton cuts the container name to 63 characters and drops the dashes at its end.
    #[case::reserved_once_cut(json!({"name": format!("tekton-log-results{}x", "-".repeat(37)), "image": "x"}), vec!["name: \"tekton-log-results-------------------------------------x\" is reserved by Tekton for its results sidecar (the container \"sidecar-tekton-log-results\")"])]
    #[case::not_dns(json!({"name": "Postgres_DB", "image": "x"}), vec!["name: \"Postgres_DB\" is not a DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit"])]
    #[case::long_is_fine(json!({"name": "a".repeat(63), "image": "x"}), vec![])]
    #[case::too_long(json!({"name": "a".repeat(64), "image": "x"}), vec!["name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 64 characters long; a sidecar name is a DNS-1123 label of at most 63 (Tekton cuts the container name sidecar-<name> to 63)"])]
    #[case::variable_in_security_context(json!({"name": "db", "image": "x", "securityContext": {"seLinuxOptions": {"type": "$(params.t)"}}}), vec!["securityContext: holds a $(...) variable, which Tekton does not substitute in this field: write the value"])]
    #[case::variable_in_ports(json!({"name": "db", "image": "x", "ports": [{"containerPort": 1, "hostIP": "$(params.ip)"}]}), vec!["ports[0]: holds a $(...) variable, which Tekton does not substitute in this field: write the value"])]
    #[case::blank_before_shebang(json!({"name": "db", "image": "x", "script": "\n#!/bin/sh\necho"}), vec!["script: has blank characters before its #! line; Tekton writes a script as it is given, and a file runs only when #! are its first two characters: remove what comes before #!"])]
    #[case::script_and_command(json!({"name": "db", "image": "x", "script": "echo", "command": ["sh"]}), vec!["script: cannot be used with command: give the program either as a script or as a command"])]
    #[case::internal_volume(json!({"name": "db", "image": "x", "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}]}), vec!["volumeMounts[0].name: volume \"tekton-internal-bin\" is internal to Tekton: volumes named tekton-internal-* are only mounted into steps"])]
    #[case::internal_volume_device(json!({"name": "db", "image": "x", "volumeDevices": [{"name": "tekton-internal-home", "devicePath": "/dev/xvda"}]}), vec!["volumeDevices[0].name: volume \"tekton-internal-home\" is internal to Tekton: volumes named tekton-internal-* are only mounted into steps"])]
    #[case::restart_policy(json!({"name": "db", "image": "x", "restartPolicy": "OnFailure"}), vec!["restartPolicy: \"OnFailure\" is not allowed: a sidecar's restartPolicy can only be \"Always\""])]
    #[case::env_without_name(json!({"name": "db", "image": "x", "env": [{"value": "1"}]}), vec!["env[0].name: is required"])]
    #[case::port_zero(json!({"name": "db", "image": "x", "ports": [{"name": "pg"}]}), vec!["ports[0].containerPort: is 0; a port number is between 1 and 65535"])]
    #[case::mount_without_path(json!({"name": "db", "image": "x", "volumeMounts": [{"name": "data"}]}), vec!["volumeMounts[0].mountPath: is required"])]
    #[case::probe_without_handler(json!({"name": "db", "image": "x", "readinessProbe": {"periodSeconds": 2}}), vec!["readinessProbe: needs exactly one of exec, httpGet, tcpSocket or grpc"])]
    #[case::probe_with_two_handlers(json!({"name": "db", "image": "x", "startupProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 1}}}), vec!["startupProbe: needs exactly one of exec, httpGet, tcpSocket or grpc"])]
    #[case::valid(json!({"name": "db", "image": "postgres:14", "script": "echo hi"}), vec![])]
    fn check_applies_tekton_and_kubernetes_rules(
        #[case] input: Value,
        #[case] expected: Vec<&str>,
    ) {
        let sidecar = parse(input).expect("parses");
        assert_eq!(messages(check(&sidecar)), expected);
    }

    #[test]
    fn field_list_is_exactly_the_shape_s() {
        let crate::support::shape::Shape::Struct(shape) = &super::SIDECAR else {
            panic!("a Sidecar is a mapping")
        };
        let mut names: Vec<&str> = shape.names().chain(["template"]).collect();
        names.sort_unstable();
        let mut listed = FIELDS.to_vec();
        listed.sort_unstable();
        assert_eq!(names, listed);
    }
}
