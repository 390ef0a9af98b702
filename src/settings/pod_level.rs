//! The Pod-level rules of the Pod Security Standards, as they reach a sidecar put into a Pod: the host
//! namespaces it would join, the Pod's securityContext it would inherit, the sysctls it would run
//! under, and the sources of the volumes it mounts.
//!
//! Whoever writes a PipelineRun also writes its `taskRunSpecs[].podTemplate` (volumes, `hostNetwork`,
//! the Pod's securityContext). A trusted Task's steps mount none of that unless they were written to;
//! a declared sidecar could, so the sidecar is held to `podSecurity` with the Pod it joins, following
//! kubernetes/pod-security-admission (`check_hostNamespaces.go`, `check_hostPathVolumes.go`,
//! `check_restrictedVolumes.go`, `check_sysctls.go`, and the Pod-level halves of the seccomp, AppArmor,
//! SELinux, Windows and non-root checks). What the Pod is made of is read where the Pod is (`inject`);
//! this module holds only the rules.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::pod_security::{Level, SELINUX_TYPES, allowed_profile, flag, given, profile_type, text};
use crate::support::error::FieldError;

/// The sysctls `baseline` allows a Pod (`sysctlsAllowedV1Dot37`).
const SAFE_SYSCTLS: [&str; 14] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// The volume sources `restricted` allows (`restrictedVolumes_1_0`).
const RESTRICTED_VOLUMES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// What of the Pod around a sidecar the Standards look at: a Pod, or a TaskRun's `podTemplate` with the
/// inline Task's volumes.
#[derive(Debug, Default)]
pub(crate) struct Surroundings<'a> {
    /// `hostNetwork`, `hostPID` and `hostIPC`, those set to true.
    pub(crate) host_namespaces: Vec<&'static str>,
    /// The Pod's `securityContext`.
    pub(crate) security_context: Option<&'a Value>,
    /// Each volume's name and the kind of its source (`hostPath`, `emptyDir`...), as the Pod lists them:
    /// looked through only for the few a sidecar mounts.
    pub(crate) volumes: Vec<(&'a str, &'a str)>,
}

/// What a sidecar with the securityContext `own`, mounting the volumes `mounted`, would get at `level`
/// from `around` that the level forbids.
pub(crate) fn problems(
    level: Level,
    around: &Surroundings<'_>,
    own: Option<&Value>,
    mounted: &[&str],
) -> Vec<FieldError> {
    if level == Level::Privileged {
        return Vec::new();
    }
    let mut forbidden = Forbidden {
        level,
        errors: Vec::new(),
    };
    for namespace in &around.host_namespaces {
        forbidden.forbid(
            format!("would join a Pod with {namespace}: true"),
            "forbids sharing the host's namespaces",
        );
    }
    volumes(&mut forbidden, around, mounted);
    if let Some(pod) = around.security_context {
        inherited_context(&mut forbidden, pod, own);
    }
    forbidden.errors
}

/// What the level forbids, as it is found.
struct Forbidden {
    level: Level,
    errors: Vec<FieldError>,
}

impl Forbidden {
    fn forbid(&mut self, found: String, rule: &str) {
        self.errors.push(FieldError::new(
            "",
            format!(
                "{found}; the Pod Security Standards level {:?} (the policy setting podSecurity) {rule}",
                self.level.name()
            ),
        ));
    }
}

/// The volumes the sidecar mounts (`mounted`), by the kind of their source.
fn volumes(forbidden: &mut Forbidden, around: &Surroundings<'_>, mounted: &[&str]) {
    let mounted: BTreeSet<&str> = mounted.iter().copied().collect();
    let kinds: BTreeMap<&str, &str> = around
        .volumes
        .iter()
        .filter(|(name, _)| mounted.contains(name))
        .copied()
        .collect();
    for (name, kind) in kinds {
        if kind == "hostPath" {
            forbidden.forbid(
                format!("mounts the volume {name:?}, a hostPath volume"),
                "forbids hostPath volumes",
            );
        } else if forbidden.level == Level::Restricted && !RESTRICTED_VOLUMES.contains(&kind) {
            forbidden.forbid(
                format!("mounts the volume {name:?}, a {kind} volume"),
                &format!("allows only {} volumes", RESTRICTED_VOLUMES.join(", ")),
            );
        }
    }
}

/// The Pod's securityContext `pod` where the sidecar's own (`own`) leaves it out, and its sysctls.
fn inherited_context(forbidden: &mut Forbidden, pod: &Value, own: Option<&Value>) {
    let sysctls = given(pod, "sysctls").and_then(Value::as_array);
    for sysctl in sysctls.into_iter().flatten() {
        let name = sysctl
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&name) {
            forbidden.forbid(
                format!("would run under the Pod's sysctl {name:?}"),
                &format!("allows only {}", SAFE_SYSCTLS.join(", ")),
            );
        }
    }
    // The Pod's settings reach the sidecar where its own securityContext leaves them out.
    let inherited =
        |path: &str, value: String| format!("inherits the Pod's securityContext.{path} {value}");
    let own_has = |path: &[&str]| {
        own.and_then(|own| path.iter().try_fold(own, |value, key| given(value, key)))
            .is_some()
    };
    // A profile of the sidecar's own replaces the Pod's; only an inherited one is judged here.
    for profile in ["seccompProfile", "appArmorProfile"] {
        if let Some(kind) =
            profile_type(pod, profile).filter(|k| !own_has(&[profile]) && !allowed_profile(k))
        {
            forbidden.forbid(
                inherited(&format!("{profile}.type"), format!("{kind:?}")),
                "allows only RuntimeDefault and Localhost",
            );
        }
    }
    if let Some(selinux) = given(pod, "seLinuxOptions") {
        for field in ["type", "user", "role"] {
            let Some(value) = text(selinux, field)
                .filter(|v| !v.is_empty() && !own_has(&["seLinuxOptions", field]))
            else {
                continue;
            };
            if field != "type" {
                forbidden.forbid(
                    inherited(&format!("seLinuxOptions.{field}"), format!("{value:?}")),
                    "forbids setting it",
                );
            } else if !SELINUX_TYPES.contains(&value) {
                forbidden.forbid(
                    inherited("seLinuxOptions.type", format!("{value:?}")),
                    &format!("allows only {}", SELINUX_TYPES.join(", ")),
                );
            }
        }
    }
    let host_process =
        |context: &Value| given(context, "windowsOptions").and_then(|w| flag(w, "hostProcess"));
    if own.and_then(host_process).is_none() && host_process(pod) == Some(true) {
        forbidden.forbid(
            inherited("windowsOptions.hostProcess", "true".to_string()),
            "forbids Windows host processes",
        );
    }
    if forbidden.level == Level::Restricted {
        if !own_has(&["runAsUser"]) && given(pod, "runAsUser").and_then(Value::as_i64) == Some(0) {
            forbidden.forbid(
                inherited("runAsUser", "0".to_string()),
                "forbids running as root",
            );
        }
        if own.and_then(|c| flag(c, "runAsNonRoot")).is_none()
            && flag(pod, "runAsNonRoot") == Some(false)
        {
            forbidden.forbid(
                inherited("runAsNonRoot", "false".to_string()),
                "requires true",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn surroundings<'a>(context: &'a Value, volumes: &[(&'a str, &'a str)]) -> Surroundings<'a> {
        Surroundings {
            host_namespaces: vec!["hostNetwork"],
            security_context: Some(context),
            volumes: volumes.to_vec(),
        }
    }

    fn messages(level: Level, around: &Surroundings<'_>, own: Option<Value>) -> Vec<String> {
        problems(level, around, own.as_ref(), &["host", "data", "nfs"])
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const B: &str =
        "the Pod Security Standards level \"baseline\" (the policy setting podSecurity)";

    #[test]
    fn baseline_refuses_what_the_pod_would_give_the_sidecar() {
        let context = json!({"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Unconfined"},
                   "seLinuxOptions": {"type": "spc_t", "level": "s0"},
                   "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}]});
        let around = surroundings(
            &context,
            &[("host", "hostPath"), ("data", "emptyDir"), ("nfs", "nfs")],
        );
        assert_eq!(
            messages(Level::Baseline, &around, None),
            vec![
                format!(
                    "would join a Pod with hostNetwork: true; {B} forbids sharing the host's namespaces"
                ),
                format!(
                    "mounts the volume \"host\", a hostPath volume; {B} forbids hostPath volumes"
                ),
                format!(
                    "would run under the Pod's sysctl \"kernel.msgmax\"; {B} allows only {}",
                    SAFE_SYSCTLS.join(", ")
                ),
                format!(
                    "inherits the Pod's securityContext.seccompProfile.type \"Unconfined\"; {B} allows only RuntimeDefault and Localhost"
                ),
                format!(
                    "inherits the Pod's securityContext.appArmorProfile.type \"Unconfined\"; {B} allows only RuntimeDefault and Localhost"
                ),
                format!(
                    "inherits the Pod's securityContext.seLinuxOptions.type \"spc_t\"; {B} allows only container_t, container_init_t, container_kvm_t, container_engine_t"
                ),
            ]
        );
        assert!(messages(Level::Privileged, &around, None).is_empty());
    }

    #[test]
    fn the_sidecar_s_own_settings_are_not_inherited_and_restricted_limits_volume_kinds() {
        let context = json!({"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Unconfined"}, "runAsUser": 0});
        let around = surroundings(&context, &[("nfs", "nfs"), ("data", "emptyDir")]);
        let own = json!({"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-sidecar"}, "runAsUser": 1000});
        let r = "the Pod Security Standards level \"restricted\" (the policy setting podSecurity)";
        assert_eq!(
            messages(Level::Restricted, &around, Some(own)),
            vec![
                format!(
                    "would join a Pod with hostNetwork: true; {r} forbids sharing the host's namespaces"
                ),
                format!(
                    "mounts the volume \"nfs\", a nfs volume; {r} allows only {} volumes",
                    RESTRICTED_VOLUMES.join(", ")
                ),
            ]
        );
    }
}
