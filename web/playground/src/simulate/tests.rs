//! The simulation end to end: unusable inputs, settings, referenced and inline tasks, taskRunSpecs,
//! overrides, native mode, notes and pasted Pipelines.

use super::*;
use rstest::rstest;

/// A PipelineRun with two referenced tasks (`unit`, `it`), a finally task, and the given annotations
/// and taskRunSpecs.
fn pipelinerun(annotations: &str, task_run_specs: &str) -> String {
    format!(
        "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: pr
  annotations: {annotations}
spec:
  taskRunSpecs: {task_run_specs}
  pipelineSpec:
    tasks:
      - {{name: unit, taskRef: {{name: go-test}}, workspaces: [{{name: source, workspace: ws}}]}}
      - {{name: it, taskRef: {{name: go-test}}}}
    finally:
      - {{name: report, taskSpec: {{steps: [{{name: send, image: curl}}]}}}}
"
    )
}

const TASK: &str = "apiVersion: tekton.dev/v1
kind: Task
metadata: {name: go-test}
spec:
  workspaces: [{name: source, mountPath: /src}]
  steps: [{name: test, image: golang}]
  sidecars: [{name: db, image: mysql}]
";

fn simulate(pipelinerun: &str, tasks: &str, settings: &str) -> Simulation {
    run(Inputs {
        pipelinerun,
        tasks,
        settings,
    })
}

fn task<'a>(simulation: &'a Simulation, name: &str) -> &'a TaskResult {
    simulation
        .task(name)
        .unwrap_or_else(|| panic!("no task {name}: {simulation:?}"))
}

fn changed(result: &TaskResult) -> Vec<(&str, &str, Change)> {
    result
        .entries
        .iter()
        .filter(|e| e.change != Change::Unchanged)
        .map(|e| (e.list, e.name.as_str(), e.change))
        .collect()
}

#[rstest]
#[case::not_yaml(
    "kind: [",
    "",
    "",
    "PipelineRun: is not valid YAML or JSON: line 1 column 7: unclosed bracket '['"
)]
#[case::only_a_task(
    TASK,
    "",
    "",
    "PipelineRun: 0 PipelineRuns are given; paste one (apiVersion tekton.dev/v1 or tekton.dev/v1beta1, kind PipelineRun)"
)]
#[case::two_pipelineruns(
    "kind: PipelineRun\napiVersion: tekton.dev/v1\n---\nkind: PipelineRun\napiVersion: tekton.dev/v1\n",
    "",
    "",
    "PipelineRun: 2 PipelineRuns are given; paste one (apiVersion tekton.dev/v1 or tekton.dev/v1beta1, kind PipelineRun)"
)]
#[case::a_list(
    "- a",
    "",
    "",
    "PipelineRun: is a list; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
)]
#[case::a_config_map(
    "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
    "---\nkind: Task\napiVersion: tekton.dev/v1\n---\n# a comment\nkind: ConfigMap\napiVersion: v1\n",
    "",
    "Tasks, document 2: is a ConfigMap of v1; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
)]
#[case::an_unversioned_task(
    "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
    "name: x",
    "",
    "Tasks: is a mapping without apiVersion and kind; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
)]
#[case::lines_count_across_documents(
    "kind: PipelineRun\napiVersion: tekton.dev/v1\n---\nkind: [Task\n",
    "",
    "",
    "PipelineRun: is not valid YAML or JSON: line 4 column 7: unclosed bracket '['"
)]
#[case::settings_not_yaml(
    "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
    "",
    "a: b: c",
    "settings: is not valid YAML or JSON: line 1 column 5: mapping values are not allowed in this context"
)]
fn unusable_inputs_are_named(
    #[case] pipelinerun: &str,
    #[case] task: &str,
    #[case] settings: &str,
    #[case] expected: &str,
) {
    let simulation = simulate(pipelinerun, task, settings);
    assert_eq!(simulation.input_errors, [expected]);
    assert!(simulation.tasks.is_empty());
}

#[test]
fn wrong_settings_get_the_message_of_validate_settings() {
    let simulation = simulate(
        &pipelinerun("{}", "[]"),
        "",
        "{onConflict: maybe, maxSidecarsPerTask: 0}",
    );
    let expected = settings::load::validate(br#"{"onConflict": "maybe", "maxSidecarsPerTask": 0}"#)
        .expect_err("invalid");
    assert_eq!(
        simulation.settings_error,
        Some(render_settings_errors(&expected))
    );
    assert!(
        simulation
            .settings_error
            .as_deref()
            .is_some_and(|m| m.contains("settings.onConflict"))
    );
    assert!(simulation.tasks.is_empty());
}

#[test]
fn a_referenced_task_gets_the_sidecar_in_its_pod_and_an_inline_one_in_its_taskrun() {
    let all = "{pipelinerun-sidecars.io/all-tasks: '- {name: cache, image: redis}'}";
    let simulation = simulate(&pipelinerun(all, "[]"), TASK, "");
    assert_eq!(simulation.pipelinerun_rejection, None);
    let unit = task(&simulation, "unit");
    assert_eq!((unit.shown, unit.member_of), ("Pod", "tasks"));
    assert_eq!(
        changed(unit),
        [("containers", "sidecar-cache", Change::Added)]
    );
    let cache = &unit.entries.last().expect("entry").value;
    // The Task's workspace, at the Task's mountPath, shared as Tekton shares it with its sidecars.
    assert_eq!(
        cache["volumeMounts"],
        json!([{"name": "ws-1bcf2", "mountPath": "/src"}])
    );
    assert_eq!(
        unit.object["metadata"]["labels"]["tekton.dev/task"],
        "go-test"
    );
    let report = task(&simulation, "report");
    assert_eq!((report.shown, report.member_of), ("TaskRun", "finally"));
    assert_eq!(changed(report), [("sidecars", "cache", Change::Added)]);
    assert_eq!(report.injected, ["cache"]);
}

#[test]
fn task_run_specs_declare_for_one_task_and_win_over_the_pipelinerun() {
    let annotations = "{pipelinerun-sidecars.io/it: '- {name: cache, image: redis:6}'}";
    let specs = "[{pipelineTaskName: it, metadata: {annotations: {pipelinerun-sidecars.io/it: '- {name: cache, image: redis:7}'}}}]";
    let simulation = simulate(&pipelinerun(annotations, specs), TASK, "");
    let it = task(&simulation, "it");
    assert_eq!(
        changed(it),
        [("containers", "sidecar-cache", Change::Added)]
    );
    assert_eq!(it.entries.last().expect("entry").value["image"], "redis:7");
    assert!(changed(task(&simulation, "unit")).is_empty());
    assert!(changed(task(&simulation, "report")).is_empty());
}

#[rstest]
#[case::override_in_place("", Ok(vec![("containers", "sidecar-db", Change::Replaced)]))]
#[case::native("injectAs: native", Ok(vec![("containers", "sidecar-db", Change::Replaced)]))]
#[case::reject(
    "onConflict: reject",
    Err(
        "pipelinerun-sidecars: annotation \"pipelinerun-sidecars.io/unit\", sidecar \"db\": name: the Task already defines a sidecar named \"db\", and the policy setting onConflict is \"reject\"; choose another name"
    )
)]
fn a_declaration_that_names_a_task_sidecar(
    #[case] settings: &str,
    #[case] expected: Result<Vec<(&str, &str, Change)>, &str>,
) {
    let annotations = "{pipelinerun-sidecars.io/unit: '- {name: db, image: postgres}'}";
    let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, settings);
    // The PipelineRun cannot know the Task's sidecars: the conflict shows on the Pod.
    assert_eq!(simulation.pipelinerun_rejection, None);
    let unit = task(&simulation, "unit");
    match expected {
        Ok(entries) => assert_eq!(changed(unit), entries),
        Err(message) => {
            let rejection = unit.rejection.as_ref().expect("rejected");
            assert_eq!(
                (rejection.kind, rejection.message.as_str()),
                ("Pod", message)
            );
        }
    }
}

#[test]
fn a_custom_prefix_declares_and_marks() {
    let annotations = "{sidecars.acme.io/unit: '- {name: cache, image: redis}'}";
    let simulation = simulate(
        &pipelinerun(annotations, "[]"),
        TASK,
        "annotationPrefix: sidecars.acme.io",
    );
    let unit = task(&simulation, "unit");
    assert_eq!(unit.injected, ["cache"]);
    assert_eq!(
        unit.object["metadata"]["annotations"]["sidecars.acme.io/injected"],
        "cache"
    );
}

#[test]
fn native_mode_adds_an_init_container() {
    let annotations = "{pipelinerun-sidecars.io/unit: '- {name: cache, image: redis}'}";
    let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, "injectAs: native");
    let unit = task(&simulation, "unit");
    assert_eq!(
        changed(unit),
        [("initContainers", "sidecar-cache", Change::Added)]
    );
    let added = unit
        .entries
        .iter()
        .find(|e| e.change == Change::Added)
        .expect("added");
    assert_eq!(added.value["restartPolicy"], "Always");
}

#[test]
fn a_bad_declaration_stops_at_the_pipelinerun_with_the_policy_message() {
    let annotations = "{pipelinerun-sidecars.io/unti: '- {name: cache, image: redis}'}";
    let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, "");
    let message = simulation.pipelinerun_rejection.expect("rejected");
    assert!(message.contains("did you mean \"unit\"?"), "{message}");
    assert!(simulation.tasks.is_empty());
}

#[test]
fn what_cannot_be_simulated_is_said() {
    let simulation = simulate(
        "apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {generateName: nightly-}
spec: {pipelineRef: {name: nightly}}
",
        "",
        "",
    );
    assert!(simulation.tasks.is_empty());
    assert_eq!(simulation.notes.len(), 2, "{:?}", simulation.notes);
    assert!(simulation.notes[0].contains("\"nightly-p1ay9\""));
    assert!(
        simulation.notes[1].starts_with("The PipelineRun's Pipeline \"nightly\" is not given"),
        "{}",
        simulation.notes[1]
    );

    let custom = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineSpec:
    tasks:
      - {name: wait, taskRef: {apiVersion: custom.tekton.dev/v1alpha1, kind: Wait}}
      - {name: lint, taskRef: {resolver: hub, params: [{name: name, value: golangci-lint}]}}
";
    let simulation = simulate(custom, TASK, "");
    let names: Vec<&str> = simulation.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["lint"]);
    let notes = simulation.notes.join("\n");
    assert!(notes.contains("\"wait\" is a custom task"), "{notes}");
    assert!(
        notes.contains("\"lint\" references a Task that is not given (golangci-lint)"),
        "{notes}"
    );
    assert!(
        notes.contains("No pipeline task references the Task \"go-test\""),
        "{notes}"
    );
}

#[test]
fn a_pasted_pipeline_resolves_the_pipeline_ref_and_its_annotations_reach_the_pods() {
    let pipelinerun = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: nightly-1
  annotations: {pipelinerun-sidecars.io/lint: '- {name: cache, image: redis:7}'}
spec: {pipelineRef: {name: nightly}}
";
    // A Pipeline, and two Tasks of which one is used, pasted as one multi-document text.
    let pasted = format!(
        "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: nightly
  annotations:
    pipelinerun-sidecars.io/lint: '- {{name: cache, image: redis:6}}'
    pipelinerun-sidecars.io/unit: '- {{name: db, image: postgres}}'
spec:
  tasks:
    - {{name: unit, taskRef: {{name: go-test}}}}
    - {{name: lint, taskRef: {{name: go-test}}}}
---
{TASK}---
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: unused}}
"
    );
    let simulation = simulate(pipelinerun, &pasted, "");
    assert!(simulation.input_errors.is_empty(), "{simulation:?}");
    let unit = task(&simulation, "unit");
    // The Pipeline's declaration for unit reaches its Pod, overriding the Task's own db sidecar.
    assert_eq!(
        changed(unit),
        [("containers", "sidecar-db", Change::Replaced)]
    );
    assert_eq!(
        unit.object["metadata"]["labels"]["tekton.dev/pipeline"],
        "nightly"
    );
    // For lint, the PipelineRun's annotation wins over the Pipeline's.
    let lint = task(&simulation, "lint");
    let cache = lint
        .entries
        .iter()
        .find(|e| e.name == "sidecar-cache")
        .expect("cache");
    assert_eq!(cache.value["image"], "redis:7");
    assert_eq!(
        simulation.notes[..1],
        [
            "No pipeline task references the Task \"unused\" (by taskRef.name, or the resolver's \"name\" param), so it was not used."
        ]
    );
}

#[test]
fn a_v1beta1_inline_task_gets_resources_as_that_version_spells_them() {
    let simulation = simulate(
            "apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: pr
  annotations:
    pipelinerun-sidecars.io/build: '- {name: cache, image: redis, computeResources: {limits: {memory: 1Gi}}}'
spec:
  pipelineSpec:
    tasks: [{name: build, taskSpec: {steps: [{name: make, image: gcc}]}}]
",
            "",
            "",
        );
    let build = task(&simulation, "build");
    assert_eq!(build.object["apiVersion"], "tekton.dev/v1beta1");
    let sidecar = &build.entries[0].value;
    assert_eq!(sidecar["resources"], json!({"limits": {"memory": "1Gi"}}));
    assert_eq!(sidecar.get("computeResources"), None);
}
