//! Pod CREATE of a TaskRun: the declared sidecars become containers, built the way Tekton builds a
//! Task's sidecar (`Build` in `pkg/pod/pod.go`, `convertScripts` in `pkg/pod/script.go`,
//! `workspace.Apply` in `pkg/workspace/apply.go`).
//!
//! A container named `sidecar-<name>` is one Tekton treats as a sidecar: it waits for it to be ready
//! before the first step (`SidecarsReady`), stops it when the steps are done (`StopSidecars`) and reports
//! it in `taskRun.status.sidecars`. It goes where Tekton puts a Task's sidecars: after them, and before
//! `sidecar-tekton-log-results`, which Tekton always puts last. In native mode the container is an init
//! container with `restartPolicy: Always`, after Tekton's own init containers, as Tekton does with
//! `enable-kubernetes-sidecar`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::context::TaskRunContext;
use super::lists::{self, Edits, insertion_point, is_sidecar};
use super::resources::{self, Resources};
use super::task::KnownTask;
use super::workspaces::{self, PodView};
use super::{Container, Injected, conflict, reported, script, surroundings};
use crate::declaration::Declared;
use crate::settings::images::image_problem;
use crate::settings::pod_level::{self, Surroundings};
use crate::settings::{InjectAs, OnConflict, Settings};
use crate::support::error::{FieldError, Problem, warning};
use crate::support::json::array;
use crate::tekton::sidecar::{Sidecar, text};
use crate::tekton::variables::{
    LITERAL_AT_POD_LEVEL, Variables, has_variable, pod_level_variable, sidecar_container_name,
};
use crate::tekton::workspaces::is_workspace_volume;

/// The warning for a sidecar injected into a Pod Tekton built with its steps free to start at once:
/// for a Task that declared it, Tekton would have made the first step wait (`isPodReadyImmediately`).
pub const READY_AT_ONCE: &str = "Pod built ready: the steps will not wait for it";

/// Adds the declared sidecars that `already` does not list to the Pod, or replaces a Task-defined
/// `sidecar-<name>` in place. `context` is what the policy carried from the TaskRun, `task` what is known
/// of the Task from the cluster.
pub fn inject(
    pod: &Value,
    declared: &[Declared],
    already: &[String],
    context: Option<TaskRunContext>,
    task: KnownTask,
    settings: &Settings,
) -> Result<Injected, Vec<Problem>> {
    let specs = context.clone();
    // Each pending sidecar as it will be built: the Pod is read for what those name.
    let made_sidecars: Vec<(&Declared, Cow<'_, Sidecar>)> = declared
        .iter()
        .filter(|d| !d.among(already))
        .map(|d| (d, substituted(&d.sidecar, task.variables.as_ref())))
        .collect();
    let as_built = made_sidecars.iter().map(|(_, s)| s.as_ref());
    let view = view(pod, context, task, as_built);
    let around = surroundings(pod.get("spec").unwrap_or(&Value::Null), &[]);
    let mut problems = Vec::new();
    let mut injected = Injected::default();
    // The lists are read where they are and the changes applied once the Pod is no longer read: a
    // Pod's steps are most of its text, and copying them would cost more than the injection itself.
    let lists = [
        array(pod, "/spec/containers"),
        array(pod, "/spec/initContainers"),
    ];
    let mut edits: [Edits; 2] = Default::default();
    // New sidecars go together, in order, before the results sidecar: the same place for all of them.
    let insertion_points = lists.map(insertion_point);
    let mut made: Vec<String> = Vec::new();
    problems.extend(judged_in_place(declared, already, lists, &around, settings));
    for (entry, sidecar) in &made_sidecars {
        let name = entry.sidecar.name();
        let report = |errors: Vec<FieldError>| reported(entry, errors);
        let container_name = sidecar_container_name(name);
        if made.contains(&container_name) {
            problems.extend(report(vec![cut_alike(&container_name)]));
            continue;
        }
        let existing = position(lists, &container_name);
        if existing.is_some() && settings.on_conflict == OnConflict::Reject {
            problems.push(conflict(entry));
            continue;
        }
        let native = usize::from(settings.inject_as == InjectAs::Native);
        let list = existing.map_or(native, |(l, _)| l);
        let replaced: Option<Resources> = existing
            .and_then(|(l, i)| lists.get(l)?.get(i)?.get("resources"))
            .and_then(resources::read);
        let (Some(target), Some(edits), Some(&insert_at)) = (
            lists.get(list),
            edits.get_mut(list),
            insertion_points.get(list),
        ) else {
            continue;
        };
        let at = existing.map_or(insert_at, |(_, i)| i);
        let index = sidecar_index(target, at, insert_at, edits.insert.len());
        let build = Build {
            written: &entry.sidecar,
            container_name: &container_name,
            native: list == 1,
            script_path: script::path(index, name),
            replaced,
            specs: specs.as_ref(),
            around: &around,
            template: entry.template.as_deref(),
            settings,
        };
        match build.container(sidecar, &view) {
            Ok((container, warnings)) => {
                let built = Value::Object(container);
                match existing {
                    Some((_, i)) => edits.replace.push((i, built)),
                    None => edits.insert.push(built),
                }
                let warned = warnings.into_iter();
                let warned = warned.map(|w| warning(&entry.annotation, name, &w));
                injected.warnings.extend(warned);
                injected.names.push(name.to_string());
                made.push(container_name);
            }
            Err(errors) => problems.extend(report(errors)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if injected.names.is_empty() {
        return Ok(injected);
    }
    if !pod.get("spec").is_some_and(Value::is_object) {
        return Err(vec![no_spec(declared)]);
    }
    injected.edits = lists::edits(edits, insertion_points);
    Ok(injected)
}

/// The Pod as the sidecars `made` see it, with the TaskRun's own bindings when it was read from the
/// cluster, over the ones carried on its annotation. A TaskRun that binds nothing leaves the Pod's
/// workspace volumes, if any, to config-defaults' binding: they are read as without bindings.
fn view<'p, 's>(
    pod: &'p Value,
    context: Option<TaskRunContext>,
    task: KnownTask,
    made: impl Iterator<Item = &'s Sidecar>,
) -> PodView<'p> {
    let context = match task.bindings {
        Some(workspaces) if workspaces.is_empty() => None,
        Some(workspaces) => Some(TaskRunContext {
            workspaces,
            ..context.unwrap_or_default()
        }),
        None => context,
    };
    PodView::of(pod, context, task.workspaces, made)
}

/// Whether the Pod has a volume named as Tekton names a workspace's.
pub fn has_workspace_volumes(pod: &Value) -> bool {
    let names = array(pod, "/spec/volumes").iter();
    let mut names = names.filter_map(|v| v.get("name").and_then(Value::as_str));
    names.any(is_workspace_volume)
}

/// The sidecar as Tekton makes a Task's sidecar when it substitutes `variables`, if they are known.
fn substituted<'s>(sidecar: &'s Sidecar, variables: Option<&Variables>) -> Cow<'s, Sidecar> {
    let Some(variables) = variables else {
        return Cow::Borrowed(sidecar);
    };
    let own: Vec<(&str, &str)> = sidecar
        .list("workspaces")
        .iter()
        .map(|usage| (text(usage, "name"), text(usage, "mountPath")))
        .filter(|(_, path)| !path.is_empty())
        .collect();
    let variables = variables.for_sidecar(&own);
    Cow::Owned(sidecar.substituted(&|text: &str| variables.made(text)))
}

/// Why the image a variable became is not allowed: the declaration's guardrails judged only images
/// without one (`settings::guardrails::check`).
fn made_image_problem(
    written: &Sidecar,
    made: &Sidecar,
    settings: &Settings,
) -> Option<FieldError> {
    let written = written.text("image").filter(|i| has_variable(i))?;
    let image = made.text("image").filter(|i| !has_variable(i))?;
    let problem = image_problem(image, &settings.allowed_images)?;
    Some(FieldError::new(
        "image",
        format!("{written:?} is {image:?} in this TaskRun, and {problem}"),
    ))
}

/// The list (containers, init containers) and the index of the container `name`, if the Pod has it.
fn position(lists: [&[Value]; 2], name: &str) -> Option<(usize, usize)> {
    let named = |c: &Value| c.get("name").and_then(Value::as_str) == Some(name);
    let mut found = lists.iter().enumerate();
    found.find_map(|(list, items)| items.iter().position(named).map(|i| (list, i)))
}

/// Where a sidecar goes among the sidecars of its list as it will be (for its script's name): at `at`
/// (where it replaces one, or `insert_at`, after `inserted` new ones already there).
fn sidecar_index(target: &[Value], at: usize, insert_at: usize, inserted: usize) -> usize {
    let inserted_before = if at >= insert_at { inserted } else { 0 };
    target.iter().take(at).filter(|c| is_sidecar(c)).count() + inserted_before
}

/// The refusal of a second declared sidecar that becomes the container `name`.
fn cut_alike(name: &str) -> FieldError {
    FieldError::new(
        "name",
        format!(
            "becomes the container {name:?}, as another declared sidecar does: Tekton cuts container names to 63 characters; shorten one of them"
        ),
    )
}

/// The refusal of a Pod without a spec to add the sidecars to.
fn no_spec(declared: &[Declared]) -> Problem {
    Problem {
        annotation: declared
            .first()
            .map(|d| d.annotation.clone())
            .unwrap_or_default(),
        sidecar: None,
        error: FieldError::new("", "the Pod has no spec to add sidecars to"),
    }
}

/// The sidecars injected into an inline TaskRun (`already`), which are in the Pod as Tekton built them,
/// names substituted and volumes added from the cluster's default pod template: what the Pod gives them
/// is judged here, on the real thing.
fn judged_in_place(
    declared: &[Declared],
    already: &[String],
    lists: [&[Value]; 2],
    around: &Surroundings<'_>,
    settings: &Settings,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for entry in declared.iter().filter(|d| d.among(already)) {
        let container_name = sidecar_container_name(entry.sidecar.name());
        let Some(container) = lists
            .into_iter()
            .flatten()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container_name.as_str()))
        else {
            continue;
        };
        let mounted: Vec<&str> = array(container, "/volumeMounts")
            .iter()
            .filter_map(|m| m.get("name").and_then(Value::as_str))
            .collect();
        let context = container.get("securityContext").filter(|c| c.is_object());
        let found = pod_level::problems(settings.pod_security, around, context, &mounted);
        problems.extend(reported(entry, found));
    }
    problems
}

/// What building one container needs besides the sidecar and the Pod.
struct Build<'a> {
    /// The sidecar as declared, before its variables were made.
    written: &'a Sidecar,
    container_name: &'a str,
    native: bool,
    /// The path Tekton would give the sidecar's script file: the script's `$0`.
    script_path: String,
    /// The resources of the Task's sidecar this one replaces.
    replaced: Option<Resources>,
    specs: Option<&'a TaskRunContext>,
    /// The Pod, as the Pod Security Standards judge what it gives a sidecar.
    around: &'a Surroundings<'a>,
    /// The template the sidecar is made from, if it is.
    template: Option<&'a str>,
    settings: &'a Settings,
}

impl Build<'_> {
    /// The container for one sidecar, as Tekton's Pod builder would make it, with the warnings for what it
    /// leaves out.
    fn container(
        &self,
        sidecar: &Sidecar,
        pod: &PodView<'_>,
    ) -> Result<(Container, Vec<String>), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(image) = sidecar.text("image").filter(|i| has_variable(i)) {
            errors.push(pod_level_variable("image", image));
        }
        errors.extend(made_image_problem(self.written, sidecar, self.settings));
        let (mounts, mut warnings) = workspaces::mounts(sidecar, self.template, pod)
            .unwrap_or_else(|problems| {
                errors.extend(problems);
                (Vec::new(), Vec::new())
            });
        let mounted: Vec<&str> = mounts.iter().map(|m| text(m, "name")).collect();
        errors.extend(pod_level::problems(
            self.settings.pod_security,
            self.around,
            sidecar.get("securityContext"),
            &mounted,
        ));
        let command = match sidecar.text("script") {
            Some(text) => match script::command(text, &self.script_path) {
                Ok(command) => Some(Value::from(command)),
                Err(error) => {
                    errors.push(error);
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        if sidecar.names_variables() {
            warnings.push(LITERAL_AT_POD_LEVEL.to_string());
        }
        if command.is_some() {
            warnings.push(script::FROM_THE_COMMAND.to_string());
        }
        let name = sidecar.name();
        let declared = resources::merged(
            self.replaced.clone(),
            sidecar.get("computeResources").and_then(Value::as_object),
        );
        let defaulted = resources::with_defaults(declared, &self.settings.default_resources);
        let specified = resources::merged(defaulted, self.specs.and_then(|c| c.resources(name)));
        let resources = resources::cluster_default(
            specified,
            self.container_name,
            self.settings
                .default_container_resource_requirements
                .table(),
        );
        // What Tekton's Pod builder copies of a Sidecar into its container; the rest is Tekton's to use.
        let mut container: Map<String, Value> = sidecar
            .fields()
            .iter()
            .filter(|(field, _)| {
                !matches!(
                    field.as_str(),
                    "script" | "workspaces" | "restartPolicy" | "computeResources" | "volumeMounts"
                )
            })
            .map(|(field, value)| (field.clone(), value.clone()))
            .collect();
        container.insert("name".to_string(), Value::from(self.container_name));
        if let Some(command) = command {
            container.insert("command".to_string(), command);
        }
        if let Some(resources) = resources {
            container.insert("resources".to_string(), Value::Object(resources));
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".to_string(), Value::Array(mounts));
        }
        if self.native {
            // As Tekton's builder makes a native sidecar (`Build`): nothing but the restart policy. The
            // steps wait for it to start, which only a startupProbe of the author's decides.
            container.insert("restartPolicy".to_string(), Value::from("Always"));
        }
        Ok((container, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::tests::{declared, inject_pod as inject};
    use crate::inject::workspaces::AS_THE_POD_SHOWS;
    use crate::tekton::workspace_volume;
    use serde_json::json;

    /// A Pod as Tekton's `Build` makes it for a Task with two steps and the workspace `source` bound.
    fn pod() -> Value {
        let source = json!({"name": workspace_volume("source"), "mountPath": "/workspace/source"});
        json!({"metadata": {"name": "run-test-pod"}, "spec": {
            "initContainers": [{"name": "prepare", "image": "entrypoint"}],
            "containers": [
                {"name": "step-build", "image": "golang", "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}, source]},
                {"name": "step-test", "image": "golang", "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}, source]}
            ],
            "volumes": [{"name": "tekton-internal-bin", "emptyDir": {}}, {"name": workspace_volume("source"), "emptyDir": {}}]
        }})
    }

    fn inject_into(pod: &mut Value, decl: &[Declared], settings: &Settings) -> Vec<String> {
        inject(pod, decl, &[], None, settings).expect("ok").names
    }

    #[test]
    fn appends_a_sidecar_container_with_the_shared_workspace() {
        let mut pod = pod();
        let decl = [declared(
            json!({"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}),
        )];
        assert_eq!(
            inject_into(&mut pod, &decl, &Settings::default()),
            vec!["db"]
        );
        assert_eq!(
            pod["spec"]["containers"][2],
            json!({"name": "sidecar-db", "image": "postgres", "resources": {"limits": {"cpu": "1"}},
                   "volumeMounts": [{"name": workspace_volume("source"), "mountPath": "/workspace/source"}]})
        );
    }

    #[test]
    fn a_listed_workspace_adds_a_mount_at_its_path() {
        let mut pod = pod();
        let decl = [declared(
            json!({"name": "db", "image": "p", "workspaces": [{"name": "source", "mountPath": "/src"}]}),
        )];
        inject_into(&mut pod, &decl, &Settings::default());
        assert_eq!(
            pod["spec"]["containers"][2]["volumeMounts"],
            json!([{"name": workspace_volume("source"), "mountPath": "/src"},
                   {"name": workspace_volume("source"), "mountPath": "/workspace/source"}])
        );
    }

    #[test]
    fn native_mode_adds_an_init_container_as_tekton_does() {
        let mut pod = pod();
        let settings = Settings {
            inject_as: InjectAs::Native,
            ..Settings::default()
        };
        let decl = [declared(
            json!({"name": "db", "image": "p", "readinessProbe": {"tcpSocket": {"port": 5432}, "periodSeconds": 2}}),
        )];
        inject_into(&mut pod, &decl, &settings);
        let init = &pod["spec"]["initContainers"];
        assert_eq!(init[0]["name"], "prepare");
        assert_eq!(init[1]["name"], "sidecar-db");
        assert_eq!(init[1]["restartPolicy"], "Always");
        assert_eq!(init[1].get("startupProbe"), None);
        assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn overrides_a_task_sidecar_in_place_keeping_its_resources_and_respects_the_marker() {
        let mut pod = pod();
        let containers = pod["spec"]["containers"]
            .as_array_mut()
            .expect("containers");
        containers.push(json!({"name": "sidecar-db", "image": "old", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}));
        containers.push(json!({"name": "sidecar-cache", "image": "c"}));
        let decl = [declared(
            json!({"name": "db", "image": "new", "computeResources": {"requests": {"memory": "2Gi"}}}),
        )];
        inject_into(&mut pod, &decl, &Settings::default());
        assert_eq!(pod["spec"]["containers"][2]["image"], "new");
        assert_eq!(
            pod["spec"]["containers"][2]["resources"],
            json!({"requests": {"cpu": "1", "memory": "2Gi"}})
        );
        assert_eq!(pod["spec"]["containers"][3]["name"], "sidecar-cache");
        let before = pod.clone();
        let again =
            inject(&mut pod, &decl, &["db".into()], None, &Settings::default()).expect("ok");
        assert!(again.names.is_empty());
        assert_eq!(pod, before);
    }

    #[test]
    fn goes_before_the_results_sidecar() {
        let mut pod = pod();
        let containers = pod["spec"]["containers"]
            .as_array_mut()
            .expect("containers");
        containers.push(json!({"name": "sidecar-own", "image": "o"}));
        containers.push(json!({"name": "sidecar-tekton-log-results", "image": "r"}));
        inject_into(
            &mut pod,
            &[declared(json!({"name": "db", "image": "p"}))],
            &Settings::default(),
        );
        let names: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            vec![
                "step-build",
                "step-test",
                "sidecar-own",
                "sidecar-db",
                "sidecar-tekton-log-results"
            ]
        );
    }

    #[test]
    fn long_names_are_cut_as_tekton_cuts_them_and_must_stay_apart() {
        let mut pod = pod();
        let long = "a".repeat(60);
        inject_into(
            &mut pod,
            &[declared(json!({"name": long, "image": "p"}))],
            &Settings::default(),
        );
        assert_eq!(
            pod["spec"]["containers"][2]["name"],
            format!("sidecar-{}", "a".repeat(55))
        );
        let twins = [
            declared(json!({"name": format!("{}x", "a".repeat(55)), "image": "p"})),
            declared(json!({"name": format!("{}y", "a".repeat(55)), "image": "p"})),
        ];
        let problems =
            inject(&mut pod.clone(), &twins, &[], None, &Settings::default()).expect_err("twins");
        assert!(
            problems[0]
                .to_string()
                .contains("Tekton cuts container names to 63 characters"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn missing_volumes_and_pod_level_variables_are_named() {
        let mut pod = pod();
        let decl = [declared(json!({"name": "db", "image": "$(params.image)",
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}, {"name": "$(params.v)", "mountPath": "/v"}]}))];
        let problems: Vec<String> = inject(&mut pod, &decl, &[], None, &Settings::default())
            .expect_err("bad")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            vec![
                "annotation \"p.io/test\", sidecar \"db\": image: \"$(params.image)\" holds a $(...) variable, and Tekton substitutes nothing in a sidecar injected into the Pod (only an inline taskSpec's sidecars get its variables): write the value",
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[0].name: the Pod has no volume \"cache\"; the volumes a sidecar may mount are ws-1bcf2 (add a volume with the TaskRun's podTemplate, or use a workspace)",
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[1].name: \"$(params.v)\" holds a $(...) variable, and Tekton substitutes nothing in a sidecar injected into the Pod (only an inline taskSpec's sidecars get its variables): write the value",
            ]
        );
    }

    #[rstest::rstest]
    #[case::plain(json!({"name": "db", "image": "p", "env": [{"name": "A", "value": "$(B)"}]}), vec![AS_THE_POD_SHOWS])]
    #[case::script(json!({"name": "db", "image": "p", "script": "echo hi"}), vec![AS_THE_POD_SHOWS, script::FROM_THE_COMMAND])]
    #[case::tekton_variable(json!({"name": "db", "image": "p", "args": ["$(params.x)"]}), vec![AS_THE_POD_SHOWS, LITERAL_AT_POD_LEVEL])]
    #[case::unbound_workspace(json!({"name": "db", "image": "p", "workspaces": [{"name": "output"}]}),
        vec!["workspace \"output\" has no volume in this Pod: no mount for it", AS_THE_POD_SHOWS])]
    #[case::listed_workspace(json!({"name": "db", "image": "p", "workspaces": [{"name": "source", "mountPath": "/src"}]}),
        vec![crate::inject::LISTING_SHARES, AS_THE_POD_SHOWS])]
    fn what_a_pod_level_sidecar_warns_of(#[case] sidecar: Value, #[case] expected: Vec<&str>) {
        let injected = inject(
            &mut pod(),
            &[declared(sidecar)],
            &[],
            None,
            &Settings::default(),
        )
        .expect("injected");
        let lines: Vec<String> = expected
            .iter()
            .map(|text| format!("annotation \"p.io/test\", sidecar \"db\": {text}"))
            .collect();
        assert_eq!(injected.warnings, lines);
    }
}
