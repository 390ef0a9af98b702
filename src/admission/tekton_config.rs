//! Tekton's configuration, read from the cluster where the settings leave a decision to it: with
//! `injectAs: tekton`, the `enable-kubernetes-sidecar` flag of the `feature-flags` ConfigMap in
//! `tektonNamespace` says whether Tekton runs a Task's sidecars as Kubernetes native sidecars
//! (`pkg/apis/config/feature_flags.go`, read in `pkg/pod/pod.go`'s `Build`), and so how the policy
//! injects and judges a declared one.

use serde_json::Value;

use super::cluster::{Cluster, within_a_line};
use crate::settings::{InjectAs, Settings};

/// The ConfigMap that holds Tekton's feature flags (`CONFIG_FEATURE_FLAGS_NAME` in Tekton's
/// config/controller.yaml).
pub(crate) const FEATURE_FLAGS: &str = "feature-flags";

/// The flag, which Tekton reads with Go's `strconv.ParseBool`, `false` when it is absent.
const ENABLE_KUBERNETES_SIDECAR: &str = "enable-kubernetes-sidecar";

/// `settings` with `injectAs: tekton` made `native` or `container` as the cluster's flag says: one read
/// of the ConfigMap, and `container` (what Tekton does without the flag) with a warning when it cannot
/// be read or its value is not one Tekton reads. Other settings are returned as they are.
pub(super) fn resolved(
    mut settings: Settings,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> Settings {
    if settings.inject_as != InjectAs::Tekton {
        return settings;
    }
    const FALLBACK: &str = ": sidecars go in as containers";
    let native = match cluster.get("v1", "ConfigMap", &settings.tekton_namespace, FEATURE_FLAGS) {
        Err(_) => {
            warnings.push(within_a_line(
                &format!("injectAs \"tekton\": {FEATURE_FLAGS} in "),
                &settings.tekton_namespace,
                &format!(" could not be read{FALLBACK}"),
            ));
            false
        }
        Ok(config_map) => match config_map.pointer(&format!("/data/{ENABLE_KUBERNETES_SIDECAR}")) {
            None => false,
            Some(Value::String(value)) => parse_bool(value).unwrap_or_else(|| {
                warnings.push(within_a_line(
                    &format!("injectAs \"tekton\": {ENABLE_KUBERNETES_SIDECAR} is "),
                    value,
                    &format!(", not true or false{FALLBACK}"),
                ));
                false
            }),
            Some(_) => {
                warnings.push(format!(
                    "injectAs \"tekton\": {ENABLE_KUBERNETES_SIDECAR} is not a string{FALLBACK}"
                ));
                false
            }
        },
    };
    settings.inject_as = if native {
        InjectAs::Native
    } else {
        InjectAs::Container
    };
    settings
}

/// Go's `strconv.ParseBool`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::super::cluster::Holding;
    use super::*;
    use crate::support::error::MAX_WARNING_CHARS;

    /// Tekton's feature-flags in `namespace`, holding `data`.
    fn flags(namespace: &str, data: Value) -> Option<Value> {
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": FEATURE_FLAGS, "namespace": namespace}, "data": data}))
    }

    const UNREADABLE: &str = "injectAs \"tekton\": feature-flags in \"tekton-pipelines\" could not be read: sidecars go in as containers";

    #[rstest]
    #[case::flag_on(json!({}), flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": "true"})), InjectAs::Native, &[], 1)]
    #[case::flag_on_as_go_spells_it(json!({}), flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": "T"})), InjectAs::Native, &[], 1)]
    #[case::flag_off(json!({}), flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": "0"})), InjectAs::Container, &[], 1)]
    #[case::flag_absent(json!({}), flags("tekton-pipelines", json!({"enable-api-fields": "beta"})), InjectAs::Container, &[], 1)]
    #[case::no_data(json!({}), Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": FEATURE_FLAGS, "namespace": "tekton-pipelines"}})), InjectAs::Container, &[], 1)]
    #[case::flag_go_does_not_read(json!({}), flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": "yes"})), InjectAs::Container,
        &["injectAs \"tekton\": enable-kubernetes-sidecar is \"yes\", not true or false: sidecars go in as containers"], 1)]
    #[case::flag_not_a_string(json!({}), flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": true})), InjectAs::Container,
        &["injectAs \"tekton\": enable-kubernetes-sidecar is not a string: sidecars go in as containers"], 1)]
    #[case::unreadable(json!({}), None, InjectAs::Container, &[UNREADABLE], 1)]
    #[case::in_another_namespace(json!({"tektonNamespace": "ci"}), flags("ci", json!({"enable-kubernetes-sidecar": "true"})), InjectAs::Native, &[], 1)]
    #[case::not_in_the_namespace_read(json!({}), flags("ci", json!({"enable-kubernetes-sidecar": "true"})), InjectAs::Container, &[UNREADABLE], 1)]
    fn tekton_follows_the_flag(
        #[case] mut settings: Value,
        #[case] config_map: Option<Value>,
        #[case] expected: InjectAs,
        #[case] expected_warnings: &[&str],
        #[case] expected_reads: usize,
    ) {
        settings["injectAs"] = json!("tekton");
        let cluster = Holding::new(config_map);
        let mut warnings = Vec::new();
        let settings = resolved(
            Settings::from_value(settings).expect("valid settings"),
            &cluster,
            &mut warnings,
        );
        assert_eq!(settings.inject_as, expected);
        assert_eq!(warnings, expected_warnings);
        assert_eq!(cluster.reads.get(), expected_reads);
    }

    /// An explicit choice is the admin's: nothing is read, even where the flag says otherwise.
    #[rstest]
    #[case::container("container", InjectAs::Container)]
    #[case::native("native", InjectAs::Native)]
    fn an_explicit_choice_reads_nothing(#[case] inject_as: &str, #[case] expected: InjectAs) {
        let flag = if expected == InjectAs::Native {
            "false"
        } else {
            "true"
        };
        let cluster = Holding::new(flags(
            "tekton-pipelines",
            json!({"enable-kubernetes-sidecar": flag}),
        ));
        let mut warnings = Vec::new();
        let settings =
            Settings::from_value(json!({"injectAs": inject_as})).expect("valid settings");
        let settings = resolved(settings, &cluster, &mut warnings);
        assert_eq!(
            (settings.inject_as, warnings.len(), cluster.reads.get()),
            (expected, 0, 0)
        );
    }

    /// A value of any length, and the longest namespace, are told on one line that fits a warning.
    #[rstest]
    #[case::long_value(
        "tekton-pipelines",
        flags("tekton-pipelines", json!({"enable-kubernetes-sidecar": "x\n".repeat(500)})),
        "\"x\\nx\\n"
    )]
    #[case::long_namespace(&"n".repeat(63), None, "\"nnnn")]
    fn long_text_is_cut_to_one_line(
        #[case] namespace: &str,
        #[case] config_map: Option<Value>,
        #[case] shown: &str,
    ) {
        let cluster = Holding::new(config_map);
        let mut warnings = Vec::new();
        let settings =
            Settings::from_value(json!({"injectAs": "tekton", "tektonNamespace": namespace}))
                .expect("valid settings");
        resolved(settings, &cluster, &mut warnings);
        assert_eq!(warnings.len(), 1);
        let warning = &warnings[0];
        assert!(
            warning.chars().count() <= MAX_WARNING_CHARS && !warning.contains('\n'),
            "{warning}"
        );
        assert!(
            warning.contains(shown)
                && warning.contains("…\"")
                && warning.ends_with(": sidecars go in as containers"),
            "{warning}"
        );
    }
}
