//! What Tekton substitutes in a Task's sidecar (`ApplySidecarReplacements` in
//! `pkg/container/sidecar_replacements.go`, with `applyContainerReplacements` in
//! `container_replacements.go`), each pass of the reconciler over the same fields: the script, the image
//! and its pull policy, each of `args` and `command`, the env values and the Secret and ConfigMap names
//! and keys they take, `envFrom`'s prefix and names, the working directory, and the volume mounts' names,
//! paths and subPaths. A Pod-level sidecar of a Task read from the cluster is made the same way by the
//! policy, as Tekton substitutes nothing in a Pod.
//!
//! Tekton substitutes the name too; a sidecar's name is a DNS label, which never holds `$(`.

use serde_json::Value;

use super::sidecar_type::Sidecar;
use super::variables::{has_variable, names_tekton_variable};

/// The texts Tekton substitutes, each as the members that lead to it; `[]` is every item of a list.
const TEXTS: &[&[&str]] = &[
    &["script"],
    &["image"],
    &["imagePullPolicy"],
    &["workingDir"],
    &["args", "[]"],
    &["command", "[]"],
    &["env", "[]", "value"],
    &["env", "[]", "valueFrom", "secretKeyRef", "name"],
    &["env", "[]", "valueFrom", "secretKeyRef", "key"],
    &["env", "[]", "valueFrom", "configMapKeyRef", "name"],
    &["env", "[]", "valueFrom", "configMapKeyRef", "key"],
    &["envFrom", "[]", "prefix"],
    &["envFrom", "[]", "configMapRef", "name"],
    &["envFrom", "[]", "secretRef", "name"],
    &["volumeMounts", "[]", "name"],
    &["volumeMounts", "[]", "mountPath"],
    &["volumeMounts", "[]", "subPath"],
];

impl Sidecar {
    /// Whether it names a Tekton variable outside its `workspaces` listing (whose paths the listing
    /// gives, not a substitution).
    pub(crate) fn names_variables(&self) -> bool {
        let fields = self.0.iter().filter(|(field, _)| *field != "workspaces");
        fields.map(|(_, value)| value).any(names_tekton_variable)
    }

    /// The sidecar with each text Tekton substitutes that holds a variable made by `made`, and left as
    /// written where `made` gives nothing.
    pub(crate) fn substituted(&self, made: &dyn Fn(&str) -> Option<String>) -> Sidecar {
        let mut fields = Value::Object(self.0.clone());
        for path in TEXTS {
            substitute(&mut fields, path, made);
        }
        match fields {
            Value::Object(fields) => Sidecar(fields),
            _ => self.clone(),
        }
    }
}

fn substitute(value: &mut Value, path: &[&str], made: &dyn Fn(&str) -> Option<String>) {
    match (path.split_first(), value) {
        (None, Value::String(text)) => {
            if has_variable(text)
                && let Some(new) = made(text)
            {
                *text = new;
            }
        }
        (Some((&"[]", rest)), Value::Array(items)) => {
            for item in items {
                substitute(item, rest, made);
            }
        }
        (Some((key, rest)), Value::Object(members)) => {
            if let Some(member) = members.get_mut(*key) {
                substitute(member, rest, made);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::sidecar::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn every_text_tekton_substitutes_and_nothing_else() {
        let x = "$(params.x)";
        let sidecar = parse(json!({
            "name": "db", "image": format!("postgres:{x}"), "imagePullPolicy": x, "workingDir": x,
            "script": format!("echo {x}"), "args": [x, "-v"], "command": [x],
            "env": [{"name": "A", "value": x},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": x, "key": x}}},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": x, "key": x}}}],
            "envFrom": [{"prefix": x, "configMapRef": {"name": x}}, {"secretRef": {"name": x}}],
            "volumeMounts": [{"name": x, "mountPath": x, "subPath": x}],
            "readinessProbe": {"exec": {"command": [x]}},
            "workspaces": [{"name": "source", "mountPath": x}]
        }))
        .expect("a sidecar");
        let made = sidecar.substituted(&|text: &str| Some(text.replace("$(params.x)", "1")));
        assert_eq!(
            Value::Object(made.fields().clone()),
            json!({
                "name": "db", "image": "postgres:1", "imagePullPolicy": "1", "workingDir": "1",
                "script": "echo 1", "args": ["1", "-v"], "command": ["1"],
                "env": [{"name": "A", "value": "1"},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "1", "key": "1"}}},
                        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "1", "key": "1"}}}],
                "envFrom": [{"prefix": "1", "configMapRef": {"name": "1"}}, {"secretRef": {"name": "1"}}],
                "volumeMounts": [{"name": "1", "mountPath": "1", "subPath": "1"}],
                "readinessProbe": {"exec": {"command": [x]}},
                "workspaces": [{"name": "source", "mountPath": x}]
            })
        );
    }

    #[test]
    fn a_text_that_cannot_be_made_stays_as_written() {
        let sidecar =
            parse(json!({"name": "db", "image": "p", "args": ["$(params.x)"]})).expect("a sidecar");
        let made = sidecar.substituted(&|_: &str| None);
        assert_eq!(made.list("args"), &[json!("$(params.x)")]);
    }
}
