//! Image references and the `allowedImages` patterns they must match.

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
            Some(&c) if c == b'?' || Some(&c) == text.get(t) => {
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
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|c| *c == b'*')
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
}
