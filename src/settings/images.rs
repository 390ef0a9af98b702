//! Image references, and the `allowedImages` patterns they must match.
//!
//! A reference is read the way containerd reads it (distribution/reference's `ParseNormalizedNamed` and
//! `ParseDockerRef`): `postgres:14` is `docker.io/library/postgres:14`, a first path component with a
//! `.` or a `:` (a port), or `localhost`, or an upper-case letter, is a registry host, and a reference
//! with neither tag nor digest pulls `latest`. A pattern is read with the same rules and matched against
//! the normalized reference only, part by part: the registry host as a whole, the path segment by segment
//! (`*` within one segment, `**` for any number of them), then the tag and the digest. So `redis*`, which
//! reads `docker.io/library/redis*`, does not admit `redis.evil.io/x`, and `postgres:*` does not admit
//! the registry `postgres:5000`.

use crate::support::image_reference::{Reference, split_domain};

/// An `allowedImages` pattern, read into the parts it is matched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*` or `**` alone: any image.
    Any,
    /// A reference with wildcards.
    Image {
        domain: String,
        path: Vec<String>,
        /// None: any tag (or none).
        tag: Option<String>,
        /// None: any digest (or none).
        digest: Option<String>,
    },
}

impl Pattern {
    /// Reads a pattern, or says why it can match no image reference.
    pub(crate) fn parse(text: &str) -> Result<Pattern, String> {
        if text == "*" || text == "**" {
            return Ok(Pattern::Any);
        }
        if text.trim().is_empty() {
            return Err("an empty pattern matches no image".to_string());
        }
        // Brackets only around an IPv6 registry host, which is checked once the host is split off.
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:@*?[]".contains(c);
        if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            return Err(bad_character(text, c));
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (text, None),
        };
        let (domain, remainder) = split_domain(name);
        let (path, tag) = match remainder.split_once(':') {
            Some((path, tag)) => (path, Some(tag.to_string())),
            None => (remainder.as_str(), None),
        };
        if domain.contains("**") {
            return Err(format!(
                "{text:?} is not a valid pattern: '**' matches path segments, not the registry host; write the host, or '*' within it"
            ));
        }
        let segments: Vec<String> = path.split('/').map(str::to_string).collect();
        if let Some(bad) = segments
            .iter()
            .find(|s| s.is_empty() || (s.contains("**") && s.as_str() != "**"))
        {
            return Err(format!(
                "{text:?} is not a valid pattern: the path segment {bad:?} is empty or mixes '**' with other characters; '**' stands alone for any number of segments"
            ));
        }
        let outside_host = path
            .chars()
            .chain(tag.iter().chain(digest.iter()).flat_map(|t| t.chars()));
        if let Some(c) = outside_host.into_iter().find(|c| "[]".contains(*c)) {
            return Err(bad_character(text, c));
        }
        Ok(Pattern::Image {
            domain,
            path: segments,
            tag,
            digest,
        })
    }

    /// Whether the normalized `reference` matches.
    pub(crate) fn matches(&self, reference: &Reference) -> bool {
        let Pattern::Image {
            domain,
            path,
            tag,
            digest,
        } = self
        else {
            return true;
        };
        if !glob_match(domain, &reference.domain) {
            return false;
        }
        let segments: Vec<&str> = reference.path.split('/').collect();
        if !path_match(path, &segments) {
            return false;
        }
        // With a digest the runtime pulls the digest and ignores the tag: a tag pattern cannot vouch for it.
        let tag_ok = match tag {
            None => true,
            Some(wanted) => {
                reference.digest.is_none()
                    && reference
                        .tag
                        .as_deref()
                        .is_some_and(|t| glob_match(wanted, t))
            }
        };
        let digest_ok = match digest {
            None => true,
            Some(wanted) => reference
                .digest
                .as_deref()
                .is_some_and(|d| glob_match(wanted, d)),
        };
        tag_ok && digest_ok
    }
}

fn bad_character(text: &str, c: char) -> String {
    format!(
        "{text:?} is not a valid pattern: {c:?} cannot appear in an image reference; use '*' for any run of characters within a path segment, '**' for any number of segments and '?' for one character"
    )
}

/// Whether `image` may run under `patterns`, or the message that says why not.
pub(crate) fn image_problem(image: &str, patterns: &[String]) -> Option<String> {
    let reference = match Reference::parse(image) {
        Ok(reference) => reference,
        Err(why) => return Some(format!("{image:?} is not a valid image reference: {why}")),
    };
    let allowed = patterns
        .iter()
        .filter_map(|p| Pattern::parse(p).ok())
        .any(|pattern| pattern.matches(&reference));
    if allowed {
        return None;
    }
    let normalized = reference.to_string();
    let shown = if normalized == image {
        format!("{image:?}")
    } else {
        format!("{image:?} ({normalized})")
    };
    Some(format!(
        "{shown} matches none of the allowedImages patterns: {}",
        patterns.join(", ")
    ))
}

/// Whether `pattern` can match an image reference, for the settings check at load time.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    Pattern::parse(pattern).map(|_| ())
}

/// Path segments against pattern segments, where a `**` segment stands for any number of segments, and
/// at the end for one or more (as in `.gitignore`): `ghcr.io/acme/**` is what is under `ghcr.io/acme`,
/// not the repository `ghcr.io/acme` itself. The table is |pattern| x |path|, both a handful.
fn path_match(pattern: &[String], path: &[&str]) -> bool {
    // reachable[j]: the pattern so far can consume exactly the first j segments of the path.
    let mut reachable = vec![false; path.len() + 1];
    if let Some(first) = reachable.first_mut() {
        *first = true;
    }
    for (k, segment) in pattern.iter().enumerate() {
        let mut next = vec![false; path.len() + 1];
        if segment == "**" {
            let at_least_one = k + 1 == pattern.len();
            let mut any = false;
            for (j, slot) in next.iter_mut().enumerate() {
                let here = reachable.get(j).copied().unwrap_or(false);
                if !at_least_one {
                    any |= here;
                }
                *slot = any;
                if at_least_one {
                    any |= here;
                }
            }
        } else {
            for (j, text) in path.iter().enumerate() {
                if reachable.get(j).copied().unwrap_or(false)
                    && glob_match(segment, text)
                    && let Some(slot) = next.get_mut(j + 1)
                {
                    *slot = true;
                }
            }
        }
        reachable = next;
    }
    reachable.last().copied().unwrap_or(false)
}

/// Shell-style matching of one part (a host, a path segment, a tag, a digest): `*` is any run of
/// characters, `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case("redis*", "redis", true)]
    #[case("redis*", "redis-stack:7", true)]
    #[case("redis*", "redis.evil.io/x", false)]
    #[case("redis*", "redis.evil.io/library/redis", false)]
    #[case("redis*", "redis-evil/x", false)]
    #[case("redis*", "redis:5000/x", false)]
    #[case("postgres:*", "postgres:5000/x", false)]
    #[case("postgres:*", "postgres:5000", true)]
    #[case("postgres:*", "postgres", true)]
    #[case("postgres:16", "postgres:16", true)]
    #[case("postgres:16", "postgres:17", false)]
    #[case("postgres", "postgres:16", true)]
    #[case("docker.io/library/redis", "index.docker.io/redis", true)]
    #[case("redis", "registry-1.docker.io/library/redis", false)]
    #[case("redis", "Docker.io/library/redis", false)]
    #[case("docker.io/**", "FOO/bar", false)]
    #[case("localhost:5000/**", "localhost:5000/x", true)]
    #[case("localhost:5000/**", "localhost:5000", false)]
    #[case("localhost/**", "localhost:5000/x", false)]
    #[case("127.0.0.1:5000/**", "127.0.0.1:5000/a/b", true)]
    #[case("127.0.0.1:5000/**", "127.0.0.1:50000/a", false)]
    #[case("ghcr.io/org/*", "ghcr.io/org/a/b", false)]
    #[case("ghcr.io/org/**", "ghcr.io/org/a/b", true)]
    #[case("ghcr.io/org/**", "ghcr.io/org/a", true)]
    // A trailing ** is what is under the path, not the repository of that name.
    #[case("ghcr.io/org/**", "ghcr.io/org", false)]
    #[case("ghcr.io/org/**/db", "ghcr.io/org/db", true)]
    #[case("ghcr.io/org/**", "ghcr.io/orgx/a", false)]
    #[case("ghcr.io/org/**", "ghcr.io.evil.com/org/a", false)]
    #[case("ghcr.io/org/**", "ghcr.io:443/org/a", false)]
    #[case("ghcr.io/org/**/db", "ghcr.io/org/a/b/db:1", true)]
    #[case("*.acme.io/**", "registry.acme.io/x/y", true)]
    #[case("*.acme.io/**", "acme.io.evil.com/x", false)]
    #[case("*", "quay.io/minio/minio", true)]
    #[case("**", "quay.io/minio/minio", true)]
    #[case("redis:7*", "redis:7.2-alpine", true)]
    #[case("redis:7*", "redis:17", false)]
    #[case("docker.io/library/redis", "library/library/redis", false)]
    #[case("example.com/**", "example.com", false)]
    #[case("ghcr.io/acme/*:v?", "ghcr.io/acme/db:v1", true)]
    #[case("ghcr.io/acme/*:v?", "ghcr.io/acme/db:v10", false)]
    fn patterns_match_part_by_part(
        #[case] pattern: &str,
        #[case] image: &str,
        #[case] expected: bool,
    ) {
        let pattern = Pattern::parse(pattern).expect("valid pattern");
        let reference = Reference::parse(image).expect("valid reference");
        assert_eq!(pattern.matches(&reference), expected);
    }

    #[test]
    fn a_tag_pattern_does_not_vouch_for_a_digest() {
        let both = Reference::parse(&format!("postgres:16@sha256:{SHA}")).expect("valid");
        assert!(!Pattern::parse("postgres:16").expect("valid").matches(&both));
        assert!(Pattern::parse("postgres").expect("valid").matches(&both));
        assert!(
            Pattern::parse("postgres@sha256:*")
                .expect("valid")
                .matches(&both)
        );
        let tagged = Reference::parse("postgres:16").expect("valid");
        assert!(
            !Pattern::parse("postgres@sha256:*")
                .expect("valid")
                .matches(&tagged)
        );
    }

    #[rstest]
    #[case(
        "ghcr.io/[acme]/*",
        "\"ghcr.io/[acme]/*\" is not a valid pattern: '[' cannot appear in an image reference; use '*' for any run of characters within a path segment, '**' for any number of segments and '?' for one character"
    )]
    #[case(
        "**.io/x",
        "\"**.io/x\" is not a valid pattern: '**' matches path segments, not the registry host; write the host, or '*' within it"
    )]
    #[case(
        "ghcr.io/acme**/x",
        "\"ghcr.io/acme**/x\" is not a valid pattern: the path segment \"acme**\" is empty or mixes '**' with other characters; '**' stands alone for any number of segments"
    )]
    #[case(" ", "an empty pattern matches no image")]
    fn refuses_patterns_that_cannot_mean_what_they_say(#[case] pattern: &str, #[case] why: &str) {
        assert_eq!(check_pattern(pattern), Err(why.to_string()));
    }

    #[test]
    fn the_message_names_the_normalized_reference() {
        let patterns = vec!["redis*".to_string()];
        assert_eq!(
            image_problem("redis.evil.io/x", &patterns),
            Some("\"redis.evil.io/x\" (redis.evil.io/x:latest) matches none of the allowedImages patterns: redis*".to_string())
        );
        assert_eq!(image_problem("redis:7", &patterns), None);
        assert_eq!(
            image_problem("Redis", &patterns),
            Some("\"Redis\" is not a valid image reference: the repository name \"library/Redis\" must be lowercase".to_string())
        );
    }
}
