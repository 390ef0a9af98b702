//! What `validate_settings` checks when the policy is loaded: first the schema (every violation, with its
//! path and what is allowed), then what a schema cannot say.

use serde_json::Value;

use super::{Settings, guardrails, images, schema};
use crate::support::error::{FieldError, SettingsError};
use crate::support::k8s::check_quantity;
use crate::tekton::sidecar;

/// Checks settings as `validate_settings` receives them: first against the schema (every violation, with
/// its path and what is allowed), then what a schema cannot say (glob syntax, each template being a valid
/// sidecar that the guardrails allow, quantities).
pub fn validate(payload: &[u8]) -> Result<Settings, Vec<SettingsError>> {
    let value: Value = serde_json::from_slice(payload).map_err(|err| {
        vec![SettingsError(FieldError::new(
            "",
            format!("are not valid JSON: {err}"),
        ))]
    })?;
    let schema_errors = schema::violations(&value);
    if !schema_errors.is_empty() {
        return Err(schema_errors);
    }
    let settings = Settings::from_value(value)?;
    let mut errors = Vec::new();
    for (i, pattern) in settings.allowed_images.iter().enumerate() {
        if let Err(problem) = images::check_pattern(pattern) {
            errors.push(FieldError::new(format!("allowedImages[{i}]"), problem));
        }
    }
    let resources = std::iter::once(("defaultResources".to_string(), &settings.default_resources))
        .chain(
            settings
                .default_container_resource_requirements
                .table()
                .iter()
                .map(|(key, r)| (format!("defaultContainerResourceRequirements.{key}"), r)),
        );
    for (path, requirements) in resources {
        for list in ["requests", "limits"] {
            let quantities = requirements.get(list).and_then(Value::as_object);
            for (resource, quantity) in quantities.into_iter().flatten() {
                if let Err(problem) = check_quantity(quantity.as_str().unwrap_or_default()) {
                    errors.push(FieldError::new(
                        format!("{path}.{list}.{resource}"),
                        problem,
                    ));
                }
            }
        }
    }
    for (name, template) in &settings.templates {
        let path = format!("templates.{name}");
        match sidecar::parse(Value::Object(template.fields.clone())) {
            Ok(sidecar) => {
                // A template is the platform team's: it is not held to podSecurity, which is for authors.
                let problems = sidecar::check(&sidecar)
                    .into_iter()
                    .chain(guardrails::check(
                        &sidecar,
                        guardrails::Authored::Nothing,
                        &settings,
                    ));
                errors.extend(problems.map(|e| e.within(&path)));
            }
            Err(problems) => errors.extend(problems.into_iter().map(|e| e.within(&path))),
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors.into_iter().map(SettingsError).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{InjectAs, Level, OnConflict};
    use rstest::rstest;
    use serde_json::json;

    fn messages(payload: Value) -> Vec<String> {
        let bytes = serde_json::to_vec(&payload).expect("serializes");
        validate(&bytes)
            .expect_err("must be invalid")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn defaults_are_valid_settings() {
        let settings = validate(b"{}").expect("empty settings are valid");
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.annotation_prefix, "pipelinerun-sidecars.io");
        assert_eq!(settings.allowed_images, vec!["*"]);
        assert!(settings.allow_inline_sidecars);
        assert_eq!(settings.pod_security, crate::settings::Level::Baseline);
        assert_eq!(settings.max_sidecars_per_task, 8);
        assert_eq!(settings.on_conflict, OnConflict::Override);
        assert_eq!(settings.inject_as, InjectAs::Container);
        assert!(settings.templates.is_empty());
    }

    #[test]
    fn a_full_valid_configuration_is_read() {
        let settings = validate(
            json!({
                "annotationPrefix": "sidecars.example.com",
                "templates": {"redis": {"image": "redis:7", "ports": [{"containerPort": 6379}]}},
                "allowInlineSidecars": false,
                "allowedImages": ["docker.io/library/*", "ghcr.io/acme/*"],
                "allowPrivileged": true,
                "maxSidecarsPerTask": 3,
                "defaultResources": {"requests": {"cpu": "100m", "memory": 128}},
                "onConflict": "reject",
                "injectAs": "native"
            })
            .to_string()
            .as_bytes(),
        )
        .expect("valid");
        assert_eq!(settings.templates["redis"].fields["name"], "redis");
        assert_eq!(settings.inject_as, InjectAs::Native);
        assert_eq!(settings.default_resources["requests"]["memory"], "128");
    }

    #[rstest]
    #[case::unknown_key(json!({"onConflit": "reject"}), vec!["settings.onConflit: unknown field; did you mean \"onConflict\"?"])]
    #[case::unknown_key_no_hint(json!({"zzz": 1}), vec!["settings.zzz: unknown field; the fields allowed here are allowInlineSidecars, allowPrivileged, allowedImages, annotationPrefix, defaultContainerResourceRequirements, defaultResources, injectAs, maxSidecarsPerTask, onConflict, podSecurity, tektonNamespace, templates"])]
    #[case::wrong_type(json!({"allowPrivileged": "yes"}), vec!["settings.allowPrivileged: \"yes\" is not of type \"boolean\""])]
    #[case::out_of_range(json!({"maxSidecarsPerTask": 0}), vec!["settings.maxSidecarsPerTask: 0 is less than the minimum of 1"])]
    #[case::too_big(json!({"maxSidecarsPerTask": 1000}), vec!["settings.maxSidecarsPerTask: 1000 is greater than the maximum of 64"])]
    #[case::bad_enum(json!({"injectAs": "sidecar"}), vec!["settings.injectAs: is \"sidecar\"; allowed values are \"container\", \"native\", \"tekton\""])]
    #[case::empty_image_list(json!({"allowedImages": []}), vec!["settings.allowedImages: [] is not allowed: list at least one pattern; [\"*\"] allows any image"])]
    #[case::bad_prefix(json!({"annotationPrefix": "Sidecars_IO"}), vec!["settings.annotationPrefix: \"Sidecars_IO\" is not allowed: the prefix must be a DNS subdomain such as pipelinerun-sidecars.io (lowercase letters, digits, '-' and '.')"])]
    #[case::several_at_once(json!({"allowPrivileged": 1, "onConflict": "merge"}), vec![
        "settings.allowPrivileged: 1 is not of type \"boolean\"",
        "settings.onConflict: is \"merge\"; allowed values are \"override\", \"reject\"",
    ])]
    #[case::bad_glob(json!({"allowedImages": ["ghcr.io/[acme]/*"]}), vec!["settings.allowedImages[0]: \"ghcr.io/[acme]/*\" is not a valid pattern: '[' cannot appear in an image reference; use '*' for any run of characters within a path segment, '**' for any number of segments and '?' for one character"])]
    #[case::template_unknown_field(json!({"templates": {"redis": {"image": "redis", "prots": []}}}), vec!["settings.templates.redis.prots: unknown field; did you mean \"ports\"?"])]
    #[case::template_nested_field(json!({"templates": {"redis": {"image": "redis", "ports": [{"containerPort": 6379, "protcol": "TCP"}]}}}), vec!["settings.templates.redis.ports[0].protcol: unknown field; did you mean \"protocol\"?"])]
    #[case::template_without_image(json!({"templates": {"redis": {"ports": []}}}), vec!["settings.templates.redis.image: is required"])]
    #[case::template_bad_name(json!({"templates": {"Redis": {"image": "redis"}}}), vec!["settings.templates: \"Redis\" is not allowed: a template name is a DNS-1123 label of at most 55 characters (lowercase letters, digits and '-')"])]
    #[case::both_privilege_settings(json!({"allowPrivileged": true, "podSecurity": "restricted"}), vec!["settings.allowPrivileged: is the deprecated alias of podSecurity; give podSecurity only"])]
    #[case::bad_level(json!({"podSecurity": "strict"}), vec!["settings.podSecurity: is \"strict\"; allowed values are \"privileged\", \"baseline\", \"restricted\""])]
    #[case::bad_overridable(json!({"templates": {"dind": {"image": "docker:dind", "overridable": ["imgae"]}}}), vec!["settings.templates.dind.overridable[0]: is \"imgae\"; allowed values are \"name\", \"image\", \"command\", \"args\", \"script\", \"workingDir\", \"ports\", \"envFrom\", \"env\", \"computeResources\", \"resources\", \"volumeMounts\", \"volumeDevices\", \"livenessProbe\", \"readinessProbe\", \"startupProbe\", \"lifecycle\", \"terminationMessagePath\", \"terminationMessagePolicy\", \"imagePullPolicy\", \"securityContext\", \"stdin\", \"stdinOnce\", \"tty\", \"workspaces\", \"restartPolicy\""])]
    #[case::template_image_not_allowed(json!({"allowedImages": ["ghcr.io/acme/*"], "templates": {"redis": {"image": "redis:7"}}}), vec!["settings.templates.redis.image: \"redis:7\" (docker.io/library/redis:7) matches none of the allowedImages patterns: ghcr.io/acme/*"])]
    #[case::bad_quantity(json!({"defaultResources": {"limits": {"memory": "lots"}}}), vec!["settings.defaultResources.limits.memory: \"lots\" is not a Kubernetes quantity such as 500m, 2, 128Mi or 1Gi"])]
    #[case::container_defaults_neither_table_nor_tekton(json!({"defaultContainerResourceRequirements": "cluster"}), vec!["settings.defaultContainerResourceRequirements: \"cluster\" is not allowed: give a map of resource requirements by container name, or \"tekton\" to read Tekton's config-defaults from the cluster"])]
    #[case::container_defaults_bad_entry(json!({"defaultContainerResourceRequirements": {"default": {"request": {}}}}), vec!["settings.defaultContainerResourceRequirements.default.request: unknown field; did you mean \"requests\"?"])]
    #[case::container_defaults_not_a_table(json!({"defaultContainerResourceRequirements": 1}), vec!["settings.defaultContainerResourceRequirements: 1 is not of types \"string\", \"object\""])]
    #[case::not_an_object(json!(["x"]), vec!["settings: [\"x\"] is not of type \"object\""])]
    fn invalid_settings_are_reported_with_path_and_hint(
        #[case] payload: Value,
        #[case] expected: Vec<&str>,
    ) {
        assert_eq!(messages(payload), expected);
    }

    #[rstest]
    #[case(json!({"allowPrivileged": true}), Level::Privileged)]
    #[case(json!({"allowPrivileged": false}), Level::Baseline)]
    #[case(json!({"podSecurity": "restricted"}), Level::Restricted)]
    #[case(json!({}), Level::Baseline)]
    fn allow_privileged_is_read_as_its_level(#[case] payload: Value, #[case] level: Level) {
        let settings = validate(payload.to_string().as_bytes()).expect("valid");
        assert_eq!(settings.pod_security, level);
    }

    #[test]
    fn a_privileged_template_is_the_platform_team_s_choice() {
        let payload = json!({"templates": {"dind": {"image": "docker:dind", "securityContext": {"privileged": true}}}});
        let settings = validate(payload.to_string().as_bytes())
            .expect("templates are not held to podSecurity");
        assert_eq!(settings.pod_security, Level::Baseline);
    }

    #[test]
    fn malformed_json_is_reported() {
        let errors = validate(b"{not json").expect_err("invalid");
        assert_eq!(
            errors[0].to_string(),
            "settings: are not valid JSON: key must be a string at line 1 column 2"
        );
    }
}
