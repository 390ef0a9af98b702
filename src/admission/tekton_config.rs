//! Tekton's configuration, read from the cluster where the settings leave a decision to it, or where
//! the Pod alone cannot tell: its two ConfigMaps in `tektonNamespace`, each read at most once per request
//! (`TektonConfigMap`). This module reads `feature-flags` (`pkg/apis/config/feature_flags.go`, read in
//! `pkg/pod/pod.go`'s `Build`): with `injectAs: tekton`, `enable-kubernetes-sidecar` says whether Tekton
//! runs a Task's sidecars as Kubernetes native sidecars, and so how the policy injects and judges a
//! declared one; for a Pod Tekton built with its steps free to start at once, `await-sidecar-readiness`
//! says whether it would have made them wait for a Task's own sidecar. `config_defaults` reads the other.

use std::cell::OnceCell;

use serde_json::Value;

use super::cluster::{Cluster, within_a_line};
use crate::settings::{InjectAs, Settings};

/// The ConfigMap that holds Tekton's feature flags (`CONFIG_FEATURE_FLAGS_NAME` in Tekton's
/// config/controller.yaml).
pub(crate) const FEATURE_FLAGS: &str = "feature-flags";

/// The ConfigMap that holds Tekton's defaults (`CONFIG_DEFAULTS_NAME` in Tekton's
/// config/controller.yaml).
pub(crate) const CONFIG_DEFAULTS: &str = "config-defaults";

/// The flag, which Tekton reads with Go's `strconv.ParseBool`, `false` when it is absent.
const ENABLE_KUBERNETES_SIDECAR: &str = "enable-kubernetes-sidecar";

/// The flag, `true` when it is absent (`DefaultAwaitSidecarReadiness`).
const AWAIT_SIDECAR_READINESS: &str = "await-sidecar-readiness";

/// One of Tekton's ConfigMaps in a namespace, read from the cluster when first asked for, once.
pub(super) struct TektonConfigMap<'c> {
    cluster: &'c dyn Cluster,
    namespace: String,
    name: &'static str,
    read: OnceCell<Option<Value>>,
}

impl<'c> TektonConfigMap<'c> {
    /// `feature-flags` in `namespace`.
    pub(super) fn feature_flags(cluster: &'c dyn Cluster, namespace: &str) -> Self {
        Self::named(cluster, namespace, FEATURE_FLAGS)
    }

    /// `config-defaults` in `namespace`.
    pub(super) fn config_defaults(cluster: &'c dyn Cluster, namespace: &str) -> Self {
        Self::named(cluster, namespace, CONFIG_DEFAULTS)
    }

    fn named(cluster: &'c dyn Cluster, namespace: &str, name: &'static str) -> Self {
        TektonConfigMap {
            cluster,
            namespace: namespace.to_string(),
            name,
            read: OnceCell::new(),
        }
    }

    /// The ConfigMap, or none when it cannot be read.
    fn config_map(&self) -> Option<&Value> {
        let read = || {
            let namespace = &self.namespace;
            self.cluster
                .get("v1", "ConfigMap", namespace, self.name)
                .ok()
        };
        self.read.get_or_init(read).as_ref()
    }

    /// The value of `key` in the ConfigMap's data: `Ok(None)` when it has none, `Err` when the ConfigMap
    /// cannot be read.
    pub(super) fn data(&self, key: &str) -> Result<Option<&Value>, ()> {
        let config_map = self.config_map().ok_or(())?;
        Ok(config_map.get("data").and_then(|data| data.get(key)))
    }

    /// "<start><name> in \"<namespace>\" could not be read<end>", on one line.
    pub(super) fn unreadable(&self, start: &str, end: &str) -> String {
        let start = format!("{start}{} in ", self.name);
        within_a_line(&start, &self.namespace, &format!(" could not be read{end}"))
    }
}

/// `settings` with `injectAs: tekton` made `native` or `container` as the cluster's flag says: one read
/// of the ConfigMap, and `container` (what Tekton does without the flag) with a warning when it cannot
/// be read or its value is not one Tekton reads. Other settings are returned as they are.
pub(super) fn resolved(
    mut settings: Settings,
    flags: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) -> Settings {
    if settings.inject_as != InjectAs::Tekton {
        return settings;
    }
    const FALLBACK: &str = ": sidecars go in as containers";
    let native = match flags.data(ENABLE_KUBERNETES_SIDECAR) {
        Err(_) => {
            warnings.push(flags.unreadable("injectAs \"tekton\": ", FALLBACK));
            false
        }
        Ok(None) => false,
        Ok(Some(Value::String(value))) => parse_bool(value).unwrap_or_else(|| {
            warnings.push(within_a_line(
                &format!("injectAs \"tekton\": {ENABLE_KUBERNETES_SIDECAR} is "),
                value,
                &format!(", not true or false{FALLBACK}"),
            ));
            false
        }),
        Ok(Some(_)) => {
            warnings.push(format!(
                "injectAs \"tekton\": {ENABLE_KUBERNETES_SIDECAR} is not a string{FALLBACK}"
            ));
            false
        }
    };
    settings.inject_as = if native {
        InjectAs::Native
    } else {
        InjectAs::Container
    };
    settings
}

/// Whether Tekton makes the first step of a Task's Pod wait for the Task's sidecars to be ready
/// (`isPodReadyImmediately` in `pkg/pod/pod.go`); none, with a warning, when the flags cannot be read.
/// A value `ParseBool` does not read makes Tekton's config store refuse the ConfigMap and keep what it
/// had, the default at first: the steps wait.
pub(super) fn steps_await_sidecars(
    flags: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) -> Option<bool> {
    let Ok(value) = flags.data(AWAIT_SIDECAR_READINESS) else {
        warnings.push(flags.unreadable("Pod built ready: ", ""));
        return None;
    };
    Some(value.and_then(Value::as_str).and_then(parse_bool) != Some(false))
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
        let settings = Settings::from_value(settings).expect("valid settings");
        let flags = TektonConfigMap::feature_flags(&cluster, &settings.tekton_namespace);
        let settings = resolved(settings, &flags, &mut warnings);
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
        let flags = TektonConfigMap::feature_flags(&cluster, &settings.tekton_namespace);
        let settings = resolved(settings, &flags, &mut warnings);
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
        let flags = TektonConfigMap::feature_flags(&cluster, &settings.tekton_namespace);
        resolved(settings, &flags, &mut warnings);
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

    #[rstest]
    #[case::does_not_wait(flags("tekton-pipelines", json!({"await-sidecar-readiness": "false"})), Some(false), &[])]
    #[case::as_go_spells_it(flags("tekton-pipelines", json!({"await-sidecar-readiness": "F"})), Some(false), &[])]
    #[case::waits(flags("tekton-pipelines", json!({"await-sidecar-readiness": "true"})), Some(true), &[])]
    #[case::default(flags("tekton-pipelines", json!({})), Some(true), &[])]
    #[case::refused_by_tekton(flags("tekton-pipelines", json!({"await-sidecar-readiness": "no"})), Some(true), &[])]
    #[case::unreadable(None, None, &["Pod built ready: feature-flags in \"tekton-pipelines\" could not be read"])]
    fn steps_await_sidecars_as_tekton_reads_the_flag(
        #[case] config_map: Option<Value>,
        #[case] expected: Option<bool>,
        #[case] expected_warnings: &[&str],
    ) {
        let cluster = Holding::new(config_map);
        let flags = TektonConfigMap::feature_flags(&cluster, "tekton-pipelines");
        let mut warnings = Vec::new();
        assert_eq!(steps_await_sidecars(&flags, &mut warnings), expected);
        assert_eq!(warnings, expected_warnings);
    }

    /// injectAs and readiness share one read of the ConfigMap.
    #[test]
    fn the_flags_are_read_once() {
        let cluster = Holding::new(flags(
            "tekton-pipelines",
            json!({"enable-kubernetes-sidecar": "true", "await-sidecar-readiness": "false"}),
        ));
        let settings = Settings::from_value(json!({"injectAs": "tekton"})).expect("valid settings");
        let flags = TektonConfigMap::feature_flags(&cluster, &settings.tekton_namespace);
        let mut warnings = Vec::new();
        let settings = resolved(settings, &flags, &mut warnings);
        let awaited = steps_await_sidecars(&flags, &mut warnings);
        assert_eq!(
            (
                settings.inject_as,
                awaited,
                warnings.len(),
                cluster.reads.get()
            ),
            (InjectAs::Native, Some(false), 0, 1)
        );
    }
}
