//! What the platform team allows: images, privileges and resource quantities.
//!
//! These checks apply to every declared sidecar at every admission point and to the templates when the
//! settings are loaded, so a sidecar that would be refused in a Pod is refused as early as possible.

use crate::error::FieldError;
use crate::settings::Settings;
use crate::sidecar::Sidecar;

/// The guardrail problems of one sidecar, each naming the setting that would allow it.
pub fn check(sidecar: &Sidecar, settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(image) = &sidecar.image
        && !image.trim().is_empty()
        && !image_allowed(image, &settings.allowed_images)
    {
        let normalized = normalize_image(image);
        let shown = if normalized == *image {
            format!("{image:?}")
        } else {
            format!("{image:?} ({normalized})")
        };
        errors.push(FieldError::new(
            "image",
            format!(
                "{shown} matches none of the allowedImages patterns: {}",
                settings.allowed_images.join(", ")
            ),
        ));
    }
    if !settings.allow_privileged {
        errors.extend(privilege_problems(sidecar));
    }
    for (list, quantities) in sidecar
        .compute_resources
        .iter()
        .flat_map(|r| [("limits", &r.limits), ("requests", &r.requests)])
    {
        for (resource, quantity) in quantities.iter().flatten() {
            if let Err(problem) = check_quantity(&quantity.0) {
                errors.push(FieldError::new(
                    format!("computeResources.{list}.{resource}"),
                    problem,
                ));
            }
        }
    }
    errors
}

/// A sidecar that is privileged, may escalate privileges or adds capabilities gets more of the node than a
/// platform team has granted by default.
fn privilege_problems(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(context) = &sidecar.security_context else {
        return errors;
    };
    const HINT: &str = "set the policy setting allowPrivileged to true to allow it";
    if context.privileged == Some(true) {
        errors.push(FieldError::new(
            "securityContext.privileged",
            format!("a privileged sidecar is not allowed; {HINT}"),
        ));
    }
    if context.allow_privilege_escalation == Some(true) {
        errors.push(FieldError::new(
            "securityContext.allowPrivilegeEscalation",
            format!("privilege escalation is not allowed; {HINT}"),
        ));
    }
    if let Some(added) = context
        .capabilities
        .as_ref()
        .and_then(|c| c.add.as_ref())
        .filter(|a| !a.is_empty())
    {
        errors.push(FieldError::new(
            "securityContext.capabilities.add",
            format!(
                "adding capabilities ({}) is not allowed; {HINT}",
                added.join(", ")
            ),
        ));
    }
    errors
}

/// Whether `image` matches one of `patterns`, as written or in its normalized form.
pub fn image_allowed(image: &str, patterns: &[String]) -> bool {
    let normalized = normalize_image(image);
    patterns
        .iter()
        .any(|pattern| glob_match(pattern, image) || glob_match(pattern, &normalized))
}

/// The fully qualified form of an image reference, as container runtimes resolve it: `postgres:14` is
/// `docker.io/library/postgres:14`, `acme/app` is `docker.io/acme/app`; a first component with a `.` or a
/// `:` (a registry port) or `localhost` is a registry and is kept.
pub fn normalize_image(image: &str) -> String {
    let (first, rest) = match image.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (image, None),
    };
    match rest {
        Some(_) if first.contains('.') || first.contains(':') || first == "localhost" => {
            image.to_string()
        }
        Some(_) => format!("docker.io/{image}"),
        None => format!("docker.io/library/{first}"),
    }
}

/// Shell-style matching where `*` is any run of characters (`/` included) and `?` is one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// Whether `pattern` can match an image reference: only the characters of image references, plus `*`/`?`.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:@*?".contains(c);
    match pattern.chars().find(|c| !allowed(*c)) {
        None if pattern.trim().is_empty() => Err("an empty pattern matches no image".to_string()),
        None => Ok(()),
        Some(c) => Err(format!(
            "{pattern:?} is not a valid pattern: {c:?} cannot appear in an image reference; use '*' for any run of characters and '?' for one character"
        )),
    }
}

/// Whether `quantity` is a Kubernetes resource quantity (`resource.ParseQuantity`'s grammar: a signed
/// decimal number, then a binary suffix `Ki`..`Ei`, a decimal suffix `n u m k M G T P E`, or an exponent).
pub fn check_quantity(quantity: &str) -> Result<(), String> {
    if is_quantity(quantity) {
        Ok(())
    } else {
        Err(format!(
            "{quantity:?} is not a Kubernetes quantity such as 500m, 2, 128Mi or 1Gi"
        ))
    }
}

fn is_quantity(quantity: &str) -> bool {
    let rest = quantity.strip_prefix(['+', '-']).unwrap_or(quantity);
    let number_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = rest.split_at(number_len);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 || number.bytes().filter(|b| *b == b'.').count() > 1 {
        return false;
    }
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("postgres:14", "docker.io/library/postgres:14")]
    #[case("postgres", "docker.io/library/postgres")]
    #[case("bitnami/redis:7", "docker.io/bitnami/redis:7")]
    #[case("ghcr.io/acme/db:1", "ghcr.io/acme/db:1")]
    #[case("registry.local:5000/db", "registry.local:5000/db")]
    #[case("myregistry:5000/db", "myregistry:5000/db")]
    #[case("localhost/db", "localhost/db")]
    #[case("postgres@sha256:abcd", "docker.io/library/postgres@sha256:abcd")]
    fn normalizes_like_a_container_runtime(#[case] image: &str, #[case] expected: &str) {
        assert_eq!(normalize_image(image), expected);
    }

    #[rstest]
    #[case("*", "anything/at:all", true)]
    #[case("docker.io/library/*", "docker.io/library/postgres:14", true)]
    #[case("docker.io/library/*", "docker.io/bitnami/redis", false)]
    #[case("ghcr.io/acme/*:v?", "ghcr.io/acme/tools/db:v1", true)]
    #[case("ghcr.io/acme/*:v?", "ghcr.io/acme/db:v10", false)]
    #[case("*@sha256:*", "ghcr.io/acme/db@sha256:0f", true)]
    #[case("postgres:1*", "postgres:14", true)]
    #[case("a*b*c", "aXbYbZc", true)]
    #[case("a*b*c", "aXbYbZ", false)]
    fn globs_match_whole_references(
        #[case] pattern: &str,
        #[case] text: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(glob_match(pattern, text), expected);
    }

    #[rstest]
    #[case("postgres:14", true)]
    #[case("docker.io/library/postgres:14", true)]
    #[case("ghcr.io/evil/postgres:14", false)]
    #[case("registry.local:5000/postgres:14", false)]
    fn images_match_as_written_or_normalized(#[case] image: &str, #[case] expected: bool) {
        let patterns = vec!["docker.io/library/postgres:*".to_string()];
        assert_eq!(image_allowed(image, &patterns), expected);
    }

    #[rstest]
    #[case("1", true)]
    #[case("500m", true)]
    #[case("0.5", true)]
    #[case(".5", true)]
    #[case("128Mi", true)]
    #[case("1e3", true)]
    #[case("+2G", true)]
    #[case("lots", false)]
    #[case("1.2.3", false)]
    #[case("12MB", false)]
    #[case("", false)]
    #[case("1e", false)]
    fn quantities_follow_kubernetes_grammar(#[case] quantity: &str, #[case] expected: bool) {
        assert_eq!(is_quantity(quantity), expected);
    }
}
