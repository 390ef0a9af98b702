//! One pass of Tekton's substitution: `substitution.ApplyReplacements` (`pkg/substitution/replacements.go`)
//! builds a `strings.Replacer` from `"$(" + key + ")"` for every key of a Go map and replaces in one scan.
//!
//! `strings.Replacer` takes, at each position, the first of its old strings in argument order that
//! matches there, and the order comes from ranging over a Go map: random. Two keys match at one position
//! only when one is the other, a `)` and more (`a` and `a)$(params.obj.b`), so a key holding `)` makes
//! the result a coin toss; and a key holding `)` can match where the policy's reading (up to the first
//! `)`) finds another. The policy refuses to judge a text where a reference is followed by `)` and a key
//! extends it that way, rather than guess: no honest key holds `)`, and telling whether that key matches
//! at that position would cost a scan of the keys for every reference.

use std::collections::BTreeMap;
use std::ops::Bound;

/// The replacements of one pass, keyed without `$( )`.
#[derive(Debug, Default)]
pub(crate) struct Replacements(BTreeMap<String, String>);

/// Why one pass over a text has no single result.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ambiguous {
    /// A key holding `)` that can match in the text.
    pub(crate) key: String,
}

impl Replacements {
    pub(crate) fn insert(&mut self, key: String, value: String) {
        self.0.insert(key, value);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `text` after this pass.
    pub(crate) fn apply(&self, text: &str) -> Result<String, Ambiguous> {
        self.apply_with(text, |_| None)
    }

    /// `text` after this pass, where `over` gives another value for some of its keys.
    pub(crate) fn apply_with<'v>(
        &'v self,
        text: &str,
        over: impl Fn(&str) -> Option<&'v str>,
    ) -> Result<String, Ambiguous> {
        replace_once(text, |key| {
            if let Some(longer) = self.longer_than(key) {
                return Err(Ambiguous {
                    key: longer.to_string(),
                });
            }
            Ok(self.get(key).map(|value| over(key).unwrap_or(value)))
        })
    }

    /// A key that starts with `key` and a `)`: the first of them in order, if any.
    fn longer_than(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key})");
        self.0
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .next()
            .map(|(longer, _)| longer.as_str())
            .filter(|longer| longer.starts_with(&prefix))
    }
}

impl<const N: usize> From<[(String, String); N]> for Replacements {
    fn from(pairs: [(String, String); N]) -> Self {
        Replacements(BTreeMap::from(pairs))
    }
}

impl FromIterator<(String, String)> for Replacements {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Replacements(pairs.into_iter().collect())
    }
}

/// `text` with every `$(key)` that `lookup` knows replaced, in one scan as `strings.Replacer` makes it: an
/// unknown reference stays, and the scan goes on inside it (`$($(params.a))` has `$(params.a)` replaced).
/// `key` is what lies between `$(` and the first `)` after it.
pub(crate) fn replace_once<'v, E>(
    text: &str,
    lookup: impl Fn(&str) -> Result<Option<&'v str>, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Where the next `)` is, from the start of `rest`: found once for all the `$(` before it, so that a
    // text of many `$(` and no `)` is scanned once.
    let mut close: Option<usize> = None;
    while let Some(start) = rest.find("$(") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let end = match close {
            Some(at) if at >= start => Some(at - start),
            _ => from.find(')'),
        };
        close = end.map(|end| end + start);
        let found = match end {
            Some(end) => lookup(from.get(2..end).unwrap_or_default())?.map(|value| (value, end)),
            None => None,
        };
        match found {
            Some((value, end)) => {
                out.push_str(value);
                rest = from.get(end + 1..).unwrap_or_default();
                close = None;
            }
            None if end.is_none() => {
                // No `)` is left: no key can match any more.
                out.push_str(from);
                rest = "";
            }
            None => {
                out.push_str("$(");
                rest = from.get(2..).unwrap_or_default();
                close = close.map(|at| at - (start + 2));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(pairs: &[(&str, &str)]) -> Replacements {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[rstest::rstest]
    #[case(&[("params.a", "x")], "$(params.a)-$(params.a)", Ok("x-x"))]
    #[case(&[("params.a", "x")], "$(params.b)$(params.a)", Ok("$(params.b)x"))]
    #[case(&[("params.a", "x")], "$($(params.a))", Ok("$(x)"))]
    #[case(&[("params.a", "$(params.a)")], "$(params.a)", Ok("$(params.a)"))]
    #[case(&[("params.a", "x")], "$(params.a", Ok("$(params.a"))]
    // A key holding `$(` but no `)` matches where the first `)` says, as in Tekton.
    #[case(&[("params.o.k$(params.a", "y"), ("params.a", "x")], "$(params.o.k$(params.a)", Ok("y"))]
    // Both match at one position: Tekton takes whichever its map gives first.
    #[case(&[("params.o.a", "1"), ("params.o.a)$(params.o.b", "2")], "$(params.o.a)$(params.o.b)", Err("params.o.a)$(params.o.b"))]
    // Only the longer one matches: Tekton takes it, where the first `)` names no key.
    #[case(&[("params.o.a)b", "2")], "$(params.o.a)b)", Err("params.o.a)b"))]
    // A key holding `)` that starts like the reference is enough: telling whether it matches would
    // take a scan of the keys for every reference.
    #[case(&[("params.o.a", "1"), ("params.o.a)b", "2")], "$(params.o.a)c)", Err("params.o.a)b"))]
    #[case(&[("params.o.a", "1"), ("params.o.ab)", "2")], "$(params.o.a)", Ok("1"))]
    // Many `$(` before one `)`: each opening is tried up to that `)`, the leftmost match first.
    #[case(&[("params.a", "x"), ("$(params.a", "y")], "$($($(params.a)$(", Ok("$(y$("))]
    #[case(&[("params.a", "x")], "$($(params.a$(", Ok("$($(params.a$("))]
    fn one_pass_is_one_scan(
        #[case] pairs: &[(&str, &str)],
        #[case] text: &str,
        #[case] expected: Result<&str, &str>,
    ) {
        let expected = expected.map(str::to_string).map_err(|key| Ambiguous {
            key: key.to_string(),
        });
        assert_eq!(pass(pairs).apply(text), expected);
    }
}
