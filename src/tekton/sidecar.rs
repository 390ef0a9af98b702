//! The Tekton v1 `Sidecar` a declaration spells out, and the checks Tekton and Kubernetes apply to it.
//!
//! The field list follows `pkg/apis/pipeline/v1/container_types.go` (`type Sidecar struct`) in
//! tektoncd/pipeline. The Kubernetes parts use k8s-openapi's types so that they mean exactly what the
//! API server will make of them; the Tekton-only parts (`script`, `workspaces`) are ours.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::support::error::{FieldError, shortened};
use crate::support::json::kind_of;
use crate::support::k8s::is_dns_label;
use crate::support::strict;
use crate::tekton::variables::{has_variable, sidecar_container_name};
use crate::tekton::{INTERNAL_VOLUME_PREFIXES, RESERVED_NAME};

pub use super::sidecar_type::{FIELDS, Sidecar, WorkspaceUsage};

/// Turns one JSON object into a [`Sidecar`], reporting every unknown or mistyped field with its path.
pub fn parse(value: &Value) -> Result<Sidecar, Vec<FieldError>> {
    let Value::Object(fields) = value else {
        return Err(vec![FieldError::new(
            "",
            format!(
                "must be a mapping of sidecar fields, not {}",
                kind_of(value)
            ),
        )]);
    };
    // Checked here rather than by the strict deserializer so that the hint can include `template`.
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
    let read = if errors.is_empty() {
        strict::from_value(value)
    } else {
        let known: Map<String, Value> = fields
            .iter()
            .filter(|(key, _)| allowed.contains(&key.as_str()) && !(both && *key == "resources"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        strict::from_value::<Sidecar>(&Value::Object(known))
    };
    match read {
        Ok(sidecar) if errors.is_empty() => return Ok(sidecar),
        Ok(_) => {}
        Err(found) => errors.extend(found),
    }
    // What `check` would say of the name and the image, which it cannot see without a sidecar.
    match fields.get("name") {
        Some(Value::String(name)) => {
            if let Some(problem) = name_problem(name) {
                errors.push(FieldError::new("name", problem));
            }
        }
        None => errors.push(FieldError::new("name", "is required")),
        Some(_) => {}
    }
    if !misspelt && fields.get("image").is_none_or(Value::is_null) {
        errors.push(FieldError::new("image", "is required"));
    }
    Err(errors)
}

/// Tekton's and Kubernetes' own rules for one sidecar, each reported against its field.
pub fn check(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(problem) = name_problem(&sidecar.name) {
        errors.push(FieldError::new("name", problem));
    }
    if sidecar
        .image
        .as_deref()
        .is_none_or(|image| image.trim().is_empty())
    {
        errors.push(FieldError::new("image", "is required"));
    }
    if let Some(script) = &sidecar.script
        && !script.starts_with("#!")
        && script.trim_start().starts_with("#!")
    {
        errors.push(FieldError::new(
            "script",
            "has blank characters before its #! line; Tekton writes a script as it is given, and a file runs only when #! are its first two characters: remove what comes before #!",
        ));
    }
    if sidecar.script.is_some() && sidecar.command.is_some() {
        errors.push(FieldError::new(
            "script",
            "cannot be used with command: give the program either as a script or as a command",
        ));
    }
    for (i, mount) in sidecar.volume_mounts.iter().flatten().enumerate() {
        if let Some(problem) = internal_volume_problem(&mount.name) {
            errors.push(FieldError::new(format!("volumeMounts[{i}].name"), problem));
        }
    }
    errors.extend(required_fields(sidecar));
    errors.extend(unsubstituted(sidecar));
    let mut seen = BTreeSet::new();
    for (i, usage) in sidecar.workspaces.iter().flatten().enumerate() {
        if usage.name.is_empty() {
            errors.push(FieldError::new(
                format!("workspaces[{i}].name"),
                "is required",
            ));
        } else if !seen.insert(usage.name.as_str()) {
            errors.push(FieldError::new(
                format!("workspaces[{i}].name"),
                format!("workspace {:?} is listed twice", usage.name),
            ));
        }
    }
    if let Some(policy) = &sidecar.restart_policy
        && policy != "Always"
    {
        errors.push(FieldError::new(
            "restartPolicy",
            format!("{policy:?} is not allowed: a sidecar's restartPolicy can only be \"Always\""),
        ));
    }
    errors
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
    if holds_variable(&sidecar.security_context) {
        written.push("securityContext".to_string());
    }
    for (i, port) in sidecar.ports.iter().flatten().enumerate() {
        if holds_variable(port) {
            written.push(format!("ports[{i}]"));
        }
    }
    for (i, device) in sidecar.volume_devices.iter().flatten().enumerate() {
        if holds_variable(device) {
            written.push(format!("volumeDevices[{i}]"));
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

/// Whether a part of a sidecar holds `$(` in any of its strings.
fn holds_variable<T: Serialize>(value: &T) -> bool {
    fn any_string(value: &Value) -> bool {
        match value {
            Value::String(text) => has_variable(text),
            Value::Array(items) => items.iter().any(any_string),
            Value::Object(fields) => fields.values().any(any_string),
            _ => false,
        }
    }
    serde_json::to_value(value).is_ok_and(|value| any_string(&value))
}

/// The Kubernetes fields that the API server requires but k8s-openapi fills with a default when they are
/// missing: without this check `env: [{value: x}]` would pass here and fail when Tekton creates the Pod.
fn required_fields(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in sidecar.env.iter().flatten().enumerate() {
        if var.name.is_empty() {
            errors.push(FieldError::new(format!("env[{i}].name"), "is required"));
        }
    }
    for (i, port) in sidecar.ports.iter().flatten().enumerate() {
        if !(1..=65535).contains(&port.container_port) {
            errors.push(FieldError::new(
                format!("ports[{i}].containerPort"),
                format!(
                    "is {}; a port number is between 1 and 65535",
                    port.container_port
                ),
            ));
        }
    }
    for (i, mount) in sidecar.volume_mounts.iter().flatten().enumerate() {
        for (field, value) in [("name", &mount.name), ("mountPath", &mount.mount_path)] {
            if value.is_empty() {
                errors.push(FieldError::new(
                    format!("volumeMounts[{i}].{field}"),
                    "is required",
                ));
            }
        }
    }
    for (i, device) in sidecar.volume_devices.iter().flatten().enumerate() {
        for (field, value) in [("name", &device.name), ("devicePath", &device.device_path)] {
            if value.is_empty() {
                errors.push(FieldError::new(
                    format!("volumeDevices[{i}].{field}"),
                    "is required",
                ));
            }
        }
    }
    let probes = [
        ("livenessProbe", &sidecar.liveness_probe),
        ("readinessProbe", &sidecar.readiness_probe),
        ("startupProbe", &sidecar.startup_probe),
    ];
    for (field, probe) in probes {
        let Some(probe) = probe else { continue };
        let handlers = [
            probe.exec.is_some(),
            probe.http_get.is_some(),
            probe.tcp_socket.is_some(),
            probe.grpc.is_some(),
        ];
        if handlers.iter().filter(|h| **h).count() != 1 {
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
        let sidecar = parse(&json!({
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
        let limits = sidecar
            .compute_resources
            .and_then(|r| r.limits)
            .expect("limits kept");
        assert_eq!(limits["cpu"].0, "1");
        assert_eq!(
            sidecar.workspaces.expect("workspaces")[0].mount_path,
            "/src"
        );
        assert_eq!(sidecar.restart_policy.as_deref(), Some("Always"));
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
            messages(parse(&input).expect_err("must fail")),
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
        let sidecar = parse(&input).expect("parses");
        assert_eq!(messages(check(&sidecar)), expected);
    }

    #[test]
    fn field_list_is_exactly_what_the_type_serializes() {
        let every = Sidecar {
            name: "x".into(),
            image: Some(String::new()),
            command: Some(vec![]),
            args: Some(vec![]),
            working_dir: Some(String::new()),
            ports: Some(vec![]),
            env_from: Some(vec![]),
            env: Some(vec![]),
            compute_resources: Some(Default::default()),
            volume_mounts: Some(vec![]),
            volume_devices: Some(vec![]),
            liveness_probe: Some(Default::default()),
            readiness_probe: Some(Default::default()),
            startup_probe: Some(Default::default()),
            lifecycle: Some(Default::default()),
            termination_message_path: Some(String::new()),
            termination_message_policy: Some(String::new()),
            image_pull_policy: Some(String::new()),
            security_context: Some(Default::default()),
            stdin: Some(false),
            stdin_once: Some(false),
            tty: Some(false),
            script: Some(String::new()),
            workspaces: Some(vec![]),
            restart_policy: Some(String::new()),
        };
        let serialized = serde_json::to_value(&every).expect("serializes");
        let mut keys: Vec<&str> = serialized
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.push("resources");
        keys.push("template");
        keys.sort_unstable();
        let mut listed = FIELDS.to_vec();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }
}
