//! Container image references, read the way containerd reads them (distribution/reference's
//! `ParseNormalizedNamed`, then `ParseDockerRef`): `postgres:14` is `docker.io/library/postgres:14`, a
//! first path component with a `.`, a `:` (a port) or an upper-case letter, or `localhost`, is a registry
//! host, and a reference with neither tag nor digest pulls `latest`.

use std::fmt;

/// The registry an image without one comes from, and the path prefix of its official images.
const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";

/// The longest repository path distribution/reference accepts.
const MAX_PATH_LEN: usize = 255;

/// A normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) domain: String,
    pub(crate) path: String,
    /// `latest` when the reference has neither tag nor digest, as the runtime pulls it.
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl Reference {
    /// Reads `image` as containerd does, or says why it is not an image reference.
    pub(crate) fn parse(image: &str) -> Result<Reference, String> {
        if image.trim() != image || image.is_empty() {
            return Err("has spaces around it or is empty".to_string());
        }
        if image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("is a bare 64-digit identifier, not a repository name".to_string());
        }
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(check_digest(digest)?)),
            None => (image, None),
        };
        let (domain, remainder) = split_domain(name);
        let (path, tag) = match remainder.split_once(':') {
            Some((path, tag)) => (path, Some(tag)),
            None => (remainder.as_str(), None),
        };
        check_domain(&domain)?;
        if path.to_ascii_lowercase() != path {
            return Err(format!("the repository name {path:?} must be lowercase"));
        }
        check_path(path)?;
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }
}

/// `splitDockerDomain`: the registry host and the rest, with Docker Hub's defaults filled in.
pub(crate) fn split_domain(name: &str) -> (String, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.to_string(),
            format!("{OFFICIAL_PREFIX}{name}"),
        );
    };
    let is_domain =
        first == "localhost" || first.contains(['.', ':']) || first.to_ascii_lowercase() != first;
    let (domain, rest) = match (is_domain, first) {
        (true, LEGACY_DOMAIN) => (DEFAULT_DOMAIN, rest),
        (true, domain) => (domain, rest),
        (false, _) => (DEFAULT_DOMAIN, name),
    };
    let rest = if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        format!("{OFFICIAL_PREFIX}{rest}")
    } else {
        rest.to_string()
    };
    (domain.to_string(), rest)
}

/// `host[:port]`: DNS components or a bracketed IPv6 address, then digits.
fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.contains(']') => (host, Some(port)),
        _ => (domain, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => host.split('.').all(|component| {
            let bytes = component.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        }),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(format!(
            "the registry {domain:?} is not a host name with an optional port"
        ))
    }
}

/// Path components of lower-case letters and digits, joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "the repository name is {} characters long; at most {MAX_PATH_LEN} are allowed",
            path.len()
        ));
    }
    if path.split('/').all(is_path_component) {
        Ok(())
    } else {
        Err(format!(
            "the repository name {path:?} is not lower-case letters and digits joined by '.', '_', '__' or '-', in segments separated by '/'"
        ))
    }
}

fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    // Between runs of letters and digits: one '.', one or two '_', or any number of '-'.
    let mut separator: Vec<u8> = Vec::new();
    for b in bytes {
        if alnum(b) {
            let valid = matches!(separator.as_slice(), [] | [b'.'] | [b'_'] | [b'_', b'_'])
                || separator.iter().all(|s| *s == b'-');
            if !valid {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(*b);
        } else {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let valid = bytes.first().is_some_and(|b| word(*b))
        && bytes.len() <= 128
        && bytes.iter().all(|b| word(*b) || matches!(b, b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the tag {tag:?} is not 1 to 128 letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
        ))
    }
}

/// `sha256:` and 64 lower-case hex digits (or sha384 and 96, sha512 and 128), as go-digest accepts them.
fn check_digest(digest: &str) -> Result<String, String> {
    let valid = digest.split_once(':').is_some_and(|(algorithm, hex)| {
        let length = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return false,
        };
        hex.len() == length
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if valid {
        Ok(digest.to_string())
    } else {
        Err(format!(
            "the digest {digest:?} is not sha256: and 64 lower-case hex digits (or sha384 and 96, sha512 and 128)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Where the policy reads a reference otherwise than containerd, on purpose.
    fn deliberate(image: &str, ours: &Result<Reference, String>) -> Option<&'static str> {
        match ours {
            // ParseDockerRef drops the tag of a reference with both; the policy keeps it, so that a tag
            // pattern never vouches for a digest it did not name (test_data/bad/92-...).
            Ok(reference) if reference.tag.is_some() && reference.digest.is_some() => {
                Some("a tag beside a digest is kept")
            }
            _ if image.is_empty() => Some("an empty image is refused before it is read"),
            _ => None,
        }
    }

    /// test_data/image-references.json: the test tables of distribution/reference, with what its
    /// ParseDockerRef makes of each (the oracle holds the file to that module).
    #[test]
    fn references_read_as_distribution_reference_reads_them() {
        let text = std::fs::read_to_string("test_data/image-references.json").expect("fixture");
        let fixture: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let cases = fixture["cases"].as_array().expect("cases");
        let mut differences = Vec::new();
        for case in cases {
            let image = case["image"].as_str().expect("image");
            let ours = Reference::parse(image);
            let expected = case["normalized"].as_str();
            let same = match (&ours, expected) {
                (Ok(reference), Some(normalized)) => reference.to_string() == normalized,
                (Err(_), None) => true,
                _ => false,
            };
            if !same && deliberate(image, &ours).is_none() {
                differences.push(format!("{image:?}: {ours:?}, containerd: {expected:?}"));
            }
        }
        assert!(cases.len() > 200, "{} cases", cases.len());
        assert!(differences.is_empty(), "{}", differences.join("\n"));
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case("postgres:14", "docker.io/library/postgres:14")]
    #[case("postgres", "docker.io/library/postgres:latest")]
    #[case("bitnami/redis:7", "docker.io/bitnami/redis:7")]
    #[case("docker.io/redis", "docker.io/library/redis:latest")]
    #[case("index.docker.io/bitnami/redis", "docker.io/bitnami/redis:latest")]
    #[case(
        "registry-1.docker.io/library/redis",
        "registry-1.docker.io/library/redis:latest"
    )]
    #[case("ghcr.io/acme/db:1", "ghcr.io/acme/db:1")]
    #[case("registry.local:5000/db", "registry.local:5000/db:latest")]
    #[case("postgres:5000/x", "postgres:5000/x:latest")]
    #[case("postgres:5000", "docker.io/library/postgres:5000")]
    #[case("localhost/db", "localhost/db:latest")]
    #[case("localhost:5000", "docker.io/library/localhost:5000")]
    #[case("LOCALHOST/x", "LOCALHOST/x:latest")]
    #[case("[::1]:5000/x", "[::1]:5000/x:latest")]
    #[case("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest")]
    #[case("redis:LATEST", "docker.io/library/redis:LATEST")]
    #[case("my_registry/x", "docker.io/my_registry/x:latest")]
    fn normalizes_like_containerd(#[case] image: &str, #[case] expected: &str) {
        assert_eq!(
            Reference::parse(image).map(|r| r.to_string()),
            Ok(expected.to_string())
        );
    }

    #[test]
    fn digests_are_kept_with_or_without_a_tag() {
        let digested = format!("postgres@sha256:{SHA}");
        assert_eq!(
            Reference::parse(&digested).map(|r| r.to_string()),
            Ok(format!("docker.io/library/postgres@sha256:{SHA}"))
        );
        let both = format!("postgres:16@sha256:{SHA}");
        assert_eq!(
            Reference::parse(&both).map(|r| r.to_string()),
            Ok(format!("docker.io/library/postgres:16@sha256:{SHA}"))
        );
    }

    #[rstest]
    #[case("Redis", "the repository name \"library/Redis\" must be lowercase")]
    #[case(
        "docker.io/Redis",
        "the repository name \"library/Redis\" must be lowercase"
    )]
    #[case(" redis", "has spaces around it or is empty")]
    #[case(
        "redis:",
        "the tag \"\" is not 1 to 128 letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
    )]
    #[case(
        "redis:-x",
        "the tag \"-x\" is not 1 to 128 letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
    )]
    #[case(
        "redis@sha256:abc",
        "the digest \"sha256:abc\" is not sha256: and 64 lower-case hex digits (or sha384 and 96, sha512 and 128)"
    )]
    #[case(
        "foo_bar.com/x",
        "the registry \"foo_bar.com\" is not a host name with an optional port"
    )]
    #[case(
        "foo.com//x",
        "the repository name \"/x\" is not lower-case letters and digits joined by '.', '_', '__' or '-', in segments separated by '/'"
    )]
    #[case(
        "dock___er/x",
        "the repository name \"dock___er/x\" is not lower-case letters and digits joined by '.', '_', '__' or '-', in segments separated by '/'"
    )]
    #[case(
        "$(params.image)",
        "the repository name \"library/$(params.image)\" is not lower-case letters and digits joined by '.', '_', '__' or '-', in segments separated by '/'"
    )]
    fn refuses_what_is_not_a_reference(#[case] image: &str, #[case] why: &str) {
        assert_eq!(Reference::parse(image), Err(why.to_string()));
    }
}
