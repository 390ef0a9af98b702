//! Tekton's `config-defaults` (`pkg/apis/config/default.go`), read from the cluster where it changes what
//! a Task's sidecar gets and the request alone cannot tell:
//!
//! * `default-task-run-workspace-binding` binds every required workspace a TaskRun leaves unbound, in the
//!   reconciler after admission (`updateTaskRunWithDefaultWorkspaces` in
//!   `pkg/reconciler/taskrun/taskrun.go`); a sidecar that lists such a workspace gets it there, with the
//!   binding's `subPath`, on a volume Tekton names after the workspace;
//! * `default-container-resource-requirements` gives a container without requests or limits its entry
//!   (the `defaultresourcerequirements` Pod transformer), which a Pod-level sidecar gets from the policy.
//!
//! Both are read only where they matter, at most once per request (`TektonConfigMap`). A ConfigMap that
//! cannot be read, or a value Tekton would not read, changes nothing, with a warning.

use serde_json::{Map, Value};

use super::tekton_config::TektonConfigMap;
use crate::inject::resources;
use crate::settings::{ContainerDefaults, ContainerResources, Settings};
use crate::support::k8s::check_quantity;
use crate::support::yaml;

/// The binding config-defaults gives an unbound required workspace, a `WorkspaceBinding` in YAML.
const WORKSPACE_BINDING: &str = "default-task-run-workspace-binding";

/// The resources config-defaults gives a container without any, a `ResourceRequirements` by name.
const CONTAINER_RESOURCES: &str = "default-container-resource-requirements";

/// The start of the warning when config-defaults' workspace binding is not known.
const BINDING_NOT_KNOWN: &str = "workspace binding not known: ";

/// The warning where config-defaults' binding would share a claim with another binding: Tekton's order
/// of the bindings, which names the claim's volume, is then not fixed.
pub(super) const ON_ONE_CLAIM: &str =
    "workspace binding not known: config-defaults shares a claim, in no fixed order";

/// The binding Tekton gives every required workspace a TaskRun leaves unbound, without its name: the
/// fields `updateTaskRunWithDefaultWorkspaces` copies of config-defaults' `WorkspaceBinding`. None when
/// config-defaults binds nothing (such a TaskRun fails), and none, with a warning, when it cannot be read
/// or Tekton would not read it (`yaml.Unmarshal` into a `WorkspaceBinding`).
pub(super) fn workspace_binding(
    defaults: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) -> Option<Value> {
    let text = match defaults.data(WORKSPACE_BINDING) {
        Err(()) => {
            warnings.push(defaults.unreadable(BINDING_NOT_KNOWN, ""));
            return None;
        }
        Ok(None) => return None,
        Ok(Some(Value::String(text))) if text.is_empty() => return None,
        Ok(Some(text)) => text.as_str(),
    };
    let binding = text.and_then(|text| yaml::read(text).ok()).and_then(copied);
    if binding.is_none() {
        warnings.push(format!(
            "{BINDING_NOT_KNOWN}{WORKSPACE_BINDING} is not a workspace binding"
        ));
    }
    binding
}

/// What Tekton copies of a `WorkspaceBinding`; none when it is not one.
fn copied(binding: Value) -> Option<Value> {
    const COPIED: [&str; 6] = [
        "subPath",
        "volumeClaimTemplate",
        "persistentVolumeClaim",
        "emptyDir",
        "configMap",
        "secret",
    ];
    let mut fields = match binding {
        Value::Null => Map::new(),
        Value::Object(fields) => fields,
        _ => return None,
    };
    fields.retain(|field, value| COPIED.contains(&field.as_str()) && !value.is_null());
    let typed = |field: &str, ok: fn(&Value) -> bool| fields.get(field).is_none_or(ok);
    let objects = COPIED[1..]
        .iter()
        .all(|field| typed(field, Value::is_object));
    (typed("subPath", Value::is_string) && objects).then_some(Value::Object(fields))
}

/// `settings` with `defaultContainerResourceRequirements: tekton` made the table config-defaults holds:
/// one read of the ConfigMap, and an empty table (what Tekton applies without one), with a warning, when
/// it cannot be read or Tekton would not read it. Other settings are returned as they are.
pub(super) fn resolved(
    mut settings: Settings,
    defaults: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) -> Settings {
    if settings.default_container_resource_requirements != ContainerDefaults::Tekton {
        return settings;
    }
    const START: &str = "container resource defaults not known: ";
    let table = match defaults.data(CONTAINER_RESOURCES) {
        Err(()) => Err(defaults.unreadable(START, "")),
        Ok(None) => Ok(ContainerResources::new()),
        Ok(Some(value)) => value
            .as_str()
            .and_then(table)
            .ok_or_else(|| format!("{START}{CONTAINER_RESOURCES} is not what Tekton reads")),
    };
    let table = table.unwrap_or_else(|warning| {
        warnings.push(warning);
        ContainerResources::new()
    });
    settings.default_container_resource_requirements = ContainerDefaults::Copy(table);
    settings
}

/// The table in `text`, as Tekton reads it (`yaml.Unmarshal` into a map of `ResourceRequirements`,
/// quantities parsed); none when Tekton would refuse it.
fn table(text: &str) -> Option<ContainerResources> {
    let entries = match yaml::read(text).ok()? {
        Value::Null => return Some(ContainerResources::new()),
        Value::Object(entries) => entries,
        _ => return None,
    };
    let mut table = ContainerResources::new();
    for (name, entry) in entries {
        let entry = resources::read(&entry)?;
        let lists = ["requests", "limits"].map(|list| entry.get(list).and_then(Value::as_object));
        let quantities = lists.into_iter().flatten().flat_map(|list| list.values());
        for quantity in quantities {
            check_quantity(quantity.as_str()?).ok()?;
        }
        table.insert(name, entry);
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::super::cluster::Holding;
    use super::*;

    /// Tekton's config-defaults holding `data`, or none when it cannot be read.
    fn cluster(data: Option<Value>) -> Holding {
        Holding::new(data.map(|data| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "config-defaults", "namespace": "tekton-pipelines"}, "data": data})
        }))
    }

    const UNREADABLE: &str =
        "workspace binding not known: config-defaults in \"tekton-pipelines\" could not be read";
    const NOT_A_BINDING: &str = "workspace binding not known: default-task-run-workspace-binding is not a workspace binding";

    #[rstest]
    #[case::empty_dir("emptyDir: {}", Some(json!({"emptyDir": {}})), &[])]
    #[case::claim_at_a_sub_path("persistentVolumeClaim:\n  claimName: cache\nsubPath: $(context.taskRun.name)",
        Some(json!({"persistentVolumeClaim": {"claimName": "cache"}, "subPath": "$(context.taskRun.name)"})), &[])]
    #[case::json("{\"secret\": {\"secretName\": \"s\"}}", Some(json!({"secret": {"secretName": "s"}})), &[])]
    // `updateTaskRunWithDefaultWorkspaces` copies six fields; a source it does not copy is lost.
    #[case::fields_tekton_does_not_copy("csi: {driver: d}\nemptyDir: {}\nname: other", Some(json!({"emptyDir": {}})), &[])]
    #[case::nothing_but_a_comment("# none", Some(json!({})), &[])]
    #[case::empty("", None, &[])]
    #[case::a_list("[emptyDir]", None, &[NOT_A_BINDING])]
    #[case::a_sub_path_not_a_string("subPath: [a]", None, &[NOT_A_BINDING])]
    #[case::a_source_not_an_object("emptyDir: yes", None, &[NOT_A_BINDING])]
    #[case::not_yaml("emptyDir: {", None, &[NOT_A_BINDING])]
    fn the_binding_is_read_as_tekton_reads_it(
        #[case] text: &str,
        #[case] expected: Option<Value>,
        #[case] expected_warnings: &[&str],
    ) {
        let cluster = cluster(Some(json!({WORKSPACE_BINDING: text})));
        let defaults = TektonConfigMap::config_defaults(&cluster, "tekton-pipelines");
        let mut warnings = Vec::new();
        assert_eq!(workspace_binding(&defaults, &mut warnings), expected);
        assert_eq!(warnings, expected_warnings);
    }

    #[rstest]
    #[case::absent(cluster(Some(json!({"default-timeout-minutes": "60"}))), &[])]
    #[case::not_a_string(cluster(Some(json!({WORKSPACE_BINDING: {"emptyDir": {}}}))), &[NOT_A_BINDING])]
    #[case::unreadable(cluster(None), &[UNREADABLE])]
    fn no_binding(#[case] cluster: Holding, #[case] expected_warnings: &[&str]) {
        let defaults = TektonConfigMap::config_defaults(&cluster, "tekton-pipelines");
        let mut warnings = Vec::new();
        assert_eq!(workspace_binding(&defaults, &mut warnings), None);
        assert_eq!(warnings, expected_warnings);
    }

    const NONE_APPLIED: &str = "container resource defaults not known: default-container-resource-requirements is not what Tekton reads";

    #[rstest]
    #[case::by_name_and_default(
        Some(json!({CONTAINER_RESOURCES: "sidecar-db:\n  requests: {cpu: 1}\ndefault:\n  limits: {memory: 1Gi}\n"})),
        json!({"sidecar-db": {"requests": {"cpu": "1"}}, "default": {"limits": {"memory": "1Gi"}}}), &[])]
    #[case::none_set(Some(json!({})), json!({}), &[])]
    #[case::empty(Some(json!({CONTAINER_RESOURCES: ""})), json!({}), &[])]
    #[case::a_quantity_kubernetes_refuses(Some(json!({CONTAINER_RESOURCES: "default: {requests: {cpu: lots}}"})), json!({}), &[NONE_APPLIED])]
    #[case::an_entry_not_requirements(Some(json!({CONTAINER_RESOURCES: "default: [1]"})), json!({}), &[NONE_APPLIED])]
    #[case::a_list(Some(json!({CONTAINER_RESOURCES: "- default"})), json!({}), &[NONE_APPLIED])]
    #[case::unreadable(None, json!({}),
        &["container resource defaults not known: config-defaults in \"tekton-pipelines\" could not be read"])]
    fn tekton_s_table_is_read(
        #[case] data: Option<Value>,
        #[case] expected: Value,
        #[case] expected_warnings: &[&str],
    ) {
        let cluster = cluster(data);
        let defaults = TektonConfigMap::config_defaults(&cluster, "tekton-pipelines");
        let settings = json!({"defaultContainerResourceRequirements": "tekton"});
        let settings = Settings::from_value(settings).expect("valid settings");
        let mut warnings = Vec::new();
        let settings = resolved(settings, &defaults, &mut warnings);
        let expected = serde_json::from_value(expected).expect("a table");
        assert_eq!(
            settings.default_container_resource_requirements,
            ContainerDefaults::Copy(expected)
        );
        assert_eq!(warnings, expected_warnings);
        assert_eq!(cluster.reads.get(), 1);
    }

    /// What the policy makes of `object` (a TaskRun or a Pod) under `settings`, config-defaults holding
    /// `data`: the first sidecar it injected, the warnings and the reads of the cluster.
    fn admitted(
        object: Value,
        settings: Value,
        data: Option<Value>,
    ) -> (Value, Vec<String>, usize) {
        let cluster = cluster(data);
        let kind = object["kind"].clone();
        let group = if kind == "Pod" { "" } else { "tekton.dev" };
        let payload = json!({"request": {"uid": "u", "kind": {"group": group, "version": "v1", "kind": kind},
            "operation": "CREATE", "namespace": "ci", "object": object}, "settings": settings});
        let verdict = super::super::verdict_reading(payload.to_string().as_bytes(), &cluster);
        let Ok(super::super::Outcome::Mutate(mutated)) = verdict.outcome else {
            panic!("not mutated: {:?}", verdict.outcome);
        };
        let object: Value = serde_json::from_str(mutated.text()).expect("JSON");
        let sidecar = match kind.as_str() {
            Some("Pod") => object["spec"]["containers"][1].clone(),
            _ => object["spec"]["taskSpec"]["sidecars"][0].clone(),
        };
        (sidecar, verdict.warnings, cluster.reads.get())
    }

    /// An inline TaskRun whose Task requires workspace `source`, with `bindings`, and a sidecar that
    /// lists it.
    fn inline_taskrun(bindings: Value) -> Value {
        let declaration =
            json!([{"name": "db", "image": "postgres:16", "workspaces": [{"name": "source"}]}]);
        json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": "run-test", "namespace": "ci", "labels": {"tekton.dev/pipelineTask": "test"},
                "annotations": {"pipelinerun-sidecars.io/test": declaration.to_string()}},
            "spec": {"workspaces": bindings, "taskSpec": {"workspaces": [{"name": "source"}],
                "steps": [{"name": "test", "image": "golang"}]}}})
    }

    const SHARED: &str = "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": a listed workspace stays shared with the steps";
    const NOT_BOUND: &str = "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": workspace \"source\" is not bound: no mount for it";

    /// An inline Task's sidecar that lists a workspace config-defaults binds gets it, as a Task's own
    /// sidecar gets it from Tekton; config-defaults is read only for such a workspace.
    #[rstest]
    #[case::bound_by_config_defaults(json!([]), Some(json!({WORKSPACE_BINDING: "emptyDir: {}\nsubPath: s"})),
        json!([{"name": "$(workspaces.source.volume)", "mountPath": "/workspace/source", "subPath": "s"}]), &[SHARED], 1)]
    #[case::bound_by_the_taskrun(json!([{"name": "source", "emptyDir": {}}]), Some(json!({WORKSPACE_BINDING: "emptyDir: {}\nsubPath: s"})),
        json!([{"name": "$(workspaces.source.volume)", "mountPath": "/workspace/source"}]), &[SHARED], 0)]
    #[case::at_a_param_sub_path(json!([]), Some(json!({WORKSPACE_BINDING: "emptyDir: {}\nsubPath: $(params.dir)"})),
        json!([{"name": "$(workspaces.source.volume)", "mountPath": "/workspace/source", "subPath": "$(params.dir)"}]), &[SHARED], 1)]
    // Tekton substitutes only params in a binding (`ApplyParametersToWorkspaceBindings`), the context too in
    // a sidecar's mount: the two would differ.
    #[case::at_a_context_sub_path(json!([]), Some(json!({WORKSPACE_BINDING: "emptyDir: {}\nsubPath: $(context.taskRun.name)"})),
        Value::Null, &["annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": workspace \"source\": subPath not substituted for steps: no mount"], 1)]
    #[case::config_defaults_not_readable(json!([]), None, Value::Null, &[UNREADABLE, NOT_BOUND], 1)]
    #[case::config_defaults_bind_nothing(json!([]), Some(json!({})), Value::Null, &[NOT_BOUND], 1)]
    fn an_inline_task_s_sidecar_gets_config_defaults_binding(
        #[case] bindings: Value,
        #[case] data: Option<Value>,
        #[case] mounts: Value,
        #[case] expected_warnings: &[&str],
        #[case] reads: usize,
    ) {
        let (sidecar, warnings, read) = admitted(inline_taskrun(bindings), json!({}), data);
        assert_eq!(sidecar.get("volumeMounts").unwrap_or(&Value::Null), &mounts);
        assert_eq!(
            (warnings, read),
            (
                expected_warnings.iter().map(ToString::to_string).collect(),
                reads
            )
        );
    }

    /// A TaskRun's Pod, the sidecar `db` declared for it.
    fn pod() -> Value {
        let declaration = json!([{"name": "db", "image": "postgres:16"}]);
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "run-test-pod", "namespace": "ci",
            "labels": {"tekton.dev/taskRun": "run-test", "tekton.dev/pipelineTask": "test"},
            "annotations": {"pipelinerun-sidecars.io/test": declaration.to_string()},
            "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "run-test",
                "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "step-test", "image": "golang"}]}})
    }

    /// A Pod-level sidecar gets the entry of config-defaults' table Tekton gives a Task's sidecar.
    #[test]
    fn a_pod_level_sidecar_gets_tekton_s_resources() {
        let table = "prefix-sidecar: {requests: {memory: 64Mi}}\ndefault: {requests: {cpu: 10m}}";
        let settings = json!({"defaultContainerResourceRequirements": "tekton"});
        let data = Some(json!({CONTAINER_RESOURCES: table}));
        let (sidecar, warnings, reads) = admitted(pod(), settings, data);
        assert_eq!(
            sidecar["resources"],
            json!({"requests": {"memory": "64Mi"}})
        );
        assert_eq!((warnings.len(), reads), (0, 1));
    }

    /// A copy in the settings is the admin's: nothing is read.
    #[test]
    fn a_copy_reads_nothing() {
        let cluster = cluster(Some(
            json!({CONTAINER_RESOURCES: "default: {requests: {cpu: 1}}"}),
        ));
        let defaults = TektonConfigMap::config_defaults(&cluster, "tekton-pipelines");
        let settings = Settings::from_value(json!({})).expect("valid settings");
        let mut warnings = Vec::new();
        let resolved = resolved(settings.clone(), &defaults, &mut warnings);
        assert_eq!(
            (resolved, warnings.len(), cluster.reads.get()),
            (settings, 0, 0)
        );
    }
}
