//! The Kubernetes Pod Security Standards, container by container: what the setting `podSecurity` holds an
//! inline sidecar (and the fields an author overrides on a template) to.
//!
//! The checks follow kubernetes/pod-security-admission (`policy/check_*.go`, newest version of each) for
//! every field a container carries: privileged, capabilities, procMount, SELinux, seccomp, AppArmor,
//! Windows host processes, host ports, and the host of probes and lifecycle handlers; `restricted` adds
//! privilege escalation, dropping ALL, running as non-root and a seccomp profile. Pod-level fields (host
//! namespaces, volumes, sysctls) are not a sidecar's to set: what they give a sidecar is judged where the
//! Pod is known (`pod_level.rs`).
//!
//! Where Pod Security Admission lets a container leave a field to the Pod (`runAsNonRoot`, the seccomp
//! profile), this check asks the sidecar itself: the Pod's own securityContext is not visible at every
//! admission point, and the answer must be the same at each.

use serde::Deserialize;
use serde_json::Value;

use crate::support::error::FieldError;
use crate::tekton::sidecar::Sidecar;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// Anything goes.
    Privileged,
    /// No known privilege escalation: the default.
    Baseline,
    /// Hardened, current best practice.
    Restricted,
}

impl Level {
    pub(super) fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// The capabilities `baseline` lets a container add (`capabilities_allowed_1_0`).
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The SELinux types `baseline` allows (`selinuxAllowedTypes1_31`; the empty type is allowed too).
pub(super) const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// The prefix of the annotations that give a container an AppArmor profile
/// (`DeprecatedAppArmorBetaContainerAnnotationKeyPrefix`); Tekton copies them from the PipelineRun to
/// the Pod like any other annotation.
pub(crate) const APPARMOR_ANNOTATION_PREFIX: &str =
    "container.apparmor.security.beta.kubernetes.io/";

/// The problems of `sidecar` at `level`, each naming the field, the level and what the level allows.
/// With `whole`, `sidecar` is all the container has, and a field `restricted` requires must be set;
/// otherwise it is what an author wrote over a template, and may only not set such a field otherwise.
pub(crate) fn check(level: Level, sidecar: &Sidecar, whole: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if level == Level::Privileged {
        return errors;
    }
    let mut forbid = |path: &str, found: String, rule: String| {
        errors.push(FieldError::new(
            path,
            format!(
                "{found}; the Pod Security Standards level {:?} (the policy setting podSecurity) {rule}",
                level.name()
            ),
        ));
    };
    let context = sidecar.get("securityContext");
    // An override's securityContext replaces the template's whole (`template::merge`): it is then all the
    // container has, and is held to what the level requires as much as an inline sidecar's.
    check_context(level, context, whole || context.is_some(), &mut forbid);
    for (i, port) in sidecar.list("ports").iter().enumerate() {
        if let Some(host_port) = port
            .get("hostPort")
            .and_then(Value::as_i64)
            .filter(|p| *p != 0)
        {
            forbid(
                &format!("ports[{i}].hostPort"),
                format!("is {host_port}"),
                "forbids host ports".to_string(),
            );
        }
    }
    let handlers = [
        ("livenessProbe", sidecar.get("livenessProbe")),
        ("readinessProbe", sidecar.get("readinessProbe")),
        ("startupProbe", sidecar.get("startupProbe")),
        (
            "lifecycle.postStart",
            sidecar.get("lifecycle").and_then(|l| l.get("postStart")),
        ),
        (
            "lifecycle.preStop",
            sidecar.get("lifecycle").and_then(|l| l.get("preStop")),
        ),
    ];
    for (field, handler) in handlers {
        for (path, host) in handler.map(handler_hosts).into_iter().flatten() {
            forbid(
                &format!("{field}.{path}"),
                format!("is {host:?}"),
                "forbids probes and lifecycle handlers that reach another host".to_string(),
            );
        }
    }
    errors
}

fn check_context(
    level: Level,
    context: Option<&Value>,
    whole: bool,
    forbid: &mut impl FnMut(&str, String, String),
) {
    let restricted = level == Level::Restricted;
    if let Some(context) = context {
        check_fields(context, restricted, forbid);
    }
    check_added_capabilities(context, restricted, forbid);
    if restricted {
        check_restricted(context, whole, forbid);
    }
}

/// The fields every level but privileged judges as they are set.
fn check_fields(context: &Value, restricted: bool, forbid: &mut impl FnMut(&str, String, String)) {
    if flag(context, "privileged") == Some(true) {
        forbid(
            "securityContext.privileged",
            "is true".to_string(),
            "forbids privileged containers".to_string(),
        );
    }
    if let Some(mount) = text(context, "procMount").filter(|m| *m != "Default") {
        forbid(
            "securityContext.procMount",
            format!("is {mount:?}"),
            "allows only \"Default\"".to_string(),
        );
    }
    if let Some(selinux) = given(context, "seLinuxOptions") {
        if let Some(kind) =
            text(selinux, "type").filter(|t| !t.is_empty() && !SELINUX_TYPES.contains(t))
        {
            forbid(
                "securityContext.seLinuxOptions.type",
                format!("is {kind:?}"),
                format!("allows only {}", SELINUX_TYPES.join(", ")),
            );
        }
        for field in ["user", "role"] {
            if text(selinux, field).is_some_and(|v| !v.is_empty()) {
                forbid(
                    &format!("securityContext.seLinuxOptions.{field}"),
                    "is set".to_string(),
                    "forbids setting it".to_string(),
                );
            }
        }
    }
    for profile in ["seccompProfile", "appArmorProfile"] {
        if let Some(kind) = profile_type(context, profile).filter(|k| !allowed_profile(k)) {
            forbid(
                &format!("securityContext.{profile}.type"),
                format!("is {kind:?}"),
                "allows only RuntimeDefault and Localhost".to_string(),
            );
        }
    }
    if given(context, "windowsOptions").and_then(|w| flag(w, "hostProcess")) == Some(true) {
        forbid(
            "securityContext.windowsOptions.hostProcess",
            "is true".to_string(),
            "forbids Windows host processes".to_string(),
        );
    }
    if context.get("runAsUser").and_then(Value::as_i64) == Some(0) && restricted {
        forbid(
            "securityContext.runAsUser",
            "is 0".to_string(),
            "forbids running as root".to_string(),
        );
    }
}

/// The capabilities the container's securityContext lists under `list` (`add` or `drop`).
fn capabilities<'c>(
    context: Option<&'c Value>,
    list: &str,
) -> Option<impl Iterator<Item = &'c str>> {
    context
        .and_then(|c| given(c, "capabilities"))
        .and_then(|c| given(c, list))
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str))
}

/// The capabilities added beyond what the level allows.
fn check_added_capabilities(
    context: Option<&Value>,
    restricted: bool,
    forbid: &mut impl FnMut(&str, String, String),
) {
    let added: Vec<&str> = capabilities(context, "add")
        .into_iter()
        .flatten()
        .filter(|c| {
            if restricted {
                *c != "NET_BIND_SERVICE"
            } else {
                !BASELINE_CAPABILITIES.contains(c)
            }
        })
        .collect();
    if !added.is_empty() {
        let allowed = if restricted {
            "NET_BIND_SERVICE".to_string()
        } else {
            BASELINE_CAPABILITIES.join(", ")
        };
        forbid(
            "securityContext.capabilities.add",
            format!("adds {}", quoted(&added)),
            format!("allows adding only {allowed}"),
        );
    }
}

/// What only the restricted level requires. A field left out of an override is the template's.
fn check_restricted(
    context: Option<&Value>,
    whole: bool,
    forbid: &mut impl FnMut(&str, String, String),
) {
    let set = |value: Option<bool>| match value {
        Some(value) => format!("is {value}"),
        None => "is not set".to_string(),
    };
    let wrong = |found: bool, set: bool| found && (whole || set);
    let escalation = context.and_then(|c| flag(c, "allowPrivilegeEscalation"));
    if wrong(escalation != Some(false), escalation.is_some()) {
        forbid(
            "securityContext.allowPrivilegeEscalation",
            set(escalation),
            "requires false".to_string(),
        );
    }
    let drop = capabilities(context, "drop");
    let dropped = drop.is_some();
    let drops_all = drop.is_some_and(|mut drop| drop.any(|c| c == "ALL"));
    if wrong(!drops_all, dropped) {
        forbid(
            "securityContext.capabilities.drop",
            "does not include \"ALL\"".to_string(),
            "requires dropping ALL".to_string(),
        );
    }
    let non_root = context.and_then(|c| flag(c, "runAsNonRoot"));
    if wrong(non_root != Some(true), non_root.is_some()) {
        forbid(
            "securityContext.runAsNonRoot",
            set(non_root),
            "requires true".to_string(),
        );
    }
    if whole && context.and_then(|c| given(c, "seccompProfile")).is_none() {
        forbid(
            "securityContext.seccompProfile.type",
            "is not set".to_string(),
            "requires RuntimeDefault or Localhost".to_string(),
        );
    }
}

/// The field `key` of a securityContext (or a part of one), if it is given: `null` is as left out, as
/// Kubernetes reads it (a Pod's own or a TaskRun's podTemplate may spell a field so).
pub(super) fn given<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| !v.is_null())
}

/// The string field `key` of a securityContext (or a part of one), if it is given.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The boolean field `key` of a securityContext (or a part of one), if it is given.
pub(super) fn flag(value: &Value, key: &str) -> Option<bool> {
    value.get(key).and_then(Value::as_bool)
}

/// The type of the seccomp or AppArmor `profile` of a securityContext, if it has one: empty when the
/// profile leaves it out, as Kubernetes reads it.
pub(super) fn profile_type<'a>(context: &'a Value, profile: &str) -> Option<&'a str> {
    context
        .get(profile)
        .filter(|p| !p.is_null())
        .map(|p| text(p, "type").unwrap_or_default())
}

/// Whether the Standards allow a seccomp or AppArmor profile of type `kind`.
pub(super) fn allowed_profile(kind: &str) -> bool {
    matches!(kind, "RuntimeDefault" | "Localhost")
}

/// The problem with an AppArmor annotation `value` for an injected container, at `level`.
pub(crate) fn apparmor_annotation_problem(level: Level, value: &str) -> Option<String> {
    let allowed = value.is_empty() || value == "runtime/default" || value.starts_with("localhost/");
    (level != Level::Privileged && !allowed).then(|| {
        format!(
            "gives the sidecar the AppArmor profile {value:?}; the Pod Security Standards level {:?} (the policy setting podSecurity) allows only runtime/default and localhost/*",
            level.name()
        )
    })
}

/// The hosts a probe or a lifecycle handler reaches, with their paths inside it.
fn handler_hosts(handler: &Value) -> Vec<(&'static str, &str)> {
    [("httpGet.host", "httpGet"), ("tcpSocket.host", "tcpSocket")]
        .into_iter()
        .filter_map(|(path, action)| {
            let host = text(handler.get(action)?, "host")?;
            (!host.is_empty()).then_some((path, host))
        })
        .collect()
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::sidecar;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn messages(level: Level, fields: Value) -> Vec<String> {
        let mut value = json!({"name": "db", "image": "postgres"});
        if let (Some(target), Some(extra)) = (value.as_object_mut(), fields.as_object()) {
            target.extend(extra.clone());
        }
        let sidecar = sidecar::parse(value).expect("valid sidecar");
        check(level, &sidecar, true)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const B: &str =
        "the Pod Security Standards level \"baseline\" (the policy setting podSecurity)";
    const R: &str =
        "the Pod Security Standards level \"restricted\" (the policy setting podSecurity)";

    #[rstest]
    #[case::privileged(json!({"securityContext": {"privileged": true}}), "securityContext.privileged: is true; B forbids privileged containers")]
    #[case::capability(json!({"securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}}}), "securityContext.capabilities.add: adds \"NET_ADMIN\", \"SYS_ADMIN\"; B allows adding only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT")]
    #[case::proc_mount(json!({"securityContext": {"procMount": "Unmasked"}}), "securityContext.procMount: is \"Unmasked\"; B allows only \"Default\"")]
    #[case::selinux_type(json!({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}), "securityContext.seLinuxOptions.type: is \"spc_t\"; B allows only container_t, container_init_t, container_kvm_t, container_engine_t")]
    #[case::selinux_user(json!({"securityContext": {"seLinuxOptions": {"user": "root"}}}), "securityContext.seLinuxOptions.user: is set; B forbids setting it")]
    #[case::seccomp(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}), "securityContext.seccompProfile.type: is \"Unconfined\"; B allows only RuntimeDefault and Localhost")]
    #[case::apparmor(json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}), "securityContext.appArmorProfile.type: is \"Unconfined\"; B allows only RuntimeDefault and Localhost")]
    #[case::host_process(json!({"securityContext": {"windowsOptions": {"hostProcess": true}}}), "securityContext.windowsOptions.hostProcess: is true; B forbids Windows host processes")]
    #[case::host_port(json!({"ports": [{"containerPort": 5432, "hostPort": 5432}]}), "ports[0].hostPort: is 5432; B forbids host ports")]
    #[case::probe_host(json!({"readinessProbe": {"httpGet": {"port": 80, "host": "10.0.0.1"}}}), "readinessProbe.httpGet.host: is \"10.0.0.1\"; B forbids probes and lifecycle handlers that reach another host")]
    #[case::lifecycle_host(json!({"lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "metadata"}}}}), "lifecycle.preStop.tcpSocket.host: is \"metadata\"; B forbids probes and lifecycle handlers that reach another host")]
    fn baseline_forbids_each_field(#[case] fields: Value, #[case] expected: &str) {
        assert_eq!(
            messages(Level::Baseline, fields.clone()),
            vec![expected.replace("B ", &format!("{B} "))]
        );
        assert!(messages(Level::Privileged, fields).is_empty());
    }

    #[test]
    fn baseline_allows_what_it_allows() {
        let allowed = json!({"securityContext": {"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]},
            "seccompProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"type": "container_t", "level": "s0"},
            "procMount": "Default", "runAsUser": 0, "allowPrivilegeEscalation": true},
            "ports": [{"containerPort": 80}], "readinessProbe": {"tcpSocket": {"port": 80}}});
        assert!(messages(Level::Baseline, allowed).is_empty());
    }

    #[test]
    fn restricted_requires_the_hardened_fields_on_the_sidecar() {
        assert_eq!(
            messages(
                Level::Restricted,
                json!({"securityContext": {"runAsUser": 0, "capabilities": {"add": ["CHOWN"]}}})
            ),
            vec![
                format!("securityContext.runAsUser: is 0; {R} forbids running as root"),
                format!(
                    "securityContext.capabilities.add: adds \"CHOWN\"; {R} allows adding only NET_BIND_SERVICE"
                ),
                format!("securityContext.allowPrivilegeEscalation: is not set; {R} requires false"),
                format!(
                    "securityContext.capabilities.drop: does not include \"ALL\"; {R} requires dropping ALL"
                ),
                format!("securityContext.runAsNonRoot: is not set; {R} requires true"),
                format!(
                    "securityContext.seccompProfile.type: is not set; {R} requires RuntimeDefault or Localhost"
                ),
            ]
        );
        let hardened = json!({"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}, "seccompProfile": {"type": "RuntimeDefault"}}});
        assert!(messages(Level::Restricted, hardened).is_empty());
    }

    #[test]
    fn an_override_may_leave_the_required_fields_to_the_template_but_not_undo_them() {
        let overrides = |fields: Value| -> Vec<String> {
            let sidecar = sidecar::parse(fields).expect("overrides");
            check(Level::Restricted, &sidecar, false)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert!(overrides(json!({"name": "db"})).is_empty());
        // Replacing the template's securityContext leaves only what the override gives.
        assert_eq!(
            overrides(json!({"securityContext": {"runAsUser": 1000}})),
            vec![
                format!("securityContext.allowPrivilegeEscalation: is not set; {R} requires false"),
                format!(
                    "securityContext.capabilities.drop: does not include \"ALL\"; {R} requires dropping ALL"
                ),
                format!("securityContext.runAsNonRoot: is not set; {R} requires true"),
                format!(
                    "securityContext.seccompProfile.type: is not set; {R} requires RuntimeDefault or Localhost"
                ),
            ]
        );
        assert_eq!(
            overrides(
                json!({"securityContext": {"allowPrivilegeEscalation": true, "runAsNonRoot": false,
                "capabilities": {"drop": ["NET_RAW"]}}})
            ),
            vec![
                format!("securityContext.allowPrivilegeEscalation: is true; {R} requires false"),
                format!(
                    "securityContext.capabilities.drop: does not include \"ALL\"; {R} requires dropping ALL"
                ),
                format!("securityContext.runAsNonRoot: is false; {R} requires true"),
                format!(
                    "securityContext.seccompProfile.type: is not set; {R} requires RuntimeDefault or Localhost"
                ),
            ]
        );
    }

    #[rstest]
    #[case(Level::Baseline, "unconfined", true)]
    #[case(Level::Baseline, "runtime/default", false)]
    #[case(Level::Baseline, "localhost/custom", false)]
    #[case(Level::Restricted, "", false)]
    #[case(Level::Privileged, "unconfined", false)]
    fn apparmor_annotations_follow_the_level(
        #[case] level: Level,
        #[case] value: &str,
        #[case] refused: bool,
    ) {
        assert_eq!(apparmor_annotation_problem(level, value).is_some(), refused);
    }
}
