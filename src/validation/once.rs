//! Doing each thing once in a PipelineRun that repeats itself: each annotation value is read once for
//! its text wherever it appears, and each problem is reported once however many tasks it reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use super::warnings;
use crate::declaration;
use crate::settings::{InjectAs, Settings};
use crate::support::error::Problem;
use crate::support::yaml::Budget;

/// What an annotation value declares: its sidecars' names, each with what is risky about it, or its
/// problems.
type Read = Result<Vec<(String, Vec<&'static str>)>, Vec<Problem>>;

/// The annotation map a value is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Origin<'a> {
    PipelineRun,
    /// The task's `spec.taskRunSpecs[].metadata`.
    TaskRunSpecs(&'a str),
    /// The task's inline `taskSpec.metadata`.
    TaskSpec(&'a str),
}

/// Reads each annotation value once for its text, wherever it appears: `all-tasks` reaches every task, and
/// taskRunSpecs often repeat one declaration under each task's key. A place (the map and the key) is found
/// by its name; its text, which may be a quarter of a megabyte, is looked up once, when the place is first
/// met (at most the text's length for each level of the tree: all the texts are within the object's
/// size). All of them draw on one budget: the PipelineRun is one object.
pub(super) struct Reader<'a> {
    settings: &'a Settings,
    budget: Budget,
    by_place: BTreeMap<(Origin<'a>, String), usize>,
    /// Texts found by comparison, not hashing: a `HashMap` asks the host for random keys (a WASI call)
    /// on every request, each running in a fresh instance.
    by_text: BTreeMap<&'a str, usize>,
    /// What each text declares, with the problems as they read under the key it was first read under.
    read: Vec<Read>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(settings: &'a Settings) -> Self {
        Reader {
            settings,
            budget: Budget::default(),
            by_place: BTreeMap::new(),
            by_text: BTreeMap::new(),
            read: Vec::new(),
        }
    }

    /// Where what `text`, the value of `key` in the map `origin` names, declares is kept; and whether
    /// this place is met for the first time.
    pub(super) fn read(&mut self, origin: Origin<'a>, key: &str, text: &'a str) -> (usize, bool) {
        let place = (origin, key.to_string());
        if let Some(index) = self.by_place.get(&place) {
            return (*index, false);
        }
        let index = match self.by_text.get(text) {
            Some(index) => *index,
            None => {
                let read = declaration::parse_annotation(key, text, self.settings, &self.budget)
                    .map(|entries| {
                        entries
                            .into_iter()
                            .map(|d| {
                                let native = self.settings.inject_as == InjectAs::Native;
                                let risks = warnings::risks(&d, native);
                                (d.sidecar.name().to_string(), risks)
                            })
                            .collect()
                    });
                self.read.push(read);
                let index = self.read.len() - 1;
                self.by_text.insert(text, index);
                index
            }
        };
        self.by_place.insert(place, index);
        (index, true)
    }

    /// The names declared at `index`, if it declares sidecars without a problem.
    pub(super) fn names(&self, index: usize) -> Option<Vec<&str>> {
        let entries = self.read.get(index)?.as_ref().ok()?;
        Some(entries.iter().map(|(name, _)| name.as_str()).collect())
    }

    /// The warnings of the declaration at `index`, as they read under `key`.
    pub(super) fn warnings(&self, index: usize, key: &str) -> Vec<String> {
        match self.read.get(index) {
            Some(Ok(entries)) => entries
                .iter()
                .flat_map(|(name, risks)| risks.iter().map(|risk| warnings::line(key, name, risk)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The problems of the declaration at `index`, as they read under `key`.
    pub(super) fn problems(&self, index: usize, key: &str) -> Vec<Problem> {
        match self.read.get(index) {
            Some(Err(problems)) => problems
                .iter()
                .map(|problem| Problem {
                    annotation: key.to_string(),
                    ..problem.clone()
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Problems in the order they are found, each once. The set beside the list (ordered: a hashed set would
/// ask the host for random keys) holds each problem's hash rather than a copy: thousands of problems are
/// possible, and only their count is shown past the first.
#[derive(Default)]
pub(super) struct Unique {
    pub(super) list: Vec<Problem>,
    seen: BTreeSet<u64>,
}

/// FNV-1a, 64 bits: a problem is hashed once to be told from the others, and SipHash, the standard
/// hasher, costs several times as much for the thousands a hostile PipelineRun can make. Two problems
/// with one hash would only make the count of those not shown one short.
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Unique {
    pub(super) fn push(&mut self, problem: Problem) {
        let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
        problem.hash(&mut hasher);
        if self.seen.insert(hasher.finish()) {
            self.list.push(problem);
        }
    }

    pub(super) fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        for problem in problems {
            self.push(problem);
        }
    }
}
