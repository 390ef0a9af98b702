//! Changes to a JSON document by path, made to the text it came as.
//!
//! A mutating policy answers with the whole object, which policy-server diffs into a JSONPatch. Writing
//! the object out again from a tree costs as much as everything else the policy does with a Pod, and
//! changes nothing the policy means to change. So the policy says what it changes ([`Edit`]) and the
//! changes are made to the request's own text: everything else stays as the API server sent it, byte for
//! byte.
//!
//! The text was read before (it is valid JSON). One walk over it finds where every edit goes: it looks
//! into the members on the edits' paths and skips over everything else. The edits are then written in one
//! pass. Should two edits touch the same place (one inside what another replaces, two members added to the
//! same object...), their order matters, and they are made one after the other instead. What an edit
//! means is what `apply_to_value` makes of it on a tree (in the tests), and property tests hold the text
//! to that.

use std::ops::Range;

use serde_json::Value;

use super::json_text::{Keys, is_array, is_object, skip_space, walk_object};

/// One change, at a path of object keys from the document's root. A path has at least one key: an edit
/// with none changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// The member at the path becomes the value; the objects on the way are made (or replace what is
    /// there, if it is not an object).
    Set(Vec<String>, Value),
    /// The member at the path goes, if it is there.
    Remove(Vec<String>),
    /// Element `index` of the array at the path becomes the value, if it has one.
    Replace(Vec<String>, usize, Value),
    /// The values go before element `index` of the array at the path (at its end, for its length or
    /// more); a missing member, or one that is not an array, becomes an array of them. Nothing happens if
    /// the objects on the way are not there.
    Insert(Vec<String>, usize, Vec<Value>),
}

impl Edit {
    fn path(&self) -> &[String] {
        match self {
            Edit::Set(path, _)
            | Edit::Remove(path)
            | Edit::Replace(path, ..)
            | Edit::Insert(path, ..) => path,
        }
    }
}

/// A path from its keys.
pub fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| (*key).to_string()).collect()
}

/// The document `text`, which must be JSON (it was read before), with `edits` made in order. `None` only
/// if the text is not JSON after all.
pub fn apply(text: &str, edits: &[Edit]) -> Option<String> {
    if let Some(edited) = by_text(text, edits) {
        return Some(edited);
    }
    // Edits that meet are made one after the other, each seeing the last; the text is first written out
    // again from its tree, which keeps no key twice (the one thing that stops a single edit).
    let document: Value = serde_json::from_str(text).ok()?;
    let mut text = serde_json::to_string(&document).ok()?;
    for edit in edits {
        text = by_text(&text, std::slice::from_ref(edit))?;
    }
    Some(text)
}

/// The edits made to the text: `None` when they touch the same place, or the text is not what the walk
/// expects.
pub(super) fn by_text(text: &str, edits: &[Edit]) -> Option<String> {
    let bytes = text.as_bytes();
    let start = skip_space(bytes, 0);
    let text = text.get(start..)?.trim_end();
    let bytes = text.as_bytes();
    let mut wanted = Keys::default();
    for edit in edits {
        wanted.add(
            edit.path(),
            matches!(edit, Edit::Replace(..) | Edit::Insert(..)),
        );
    }
    // Only an object's members are edited: any other document stays as it is.
    if !is_object(bytes, &(0..bytes.len())) {
        return Some(text.to_string());
    }
    let root = 0..walk_object(bytes, 0, &mut wanted.0)?;
    if root.end != bytes.len() {
        return None;
    }
    let mut splices: Vec<Splice> = Vec::new();
    let mut reaches: Vec<(&Edit, &[String])> = Vec::new();
    for edit in edits {
        // An edit that goes into what an earlier one made, removed or replaced would see it changed.
        if reaches
            .iter()
            .any(|(earlier, reach)| edit.path().starts_with(reach) && !side_by_side(earlier, edit))
        {
            return None;
        }
        let Some((splice, reach)) = splice(bytes, &root, &wanted, edit)? else {
            continue;
        };
        // Two edits at one place, or adding and removing members of one object, would see each other.
        let meet = |other: &Splice| {
            overlap(&splice.at, &other.at)
                || splice.members_of.is_some() && splice.members_of == other.members_of
        };
        if splices.iter().any(meet) {
            return None;
        }
        // An insertion where a replaced span starts goes before it, where it ends after it.
        let key = |s: &Splice| (s.at.start, s.at.end);
        let at = splices.partition_point(|other| key(other) < key(&splice));
        splices.insert(at, splice);
        reaches.push((edit, reach));
    }
    let added: usize = splices.iter().map(|s| s.with.len()).sum();
    let mut out = String::with_capacity(text.len() + added);
    let mut from = 0;
    for splice in &splices {
        out.push_str(text.get(from..splice.at.start)?);
        out.push_str(&splice.with);
        from = splice.at.end;
    }
    out.push_str(text.get(from..)?);
    Some(out)
}

/// Whether two spans of the text share a byte, or are one insertion point: an insertion at the edge of a
/// replaced span does not meet it.
fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => a.start == b.start,
        (true, false) => b.start < a.start && a.start < b.end,
        (false, true) => a.start < b.start && b.start < a.end,
        (false, false) => a.start < b.end && b.start < a.end,
    }
}

/// Whether `later` can be made without seeing `earlier`, though it edits the same member: replacing
/// elements of an array does not move them, so a later replacement or insertion finds them where they
/// were.
fn side_by_side(earlier: &Edit, later: &Edit) -> bool {
    matches!(earlier, Edit::Replace(..))
        && matches!(later, Edit::Replace(..) | Edit::Insert(..))
        && earlier.path() == later.path()
}

/// Text that replaces a span of the document (inserts, for an empty span).
struct Splice {
    at: Range<usize>,
    with: String,
    /// Where the object starts whose members it adds or removes: two such changes to one object must see
    /// each other (a member added first needs the comma of the one after it).
    members_of: Option<usize>,
}

/// Where `edit` goes in the object `root` and what it writes, with the member whose value it changes (its
/// path, or the start of it that the edit makes): `Some(None)` when it changes nothing, `None` when it
/// cannot be made to the text alone.
fn splice<'e>(
    bytes: &[u8],
    root: &Range<usize>,
    keys: &Keys,
    edit: &'e Edit,
) -> Option<Option<(Splice, &'e [String])>> {
    let path = edit.path();
    let Some((last, parents)) = path.split_last() else {
        return Some(None);
    };
    let write = |span: Range<usize>, with: String, reach: &'e [String]| {
        let splice = Splice {
            at: span,
            with,
            members_of: None,
        };
        Some(Some((splice, reach)))
    };
    if let Edit::Set(_, value) = edit {
        // As deep as the path goes through objects; the rest is made.
        let mut object = root.clone();
        let mut level = keys.0.as_slice();
        for (depth, name) in path.iter().enumerate() {
            let key = level.iter().find(|key| key.name == *name)?;
            let (reach, rest) = (path.get(..=depth)?, path.get(depth + 1..)?);
            let Some(found) = &key.found else {
                return write_member(bytes, &object, name, nested(rest, value)?, reach);
            };
            // The value there becomes `value`, or, if it is not an object, one that holds the rest.
            if rest.is_empty() || !is_object(bytes, &found.value) {
                return write(found.value.clone(), nested(rest, value)?, reach);
            }
            object = found.value.clone();
            level = &key.below;
        }
        return Some(None);
    }
    let Some((object, level)) = keys.object_at(bytes, root, parents) else {
        return Some(None);
    };
    let found = level
        .iter()
        .find(|key| key.name == *last)
        .and_then(|key| key.found.as_ref());
    match (edit, found) {
        (Edit::Set(..), _) | (Edit::Remove(_) | Edit::Replace(..), None) => Some(None),
        // A key given twice: removing the last would let the earlier one show through.
        (Edit::Remove(_), Some(found)) if found.count > 1 => None,
        (Edit::Remove(_), Some(found)) => {
            let splice = Splice {
                at: found.cut.clone(),
                with: String::new(),
                members_of: Some(object.start),
            };
            Some(Some((splice, path)))
        }
        (Edit::Replace(_, index, value), Some(found)) => match found.elements.get(*index) {
            Some(element) if is_array(bytes, &found.value) => {
                write(element.clone(), serde_json::to_string(value).ok()?, path)
            }
            _ => Some(None),
        },
        (Edit::Insert(_, index, values), found) => {
            let listed: Vec<String> = values
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()
                .ok()?;
            let joined = listed.join(",");
            let Some(found) = found else {
                return write_member(bytes, &object, last, format!("[{joined}]"), path);
            };
            if !is_array(bytes, &found.value) {
                return write(found.value.clone(), format!("[{joined}]"), path);
            }
            if values.is_empty() {
                return Some(None);
            }
            let (at, with) = match (found.elements.get(*index), found.elements.last()) {
                (Some(element), _) => (element.start..element.start, joined + ","),
                (None, Some(end)) => (end.end..end.end, format!(",{joined}")),
                (None, None) => (found.value.start + 1..found.value.end - 1, joined),
            };
            write(at, with, path)
        }
    }
}

/// `{"a":{"b":value}}` for the keys `[a, b]`, and the value itself for none.
fn nested(keys: &[String], value: &Value) -> Option<String> {
    let mut text = serde_json::to_string(value).ok()?;
    for key in keys.iter().rev() {
        text = format!("{{{}:{text}}}", serde_json::to_string(key).ok()?);
    }
    Some(text)
}

/// The member `"name":value` added first to the object at `span`.
fn write_member<'e>(
    bytes: &[u8],
    span: &Range<usize>,
    name: &str,
    value: String,
    reach: &'e [String],
) -> Option<Option<(Splice, &'e [String])>> {
    let open = span.start + 1;
    let member = format!("{}:{value}", serde_json::to_string(name).ok()?);
    // Into an empty object it replaces the space between the braces; else a comma follows it.
    let (at, with) = if bytes.get(skip_space(bytes, open)) == Some(&b'}') {
        (open..span.end - 1, member)
    } else {
        (open..open, member + ",")
    };
    let members_of = Some(span.start);
    Some(Some((
        Splice {
            at,
            with,
            members_of,
        },
        reach,
    )))
}

#[cfg(test)]
pub(crate) use super::json_edit_tests::apply_to_value;
