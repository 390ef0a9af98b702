//! The shipped files agree with each other: policy-metadata.yml, artifacthub-pkg.yml, questions-ui.yml,
//! the settings schema, the deploy/ manifests, the README's settings table, the changelog and the crate
//! version. Each check names the file to fix.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::collections::BTreeSet;

use pipelinerun_sidecars::settings::{self, SCHEMA};
use serde_json::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("schema")
}

fn annotation(metadata: &Value, key: &str) -> String {
    metadata["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("policy-metadata.yml lacks {key}"))
        .to_string()
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn metadata_names_the_crate_version_and_the_kubewarden_essentials() {
    let metadata = yaml("policy-metadata.yml");
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.version"),
        VERSION
    );
    assert_eq!(
        annotation(&metadata, "com.github.release.tag"),
        format!("v{VERSION}")
    );
    assert_eq!(metadata["mutating"], true);
    assert_eq!(metadata["executionMode"], "kubewarden-wapc");
    assert!(
        metadata["backgroundAudit"].is_boolean(),
        "backgroundAudit must be set on purpose"
    );
    let resources: BTreeSet<String> = metadata["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .flat_map(|rule| rule["resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    assert_eq!(
        resources,
        BTreeSet::from(["pipelineruns".into(), "pods".into(), "taskruns".into()])
    );
}

#[test]
fn artifacthub_package_is_what_kwctl_scaffold_would_write() {
    let metadata = yaml("policy-metadata.yml");
    let package = yaml("artifacthub-pkg.yml");
    let source = annotation(&metadata, "io.kubewarden.policy.source");
    assert_eq!(package["version"], VERSION);
    assert_eq!(
        package["name"],
        annotation(&metadata, "io.kubewarden.policy.title")
    );
    assert_eq!(
        package["displayName"],
        annotation(&metadata, "io.artifacthub.displayName")
    );
    assert_eq!(
        package["description"],
        annotation(&metadata, "io.kubewarden.policy.description")
    );
    assert_eq!(
        package["license"],
        annotation(&metadata, "io.kubewarden.policy.license")
    );
    assert_eq!(
        package["homeURL"],
        annotation(&metadata, "io.kubewarden.policy.url")
    );
    assert_eq!(
        package["containersImages"][0]["image"],
        format!(
            "{}:v{VERSION}",
            annotation(&metadata, "io.kubewarden.policy.ociUrl")
        )
    );
    let keywords: Vec<String> = annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(|k| k.trim().to_string())
        .collect();
    assert_eq!(package["keywords"], serde_json::json!(keywords));
    assert_eq!(
        package["links"][0]["url"],
        format!("{source}/releases/download/v{VERSION}/policy.wasm")
    );
    assert_eq!(package["links"][1]["url"], source);
    let author = annotation(&metadata, "io.kubewarden.policy.author");
    let (name, email) = author
        .trim_end_matches('>')
        .split_once(" <")
        .expect("author is Name <email>");
    assert_eq!(package["maintainers"][0]["name"], name);
    assert_eq!(package["maintainers"][0]["email"], email);
    assert_eq!(package["provider"]["name"], "kubewarden");
    let install = package["install"].as_str().expect("install text");
    assert!(install.contains(&format!(
        "{}:v{VERSION}",
        annotation(&metadata, "io.kubewarden.policy.ociUrl")
    )));
    let annotations = &package["annotations"];
    assert_eq!(
        annotations["kubewarden/mutation"],
        metadata["mutating"].to_string()
    );
    assert_eq!(
        annotations["kubewarden/resources"],
        annotation(&metadata, "io.artifacthub.resources")
    );
    let rules: Value =
        serde_saphyr::from_str(annotations["kubewarden/rules"].as_str().expect("rules"))
            .expect("rules YAML");
    assert_eq!(rules, metadata["rules"]);
    let context: Value = serde_saphyr::from_str(
        annotations["kubewarden/contextAwareResources"]
            .as_str()
            .expect("context"),
    )
    .expect("YAML");
    assert_eq!(context, metadata["contextAwareResources"]);
    assert_eq!(
        annotations["kubewarden/questions-ui"],
        text("questions-ui.yml")
    );
}

#[test]
fn questions_ui_asks_for_every_setting_with_the_schema_default() {
    let schema = schema();
    let questions = yaml("questions-ui.yml");
    let questions = questions["questions"].as_array().expect("questions");
    let find = |variable: &str| {
        questions
            .iter()
            .find(|q| q["variable"] == variable)
            .unwrap_or_else(|| panic!("questions-ui.yml has no {variable}"))
    };
    let mut asked = 0;
    for (name, property) in schema["properties"].as_object().expect("properties") {
        if property["deprecated"] == true {
            continue;
        }
        match name.as_str() {
            // Maps of whole sidecars and of whole resource requirements have no Rancher form type;
            // questions-ui.yml says so.
            "templates" | "defaultContainerResourceRequirements" => continue,
            // An object of two resource lists: one map question for each.
            "defaultResources" => {
                for list in ["requests", "limits"] {
                    let question = find(&format!("defaultResources.{list}"));
                    assert_eq!(question["type"], "map[");
                    asked += 1;
                }
                continue;
            }
            _ => {}
        }
        let question = find(name);
        asked += 1;
        assert_eq!(
            question["default"], property["default"],
            "default of {name}"
        );
        let expected_type = match property["type"].as_str() {
            Some("string") if property.get("enum").is_some() => "enum",
            Some("string") => "string",
            Some("boolean") => "boolean",
            Some("integer") => "int",
            Some("array") => "array[",
            other => panic!("{name}: no question type for {other:?}"),
        };
        assert_eq!(question["type"], expected_type, "type of {name}");
        if let Some(options) = property.get("enum") {
            assert_eq!(&question["options"], options, "options of {name}");
        }
        for bound in ["minimum", "maximum"] {
            if let Some(limit) = property.get(bound) {
                assert_eq!(&question[&bound[..3]], limit, "{bound} of {name}");
            }
        }
    }
    assert_eq!(
        asked,
        questions.len(),
        "questions-ui.yml asks for something the schema does not have"
    );
}

#[test]
fn deploy_manifests_carry_the_metadata_rules_and_valid_settings() {
    let metadata = yaml("policy-metadata.yml");
    let oci = annotation(&metadata, "io.kubewarden.policy.ociUrl");
    let expected_rules: BTreeSet<String> = metadata["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(Value::to_string)
        .collect();
    for (scope, kind) in [
        ("cluster", "ClusterAdmissionPolicy"),
        ("namespaced", "AdmissionPolicy"),
    ] {
        let validate = yaml(&format!("deploy/{scope}/validate-pipelineruns.yaml"));
        let inject = yaml(&format!("deploy/{scope}/inject-taskruns-and-pods.yaml"));
        let mut rules = BTreeSet::new();
        for (policy, mutating) in [(&validate, false), (&inject, true)] {
            assert_eq!(policy["apiVersion"], "policies.kubewarden.io/v1");
            assert_eq!(policy["kind"], kind);
            assert_eq!(
                policy["spec"]["module"],
                format!("registry://{oci}:v{VERSION}")
            );
            assert_eq!(policy["spec"]["mutating"], mutating);
            rules.extend(
                policy["spec"]["rules"]
                    .as_array()
                    .expect("rules")
                    .iter()
                    .map(Value::to_string),
            );
            let settings_json = serde_json::to_vec(&policy["spec"]["settings"]).expect("json");
            let accepted = settings::load::validate(&settings_json);
            assert!(accepted.is_ok(), "deploy/{scope}: {:?}", accepted.err());
        }
        assert_eq!(
            rules, expected_rules,
            "deploy/{scope}: rules differ from policy-metadata.yml"
        );
        assert_eq!(
            validate["spec"]["settings"], inject["spec"]["settings"],
            "deploy/{scope}: the two policies must share settings"
        );
        let prefix = inject["spec"]["settings"]["annotationPrefix"]
            .as_str()
            .expect("prefix");
        let conditions = inject["spec"]["matchConditions"].to_string();
        assert!(
            conditions.contains(&format!("startsWith('{prefix}/')")),
            "deploy/{scope}: matchConditions use another prefix"
        );
        assert!(conditions.contains("'tekton.dev/taskRun' in object.metadata.labels"));
        if kind == "AdmissionPolicy" {
            assert!(
                validate["metadata"]["namespace"].is_string()
                    && inject["metadata"]["namespace"].is_string()
            );
        }
    }
}

/// The four policy manifests, validating and mutating, cluster-wide then namespaced.
const MANIFESTS: [&str; 4] = [
    "deploy/cluster/validate-pipelineruns.yaml",
    "deploy/cluster/inject-taskruns-and-pods.yaml",
    "deploy/namespaced/validate-pipelineruns.yaml",
    "deploy/namespaced/inject-taskruns-and-pods.yaml",
];

/// What `deploy/render.sh` makes of `manifest` with `deploy/settings.yaml`: the manifest down to its
/// `settings:` line, the prefix in its matchConditions, then the settings file without its leading
/// comment, indented into place.
fn rendered(manifest: &str, settings: &str) -> String {
    let parsed: Value = serde_saphyr::from_str(settings).expect("settings are YAML");
    let prefix = parsed["annotationPrefix"]
        .as_str()
        .unwrap_or("pipelinerun-sidecars.io")
        .to_string();
    let head_end =
        manifest.find("\n  settings:\n").expect("a settings: line") + "\n  settings:\n".len();
    let mut out = String::new();
    for line in manifest[..head_end].lines() {
        match line.find("startsWith('") {
            Some(at) => {
                let start = at + "startsWith('".len();
                let end = start + line[start..].find("/')").expect("a prefix");
                out.push_str(&line[..start]);
                out.push_str(&prefix);
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    let body = settings.lines().skip_while(|line| line.starts_with('#'));
    for line in body {
        if !line.is_empty() {
            out.push_str("    ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn deploy_manifests_carry_the_one_settings_file() {
    let settings = text("deploy/settings.yaml");
    for path in MANIFESTS {
        let manifest = text(path);
        assert!(
            manifest == rendered(&manifest, &settings),
            "{path} is not what deploy/settings.yaml gives: run make deploy-manifests"
        );
        assert_eq!(
            yaml(path)["spec"]["settings"],
            yaml("deploy/settings.yaml"),
            "{path}"
        );
    }
    // The drift this catches: a manifest edited by hand.
    let mut drifted = text(MANIFESTS[0]);
    drifted = drifted.replace("maxSidecarsPerTask: 4", "maxSidecarsPerTask: 8");
    assert!(drifted != rendered(&drifted, &settings));
    // A custom prefix reaches the mutating policy's matchConditions.
    let custom = rendered(
        &text(MANIFESTS[1]),
        &settings.replace(
            "annotationPrefix: pipelinerun-sidecars.io",
            "annotationPrefix: x.io",
        ),
    );
    assert!(custom.contains("k.startsWith('x.io/')"), "{custom}");
    assert!(!custom.contains("pipelinerun-sidecars.io/"));
}

#[test]
fn both_policies_run_on_a_highly_available_policy_server_of_their_own() {
    let server = yaml("deploy/policy-server.yaml");
    assert_eq!(server["kind"], "PolicyServer");
    assert_eq!(server["apiVersion"], "policies.kubewarden.io/v1");
    let name = server["metadata"]["name"].as_str().expect("name");
    assert_ne!(name, "default");
    assert!(server["spec"]["replicas"].as_u64().expect("replicas") >= 2);
    assert!(
        server["spec"]["minAvailable"]
            .as_u64()
            .expect("minAvailable")
            >= 1
    );
    assert!(server["spec"]["requests"]["cpu"].is_string());
    assert!(server["spec"]["requests"]["memory"].is_string());
    assert!(server["spec"]["limits"]["memory"].is_string());
    for path in MANIFESTS {
        assert_eq!(yaml(path)["spec"]["policyServer"], name, "{path}");
    }
    for path in &MANIFESTS[..2] {
        let excluded = yaml(path)["spec"]["namespaceSelector"]["matchExpressions"].to_string();
        assert!(excluded.contains("kube-system"), "{path}");
        assert!(
            yaml(path)["spec"]["namespaceSelector"]
                .get("matchLabels")
                .is_none(),
            "{path}: Kubewarden's controller drops matchLabels"
        );
    }
}

#[test]
fn the_release_workflow_pushes_where_the_readme_installs_from() {
    let metadata = yaml("policy-metadata.yml");
    let oci = annotation(&metadata, "io.kubewarden.policy.ociUrl");
    let release = yaml(".github/workflows/release.yml");
    let repository = release["env"]["OCI_REPOSITORY"]
        .as_str()
        .expect("OCI_REPOSITORY");
    assert_eq!(format!("{repository}/pipelinerun-sidecars"), oci);
    let steps = release["jobs"]["release"]["steps"].to_string();
    assert!(
        steps.contains("make push REGISTRY=\\\"$OCI_REPOSITORY\\\""),
        "{steps}"
    );
    let readme = text("README.md");
    assert!(readme.contains(&format!("registry://{oci}:v{VERSION}")));
    // Kubewarden's actions are pinned by commit.
    let workflows = text(".github/workflows/release.yml") + &text(".github/workflows/ci.yml");
    for line in workflows.lines().filter(|l| l.contains("uses:")) {
        let pin = line.split('@').nth(1).unwrap_or_default();
        assert!(
            pin.len() >= 40 && pin[..40].chars().all(|c| c.is_ascii_hexdigit()),
            "not pinned by commit: {line}"
        );
    }
    // GitHub's CI runs, across its jobs, every target of `make test`; .ci/run runs `make test` itself.
    let ci = yaml(".github/workflows/ci.yml");
    let run: Vec<String> = ci["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|step| step["run"].as_str().map(str::to_string))
        .filter_map(|line| line.strip_prefix("make ").map(str::to_string))
        .flat_map(|targets| {
            targets
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let makefile = text("Makefile");
    let test = makefile
        .lines()
        .find_map(|line| line.strip_prefix("test:"))
        .expect("a test target");
    for target in test.split_whitespace() {
        assert!(
            run.iter().any(|r| r == target),
            "no CI job runs make {target}"
        );
    }
    assert!(
        text(".ci/run")
            .lines()
            .any(|line| line.trim() == "make test")
    );
    let repo = yaml("artifacthub-repo.yml");
    assert!(repo["owners"].is_array());
}

#[test]
fn readme_settings_table_matches_the_schema() {
    let readme = text("README.md");
    for (name, property) in schema()["properties"].as_object().expect("properties") {
        if property["deprecated"] == true {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not mention the deprecated {name}"
            );
            continue;
        }
        let default = match &property["default"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let row = format!("| `{name}` | `{default}` |");
        assert!(
            readme.contains(&row),
            "README.md settings table lacks the row {row}"
        );
    }
}

#[test]
fn changelog_has_this_version() {
    assert!(
        text("CHANGELOG.md").contains(&format!("## [{VERSION}]")),
        "CHANGELOG.md has no section for {VERSION}"
    );
}

/// What the policy reads of the cluster (its metadata's `contextAwareResources`) is what the validating
/// ClusterAdmissionPolicy declares and what `deploy/rbac.yaml` lets the PolicyServer's account read:
/// nothing more.
#[test]
fn what_the_policy_reads_is_granted_to_its_policy_server_and_nothing_more() {
    let wanted = yaml("policy-metadata.yml")["contextAwareResources"].clone();
    let validating = yaml("deploy/cluster/validate-pipelineruns.yaml");
    assert_eq!(validating["spec"]["contextAwareResources"], wanted);
    let pod_side = serde_json::json!([{"apiVersion": "v1", "kind": "ConfigMap"},
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun"}, {"apiVersion": "tekton.dev/v1", "kind": "Task"},
        {"apiVersion": "resolution.tekton.dev/v1beta1", "kind": "ResolutionRequest"}]);
    let mutating = yaml("deploy/cluster/inject-taskruns-and-pods.yaml");
    assert_eq!(mutating["spec"]["contextAwareResources"], pod_side);
    let documents: Vec<Value> = text("deploy/rbac.yaml")
        .split("\n---\n")
        .map(|document| serde_saphyr::from_str(document).expect("YAML"))
        .collect();
    let of_kind = |kind: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("deploy/rbac.yaml has no {kind}"))
    };
    // GETs of a Pipeline, a TaskRun and a Task in any namespace; of the feature-flags and config-defaults
    // ConfigMaps in Tekton's.
    let get = serde_json::json!(["get"]);
    assert_eq!(
        of_kind("ClusterRole")["rules"],
        serde_json::json!([{"apiGroups": ["tekton.dev"], "resources": ["pipelines", "taskruns", "tasks"], "verbs": get},
            {"apiGroups": ["resolution.tekton.dev"], "resources": ["resolutionrequests"], "verbs": get}])
    );
    let role = of_kind("Role");
    assert_eq!(role["metadata"]["namespace"], "tekton-pipelines");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": ["feature-flags", "config-defaults"], "verbs": get}])
    );
    assert_eq!(wanted.as_array().map(Vec::len), Some(5));
    let account = of_kind("ServiceAccount");
    let server = yaml("deploy/policy-server.yaml");
    assert_eq!(
        server["spec"]["serviceAccountName"],
        account["metadata"]["name"]
    );
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        let subject = &of_kind(binding)["subjects"][0];
        assert_eq!(subject["name"], account["metadata"]["name"]);
        assert_eq!(subject["namespace"], account["metadata"]["namespace"]);
    }
    assert_eq!(
        of_kind("RoleBinding")["metadata"]["namespace"],
        role["metadata"]["namespace"]
    );
}
