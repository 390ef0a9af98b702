//! Every error the policy can report, and the one place where they become the messages people read.
//!
//! A message always says where (the annotation key, the sidecar, the field path), what is wrong and what
//! is allowed, because it reaches a pipeline author as `kubectl`'s "admission webhook denied the request".

use std::fmt;

use thiserror::Error;

/// A problem with one field: its path inside the sidecar or the settings, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path with list indexes, such as `readinessProbe.exec.command[0]`; empty for the whole value.
    pub path: String,
    /// What is wrong and what is allowed, as the end of a sentence that starts with the path.
    pub message: String,
}

impl FieldError {
    /// A problem with the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An unknown field `key` under `parent`, with the nearest allowed name or, failing that, all of them.
    pub(crate) fn unknown(parent: &str, key: &str, allowed: &[&str]) -> Self {
        let path = if parent.is_empty() {
            key.to_string()
        } else {
            format!("{parent}.{key}")
        };
        let message = match nearest(key, allowed) {
            Some(suggestion) => format!("unknown field; did you mean {suggestion:?}?"),
            None => format!(
                "unknown field; the fields allowed here are {}",
                allowed.join(", ")
            ),
        };
        FieldError { path, message }
    }

    /// The same error, one level down: inside the field `parent`.
    pub(crate) fn within(mut self, parent: &str) -> Self {
        self.path = match (parent.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => parent.to_string(),
            (false, false) if self.path.starts_with('[') => format!("{parent}{}", self.path),
            (false, false) => format!("{parent}.{}", self.path),
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The allowed name a person most likely meant: same letters in another case, or at most two edits away
/// (a transposition such as `imgae` counts as one).
pub(crate) fn nearest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    if let Some(same) = allowed
        .iter()
        .find(|name| name.to_ascii_lowercase() == lower)
    {
        return Some(same);
    }
    allowed
        .iter()
        .map(|name| {
            (
                strsim::damerau_levenshtein(&lower, &name.to_ascii_lowercase()),
                *name,
            )
        })
        .filter(|(distance, name)| *distance <= 2 && *distance * 3 <= name.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// Which sidecar of a declaration a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SidecarRef {
    /// The sidecar's name, once it is known.
    Named(String),
    /// Its position in the list, for an entry without a usable name.
    Index(usize),
}

impl fmt::Display for SidecarRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SidecarRef::Named(name) => write!(f, "sidecar {name:?}"),
            SidecarRef::Index(i) => write!(f, "sidecar #{}", i + 1),
        }
    }
}

/// One problem with a declaration: the annotation it is in, the sidecar if it is about one, and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The annotation key the declaration is in.
    pub annotation: String,
    /// The sidecar of that declaration, unless the problem is with the whole value.
    pub sidecar: Option<SidecarRef>,
    /// The field and what is wrong with it.
    pub error: FieldError,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "annotation {:?}", self.annotation)?;
        if let Some(sidecar) = &self.sidecar {
            write!(f, ", {sidecar}")?;
        }
        write!(f, ": {}", self.error)
    }
}

/// Why the policy rejects a request.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The payload is not the envelope policy-server sends, or the object is not a Kubernetes object.
    #[error("pipelinerun-sidecars cannot read the admission request: {0}")]
    Request(String),
    /// The settings the request came with cannot be read (policy-server validates them at load time, so
    /// this means the module was run without that step).
    #[error("pipelinerun-sidecars settings are invalid: {0}")]
    Settings(String),
    /// The declarations on the object are wrong; every problem found is listed.
    #[error("{}", render_problems(.0))]
    Declarations(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    let list = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    match problems.len() {
        1 => format!("pipelinerun-sidecars: {list}"),
        n => format!("pipelinerun-sidecars: {n} problems: {list}"),
    }
}

/// A setting that is wrong, reported by `validate_settings` when the policy is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub FieldError);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.clone().within("settings"))
    }
}

/// All the problems with the settings, as one message.
pub fn render_settings_errors(errors: &[SettingsError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("imgae", Some("image"))]
    #[case("ImagePullPolicy", Some("imagePullPolicy"))]
    #[case("commnd", Some("command"))]
    #[case("tempate", Some("template"))]
    #[case("xyz", None)]
    #[case("tty2", Some("tty"))]
    fn suggests_the_nearest_field(#[case] key: &str, #[case] expected: Option<&str>) {
        let allowed = [
            "image",
            "imagePullPolicy",
            "command",
            "template",
            "tty",
            "env",
        ];
        assert_eq!(nearest(key, &allowed), expected);
    }

    #[test]
    fn one_problem_reads_as_one_sentence_and_several_are_counted() {
        let problem = Problem {
            annotation: "pipelinerun-sidecars.io/test".into(),
            sidecar: Some(SidecarRef::Named("postgres".into())),
            error: FieldError::new("image", "is required"),
        };
        let second = Problem {
            sidecar: Some(SidecarRef::Index(1)),
            ..problem.clone()
        };
        assert_eq!(
            PolicyError::Declarations(vec![problem.clone()]).to_string(),
            "pipelinerun-sidecars: annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": image: is required"
        );
        assert_eq!(
            PolicyError::Declarations(vec![problem, second]).to_string(),
            "pipelinerun-sidecars: 2 problems: annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": image: is required; annotation \"pipelinerun-sidecars.io/test\", sidecar #2: image: is required"
        );
    }
}
