//! Warnings for declarations that are valid but likely to disappoint, returned with the PipelineRun's
//! admission (`kubectl` prints them): Kubernetes admission warnings are one line each, and the API server
//! and `kubectl` truncate long ones, so each stays within 120 characters, naming the annotation and the
//! sidecar.
//!
//! Only what the author wrote is warned about: a template is the platform team's.

use crate::declaration::Declared;
use crate::support::image_reference::Reference;
use crate::tekton::variables::has_variable;

/// The longest a warning may be.
pub(super) const MAX_CHARS: usize = 120;

/// Without one, the first step does not wait for the sidecar to serve (Tekton waits for its readiness).
pub(super) const NO_READINESS: &str = "no readinessProbe: the steps may start before it serves";
pub(super) const LATEST: &str = "image :latest can change between runs; pin a tag";
pub(super) const REPLACES: &str = "replaces the Task's own sidecar of this name";

/// What is risky about one inline sidecar.
pub(super) fn risks(declared: &Declared) -> Vec<&'static str> {
    if declared.template.is_some() {
        return Vec::new();
    }
    let sidecar = &declared.sidecar;
    let mut found = Vec::new();
    if sidecar.readiness_probe.is_none() && sidecar.startup_probe.is_none() {
        found.push(NO_READINESS);
    }
    let latest = sidecar
        .image
        .as_deref()
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

/// One warning line, the annotation and the sidecar cut to fit [`MAX_CHARS`].
pub(super) fn line(annotation: &str, sidecar: &str, text: &str) -> String {
    let full = |a: &str, s: &str| format!("annotation {a:?}, sidecar {s:?}: {text}");
    let whole = full(annotation, sidecar);
    if whole.chars().count() <= MAX_CHARS {
        return whole;
    }
    let room = MAX_CHARS.saturating_sub(full("", "").chars().count());
    let for_sidecar = (room / 3).min(sidecar.chars().count());
    let for_annotation = room.saturating_sub(for_sidecar);
    full(&cut(annotation, for_annotation), &cut(sidecar, for_sidecar))
}

/// `text` in at most `chars` characters, its end replaced by `…` if it is cut.
fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::sidecar;
    use serde_json::{Value, json};

    fn declared(value: Value) -> Declared {
        Declared {
            sidecar: sidecar::parse(&value).expect("valid"),
            annotation: "p.io/test".into(),
            template: None,
        }
    }

    #[rstest::rstest]
    #[case(json!({"name": "db", "image": "postgres"}), vec![NO_READINESS, LATEST])]
    #[case(json!({"name": "db", "image": "postgres:latest", "startupProbe": {"tcpSocket": {"port": 5432}}}), vec![LATEST])]
    #[case(json!({"name": "db", "image": "postgres:16", "readinessProbe": {"tcpSocket": {"port": 5432}}}), vec![])]
    #[case(json!({"name": "db", "image": "postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "readinessProbe": {"tcpSocket": {"port": 5432}}}), vec![])]
    #[case(json!({"name": "db", "image": "$(params.image)", "readinessProbe": {"tcpSocket": {"port": 5432}}}), vec![])]
    fn what_is_risky(#[case] sidecar: Value, #[case] expected: Vec<&str>) {
        assert_eq!(risks(&declared(sidecar)), expected);
    }

    #[test]
    fn a_template_is_not_the_author_s_to_be_warned_about() {
        let mut from_template = declared(json!({"name": "db", "image": "postgres"}));
        from_template.template = Some("postgres".into());
        assert!(risks(&from_template).is_empty());
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
        assert_eq!(long.chars().count(), MAX_CHARS, "{long}");
        assert!(long.ends_with(LATEST) && long.contains('…'), "{long}");
    }
}
