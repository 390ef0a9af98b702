//! Warnings for declarations that are valid but likely to disappoint, returned with the PipelineRun's
//! admission (`kubectl` prints them), one line each within 120 characters (`support::error::warning`),
//! naming the annotation and the sidecar.
//!
//! Only what the author wrote is warned about: a template is the platform team's.

use crate::declaration::Declared;
pub(super) use crate::support::error::warning as line;
use crate::support::image_reference::Reference;
use crate::tekton::variables::has_variable;

/// Without one, the first step does not wait for the sidecar to serve (Tekton waits for its readiness).
pub(super) const NO_READINESS: &str = "no readinessProbe: the steps may start before it serves";
pub(super) const LATEST: &str = "image :latest can change between runs; pin a tag";
/// Tekton waits for a native sidecar to have started (Kubernetes' startupProbe), not to be ready:
/// `SidecarsReady` in `pkg/pod/status.go` reads only the regular containers.
pub(super) const NATIVE_READINESS: &str = "native: steps wait for a startupProbe, not readiness";
pub(super) const REPLACES: &str = "replaces the Task's own sidecar of this name";

/// What is risky about one inline sidecar, injected as a native one when `native`.
pub(super) fn risks(declared: &Declared, native: bool) -> Vec<&'static str> {
    if declared.template.is_some() {
        return Vec::new();
    }
    let sidecar = &declared.sidecar;
    let mut found = Vec::new();
    let startup = sidecar.get("startupProbe").is_some();
    match sidecar.get("readinessProbe") {
        None if !startup => found.push(NO_READINESS),
        Some(_) if native && !startup => found.push(NATIVE_READINESS),
        _ => {}
    }
    let latest = sidecar
        .text("image")
        .filter(|image| !has_variable(image))
        .and_then(|image| Reference::parse(image).ok())
        .is_some_and(|reference| {
            reference.digest.is_none() && reference.tag.as_deref() == Some("latest")
        });
    if latest {
        found.push(LATEST);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::sidecar;
    use serde_json::{Value, json};

    fn declared(value: Value) -> Declared {
        Declared {
            sidecar: sidecar::parse(value).expect("valid"),
            annotation: "p.io/test".into(),
            template: None,
        }
    }

    #[rstest::rstest]
    #[case(json!({"name": "db", "image": "postgres"}), false, vec![NO_READINESS, LATEST])]
    #[case(json!({"name": "db", "image": "postgres:latest", "startupProbe": {"tcpSocket": {"port": 5432}}}), false, vec![LATEST])]
    #[case(json!({"name": "db", "image": "postgres:16", "readinessProbe": {"tcpSocket": {"port": 5432}}}), false, vec![])]
    #[case(json!({"name": "db", "image": "postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "readinessProbe": {"tcpSocket": {"port": 5432}}}), false, vec![])]
    #[case(json!({"name": "db", "image": "$(params.image)", "readinessProbe": {"tcpSocket": {"port": 5432}}}), false, vec![])]
    #[case(json!({"name": "db", "image": "postgres:16", "readinessProbe": {"tcpSocket": {"port": 5432}}}), true, vec![NATIVE_READINESS])]
    #[case(json!({"name": "db", "image": "postgres:16", "readinessProbe": {"tcpSocket": {"port": 5432}}, "startupProbe": {"tcpSocket": {"port": 5432}}}), true, vec![])]
    #[case(json!({"name": "db", "image": "postgres:16"}), true, vec![NO_READINESS])]
    fn what_is_risky(#[case] sidecar: Value, #[case] native: bool, #[case] expected: Vec<&str>) {
        assert_eq!(risks(&declared(sidecar), native), expected);
    }

    #[test]
    fn a_template_is_not_the_author_s_to_be_warned_about() {
        let mut from_template = declared(json!({"name": "db", "image": "postgres"}));
        from_template.template = Some("postgres".into());
        assert!(risks(&from_template, true).is_empty());
    }

    #[test]
    fn every_line_fits() {
        assert_eq!(
            line("pipelinerun-sidecars.io/test", "postgres", NO_READINESS),
            "annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": no readinessProbe: the steps may start before it serves"
        );
        let long = line(
            &format!("pipelinerun-sidecars.io/{}", "t".repeat(63)),
            &"s".repeat(63),
            LATEST,
        );
        assert_eq!(long.chars().count(), 120, "{long}");
        assert!(long.ends_with(LATEST) && long.contains('…'), "{long}");
    }
}
