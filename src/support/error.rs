//! Every error the policy can report, and the one place where they become the messages people read.
//!
//! A message always says where (the annotation key, the sidecar, the field path), what is wrong and what
//! is allowed, because it reaches a pipeline author as `kubectl`'s "admission webhook denied the request".

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

/// The most characters of a text taken from the request (a name, a key) that a message shows.
const SHOWN_CHARS: usize = 80;
/// The most characters one problem takes in a message: with [`MAX_LISTED`] problems, a rejection stays
/// within a few dozen kilobytes whatever the request holds.
const MAX_PROBLEM_CHARS: usize = 1000;

/// `text` as a message shows it: whole up to a line's worth, cut after that.
pub(crate) fn shortened(text: &str) -> Cow<'_, str> {
    cut(text, SHOWN_CHARS)
}

fn cut(text: &str, chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars) {
        Some((end, _)) => Cow::Owned(format!("{}...", text.get(..end).unwrap_or_default())),
        None => Cow::Borrowed(text),
    }
}

/// A problem with one field: its path inside the sidecar or the settings, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
/// (a transposition such as `imgae` counts as one). Each comparison costs at most the length of the
/// shorter name times five, whatever the key's length: keys come from the request.
pub(crate) fn nearest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for name in allowed {
        let Some(distance) = edits_within_two(key.as_bytes(), name.as_bytes()) else {
            continue;
        };
        if distance * 3 <= name.len() && best.is_none_or(|(found, _)| distance < found) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// The number of edits (insertions, deletions, substitutions, transpositions of neighbours, letter case
/// ignored) between `a` and `b`, if it is at most two: the restricted Damerau-Levenshtein distance, with
/// the search cut off as soon as no alignment can stay within two.
fn edits_within_two(a: &[u8], b: &[u8]) -> Option<usize> {
    const MAX: usize = 2;
    const FAR: usize = MAX + 1;
    if a.len().abs_diff(b.len()) > MAX {
        return None;
    }
    let same = |x: u8, y: u8| x.eq_ignore_ascii_case(&y);
    let cell = |row: &[usize], k: usize| row.get(k).copied().unwrap_or(FAR);
    // Three rows of the distance table: two rows back (for transpositions), the last one, this one.
    let width = b.len() + 1;
    let mut before: Vec<usize> = vec![FAR; width];
    let mut last: Vec<usize> = (0..width).collect();
    let mut row: Vec<usize> = vec![FAR; width];
    let mut previous_x: Option<u8> = None;
    for (i, &x) in a.iter().enumerate() {
        let mut left = i + 1;
        let mut previous_y: Option<u8> = None;
        for (j, (&y, slot)) in b.iter().zip(row.iter_mut().skip(1)).enumerate() {
            let mut best = (cell(&last, j) + usize::from(!same(x, y)))
                .min(cell(&last, j + 1) + 1)
                .min(left + 1);
            if let (Some(px), Some(py)) = (previous_x, previous_y)
                && same(x, py)
                && same(px, y)
            {
                best = best.min(cell(&before, j.wrapping_sub(1)) + 1);
            }
            *slot = best.min(FAR);
            left = *slot;
            previous_y = Some(y);
        }
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        if row.iter().all(|d| *d > MAX) {
            return None;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
        previous_x = Some(x);
    }
    last.last().copied().filter(|d| *d <= MAX)
}

/// Names for a message: at most a dozen, then how many more, so that a message does not grow with the
/// object it is about.
pub(crate) fn listed<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 12;
    let more = names.len().saturating_sub(SHOWN);
    let shown = names.take(SHOWN).collect::<Vec<_>>().join(", ");
    match more {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Which sidecar of a declaration a problem is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SidecarRef {
    /// The sidecar's name, once it is known.
    Named(String),
    /// Its position in the list, for an entry without a usable name.
    Index(usize),
}

impl fmt::Display for SidecarRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SidecarRef::Named(name) => write!(f, "sidecar {:?}", shortened(name)),
            SidecarRef::Index(i) => write!(f, "sidecar #{}", i + 1),
        }
    }
}

/// One problem with a declaration: the annotation it is in, the sidecar if it is about one, and the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
        write!(f, "annotation {:?}", shortened(&self.annotation))?;
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

/// The longest an admission warning may be: the API server and `kubectl` show one line each, and cut long
/// ones.
pub(crate) const MAX_WARNING_CHARS: usize = 120;

/// One admission warning about a sidecar, within [`MAX_WARNING_CHARS`]: the annotation and the sidecar's
/// name are cut first, then the text.
pub(crate) fn warning(annotation: &str, sidecar: &str, text: &str) -> String {
    let full = |a: &str, s: &str, t: &str| format!("annotation {a:?}, sidecar {s:?}: {t}");
    let whole = full(annotation, sidecar, text);
    if whole.chars().count() <= MAX_WARNING_CHARS {
        return whole;
    }
    // The names give way first, down to what still tells them apart; then the text.
    let room = MAX_WARNING_CHARS.saturating_sub(full("", "", "").chars().count());
    let for_sidecar = sidecar.chars().count().min(12);
    let for_annotation = annotation.chars().count().min(32);
    let text_room = room.saturating_sub(for_sidecar + for_annotation);
    let for_annotation = room.saturating_sub(for_sidecar + text.chars().count().min(text_room));
    full(
        &ellipsis(annotation, for_annotation),
        &ellipsis(sidecar, for_sidecar),
        &ellipsis(text, text_room),
    )
}

/// `text` in at most `chars` characters, its end replaced by `…` if it is cut.
fn ellipsis(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The most problems one rejection lists; the rest are counted. A message reaches a person through
/// `kubectl` and the API server's events: a few dozen lines are read, thousands are not, and a request
/// must not be able to make the policy build megabytes of text.
pub const MAX_LISTED: usize = 20;

fn render_problems(problems: &[Problem]) -> String {
    let list = problems
        .iter()
        .take(MAX_LISTED)
        .map(|problem| cut(&problem.to_string(), MAX_PROBLEM_CHARS).into_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let more = problems.len().saturating_sub(MAX_LISTED);
    match (problems.len(), more) {
        (1, _) => format!("pipelinerun-sidecars: {list}"),
        (n, 0) => format!("pipelinerun-sidecars: {n} problems: {list}"),
        (n, more) => format!("pipelinerun-sidecars: {n} problems: {list}; and {more} more"),
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
    #[case("imagepullpolicy", Some("imagePullPolicy"))]
    #[case("ennv", Some("env"))]
    #[case("eniv", Some("env"))]
    #[case("mage", Some("image"))]
    #[case("imagee", Some("image"))]
    #[case("imageeee", None)]
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

    #[rstest]
    #[case("abc", "abc", Some(0))]
    #[case("abc", "acb", Some(1))]
    #[case("abcd", "badc", Some(2))]
    #[case("kitten", "sitting", None)]
    #[case("", "ab", Some(2))]
    #[case("", "abc", None)]
    #[case("ABC", "abd", Some(1))]
    fn counts_edits_up_to_two(#[case] a: &str, #[case] b: &str, #[case] expected: Option<usize>) {
        assert_eq!(edits_within_two(a.as_bytes(), b.as_bytes()), expected);
        assert_eq!(edits_within_two(b.as_bytes(), a.as_bytes()), expected);
    }

    #[test]
    fn a_long_key_costs_nothing_to_compare() {
        let key = "x".repeat(200_000);
        assert_eq!(nearest(&key, &["image"]), None);
    }

    #[test]
    fn a_rejection_lists_a_bounded_number_of_problems() {
        let problems: Vec<Problem> = (0..25)
            .map(|i| Problem {
                annotation: "p.io/test".into(),
                sidecar: Some(SidecarRef::Index(i)),
                error: FieldError::new("image", "is required"),
            })
            .collect();
        let message = PolicyError::Declarations(problems).to_string();
        assert!(message.starts_with("pipelinerun-sidecars: 25 problems: annotation \"p.io/test\", sidecar #1: image: is required; "), "{message}");
        assert!(
            message.ends_with("sidecar #20: image: is required; and 5 more"),
            "{message}"
        );
        assert_eq!(message.matches("is required").count(), MAX_LISTED);
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
