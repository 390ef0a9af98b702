//! Reading JSON text where it lies: where a value ends, what a key says, and one walk over a document
//! that finds the members on some paths ([`Keys`], [`walk_object`]). `json_edit` finds the places it
//! edits with these, without reading the document into a tree.
//!
//! The text is JSON that serde_json read before; these functions still check every step and answer
//! `None` rather than trust it.

use std::ops::Range;

/// The keys on the edits' paths, as a tree: what the walk looks into, and what it found there.
#[derive(Default)]
pub(super) struct Keys(pub(super) Vec<Key>);

pub(super) struct Key {
    pub(super) name: String,
    /// Whether an edit wants the elements of the array here.
    pub(super) elements: bool,
    pub(super) below: Vec<Key>,
    pub(super) found: Option<Found>,
}

/// The last member of an object with a key (the one a reader keeps), as the walk found it.
pub(super) struct Found {
    pub(super) value: Range<usize>,
    /// What goes when the member is removed: its separating comma with it.
    pub(super) cut: Range<usize>,
    /// How many members of the object have the key.
    pub(super) count: usize,
    /// The spans of the elements, if the value is an array and an edit wants them.
    pub(super) elements: Vec<Range<usize>>,
}

impl Keys {
    /// Adds the keys of `path`; `elements` if the edit there wants the elements of an array.
    pub(super) fn add(&mut self, path: &[String], elements: bool) {
        let mut level = &mut self.0;
        for (depth, name) in path.iter().enumerate() {
            let i = match level.iter().position(|key| key.name == *name) {
                Some(i) => i,
                None => {
                    level.push(Key {
                        name: name.clone(),
                        elements: false,
                        below: Vec::new(),
                        found: None,
                    });
                    level.len() - 1
                }
            };
            let Some(key) = level.get_mut(i) else {
                return;
            };
            if depth + 1 == path.len() && elements {
                key.elements = true;
            }
            level = &mut key.below;
        }
    }

    /// The object that the keys `parents` lead to from the root, with the keys found in it: `None` if
    /// one of them is missing or not an object.
    pub(super) fn object_at<'k>(
        &'k self,
        bytes: &[u8],
        root: &Range<usize>,
        parents: &[String],
    ) -> Option<(Range<usize>, &'k [Key])> {
        let mut object = root.clone();
        let mut level = self.0.as_slice();
        for name in parents {
            let key = level.iter().find(|key| key.name == *name)?;
            object = key.found.as_ref()?.value.clone();
            if !is_object(bytes, &object) {
                return None;
            }
            level = &key.below;
        }
        Some((object, level))
    }
}

/// Walks the object that starts at `start`, looking into the members `keys` name and recording what it
/// finds there; returns where the object ends.
pub(super) fn walk_object(bytes: &[u8], start: usize, keys: &mut [Key]) -> Option<usize> {
    let mut i = skip_space(bytes, start + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    let mut previous_end: Option<usize> = None;
    // The first member's cut runs to the next key, which is not read yet.
    let mut cut_to_next: Option<usize> = None;
    loop {
        let key_end = string_end(bytes, i)?;
        if let Some(k) = cut_to_next.take()
            && let Some(found) = keys.get_mut(k).and_then(|key| key.found.as_mut())
        {
            found.cut.end = i;
        }
        let colon = skip_space(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value_start = skip_space(bytes, colon + 1);
        let wanted = keys
            .iter()
            .position(|key| key_is(bytes, i..key_end, &key.name));
        let end = match wanted.and_then(|k| keys.get_mut(k)) {
            None => value_end(bytes, value_start)?,
            Some(key) => {
                let count = key.found.as_ref().map_or(0, |found| found.count) + 1;
                forget(&mut key.below);
                let mut elements = Vec::new();
                let end = match bytes.get(value_start) {
                    Some(b'{') if !key.below.is_empty() => {
                        walk_object(bytes, value_start, &mut key.below)?
                    }
                    Some(b'[') if key.elements => {
                        let (spans, end) = walk_array(bytes, value_start)?;
                        elements = spans;
                        end
                    }
                    _ => value_end(bytes, value_start)?,
                };
                let cut = match previous_end {
                    Some(previous) => previous..end,
                    None => i..end,
                };
                key.found = Some(Found {
                    value: value_start..end,
                    cut,
                    count,
                    elements,
                });
                end
            }
        };
        if previous_end.is_none() {
            cut_to_next = wanted;
        }
        previous_end = Some(end);
        i = skip_space(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            Some(b'}') => return Some(i + 1),
            _ => return None,
        }
    }
}

/// What was found below a key that occurs again: the later member is the one a reader keeps.
fn forget(keys: &mut [Key]) {
    for key in keys {
        key.found = None;
        forget(&mut key.below);
    }
}

/// The spans of the elements of the array that starts at `start`, and where it ends.
fn walk_array(bytes: &[u8], start: usize) -> Option<(Vec<Range<usize>>, usize)> {
    let mut found = Vec::new();
    let mut i = skip_space(bytes, start + 1);
    if bytes.get(i) == Some(&b']') {
        return Some((found, i + 1));
    }
    loop {
        let end = value_end(bytes, i)?;
        found.push(i..end);
        i = skip_space(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            Some(b']') => return Some((found, i + 1)),
            _ => return None,
        }
    }
}

pub(super) fn is_object(bytes: &[u8], span: &Range<usize>) -> bool {
    bytes.get(span.start) == Some(&b'{')
}

pub(super) fn is_array(bytes: &[u8], span: &Range<usize>) -> bool {
    bytes.get(span.start) == Some(&b'[')
}

/// Whether the string at `span` (quotes included) is `key`, once unescaped.
fn key_is(bytes: &[u8], span: Range<usize>, key: &str) -> bool {
    let Some(quoted) = bytes.get(span) else {
        return false;
    };
    match quoted.get(1..quoted.len().saturating_sub(1)) {
        Some(raw) if !raw.contains(&b'\\') => raw == key.as_bytes(),
        _ => serde_json::from_slice::<String>(quoted).is_ok_and(|unescaped| unescaped == key),
    }
}

pub(super) fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Where the string that starts at `i` ends (past its closing quote). Strings (scripts, arguments,
/// environment values, and every key) are most of a Pod's text, so they are read eight bytes at a time,
/// going straight to the first quote or backslash among them.
fn string_end(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        if let Some(word) = bytes
            .get(j..j + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            let word = u64::from_le_bytes(word);
            let found = has_byte(word, b'"') | has_byte(word, b'\\');
            if found == 0 {
                j += 8;
                continue;
            }
            // The lowest flagged byte is the first match (the test can flag bytes above a match too).
            j += (found.trailing_zeros() / 8) as usize;
        }
        match bytes.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// Non-zero if one of the eight bytes of `word` is `byte` (the classic "has zero byte" test on
/// `word ^ byte`).
const fn has_byte(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// Where the value that starts at `i` ends.
fn value_end(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'"' => string_end(bytes, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match bytes.get(j)? {
                    b'"' => {
                        j = string_end(bytes, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let rest = bytes.get(i..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            (len > 0).then_some(i + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_string_ends_where_serde_json_ends_it(text in "[a-z\"\\\\/ é\u{1}]{0,40}", after in "[,}\\]]") {
            let quoted = serde_json::to_string(&text).expect("serializes");
            let document = format!("{quoted}{after}\"x\"");
            prop_assert_eq!(string_end(document.as_bytes(), 0), Some(quoted.len()));
            prop_assert_eq!(value_end(document.as_bytes(), 0), Some(quoted.len()));
        }
    }
}
