//! YAML 1.2 scalars under the core schema, as JSON values: what a plain `12`, `true`, `~` or `0x1F` is,
//! and which tags (`!!str`, `!!int`...) a declaration may use. YAML 1.1's `yes`/`no`/`on` and sexagesimal
//! numbers are strings here, as in every YAML 1.2 reader.

use std::borrow::Cow;

use granit_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

/// The core-schema tag prefix that `!!` stands for.
pub(super) const CORE: &str = "tag:yaml.org,2002:";

/// Why a tag is refused, naming it as it was written.
pub(super) fn unsupported(tag: &Tag) -> String {
    let shown = if tag.handle() == CORE {
        format!("!!{}", tag.suffix())
    } else {
        format!("{}{}", tag.handle(), tag.suffix())
    };
    format!("the YAML tag {shown} is not supported here; write the value without it")
}

/// A scalar's value under the YAML 1.2 core schema: a quoted or block scalar is a string; a plain one is
/// null, a boolean, an integer or a float when it is spelt as one, and a string otherwise. A core tag
/// (`!!str`, `!!int`...) decides instead.
/// The text is taken whole so that a string, by far the most common scalar, is moved rather than copied.
pub(super) fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value, String> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            plain(text)
        } else {
            Value::String(text.into_owned())
        });
    };
    if tag.handle() != CORE {
        return Err(unsupported(tag));
    }
    if tag.suffix() == "str" {
        return Ok(Value::String(text.into_owned()));
    }
    let resolved = plain(Cow::Borrowed(&text));
    let fits = match tag.suffix() {
        "null" => resolved.is_null(),
        "bool" => resolved.is_boolean(),
        "int" => resolved.is_i64() || resolved.is_u64(),
        "float" => resolved.is_number(),
        _ => return Err(unsupported(tag)),
    };
    if fits {
        Ok(resolved)
    } else {
        Err(format!("{text:?} is not a valid !!{}", tag.suffix()))
    }
}

fn plain(text: Cow<'_, str>) -> Value {
    // Every null, boolean and number of the core schema starts with one of these: anything else is a
    // string without trying the number grammars.
    if !text.starts_with(|c: char| c.is_ascii_digit() || "+-.~nNtTfF".contains(c))
        && !text.is_empty()
    {
        return Value::String(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    integer(&text)
        .or_else(|| float(&text))
        .unwrap_or_else(|| Value::String(text.into_owned()))
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`: one sign at most, and none before a radix prefix.
fn integer(text: &str) -> Option<Value> {
    let (radix, digits, unsigned) = match (text.strip_prefix("0o"), text.strip_prefix("0x")) {
        (Some(octal), _) => (8, octal, octal),
        (_, Some(hex)) => (16, hex, hex),
        _ => {
            let digits = text.strip_prefix('+').unwrap_or(text);
            (10, digits, text.strip_prefix(['-', '+']).unwrap_or(text))
        }
    };
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match i64::from_str_radix(digits, radix) {
        Ok(n) => Some(Value::Number(n.into())),
        Err(_) => u64::from_str_radix(digits, radix)
            .ok()
            .map(|n| Value::Number(n.into()))
            .or_else(|| float(digits)),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`. Infinities and NaN have no JSON form: they stay
/// strings, which every numeric field then refuses.
fn float(text: &str) -> Option<Value> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let valid = digits(whole)
        && digits(fraction)
        && (!whole.is_empty() || !fraction.is_empty())
        && exponent.is_none_or(|e| !e.is_empty() && digits(e));
    if !valid {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_saphyr::options::NonFiniteFloatPolicy;

    /// serde-saphyr set to the YAML 1.2 core schema as far as its options go, on `text` as a plain scalar.
    fn reference(text: &str) -> Option<Value> {
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        options.underscored_numbers_as_strings = true;
        options.non_finite_float_policy = NonFiniteFloatPolicy::AsString;
        // As a mapping's value, where a declaration's scalars are: alone, `...` or `---` would be a
        // document marker, and `- ` a sequence.
        let document = format!("v: {text}");
        let mut parsed = serde_saphyr::from_str_with_options::<Value>(&document, options).ok()?;
        parsed.get_mut("v").map(Value::take)
    }

    /// Where the policy reads a plain scalar otherwise than serde-saphyr, on purpose: each is the YAML 1.2
    /// core schema (yaml.org/spec/1.2.2/#1032-tag-resolution), which serde-saphyr's options cannot ask for.
    fn deliberate(text: &str, theirs: &Value) -> Option<&'static str> {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        if unsigned.starts_with("0b") {
            Some("0b is YAML 1.1's binary: a string in the core schema")
        } else if unsigned != text && (unsigned.starts_with("0x") || unsigned.starts_with("0o")) {
            Some("the core schema has no sign before 0x or 0o")
        } else if unsigned.len() > 1
            && unsigned.starts_with('0')
            && unsigned.bytes().all(|b| b.is_ascii_digit())
        {
            Some("leading zeros: an integer in the core schema, a float in serde-saphyr")
        } else if [".inf", "-.inf", ".nan"].contains(&theirs.as_str().unwrap_or_default()) {
            Some(
                "a non-finite float stays the string as written; serde-saphyr spells it its own way",
            )
        } else {
            None
        }
    }

    #[rstest::rstest]
    #[case("+-1", json!("+-1"))]
    #[case("-+1", json!("-+1"))]
    #[case("+12", json!(12))]
    #[case("-0x1F", json!("-0x1F"))]
    #[case("0x1F", json!(31))]
    #[case("0o17", json!(15))]
    #[case("017", json!(17))]
    #[case("1_000", json!("1_000"))]
    #[case(".inf", json!(".inf"))]
    #[case("1e400", json!("1e400"))]
    #[case("yes", json!("yes"))]
    #[case("tRUE", json!("tRUE"))]
    #[case("~", json!(null))]
    fn plain_scalars_follow_the_core_schema(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(plain(Cow::Borrowed(text)), expected);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        /// Plain scalars made of what numbers, booleans and nulls are spelt with read as serde-saphyr reads
        /// them, but for the listed deliberate differences.
        #[test]
        fn plain_scalars_read_as_serde_saphyr_reads_them(text in prop_oneof![
            "[-+]{0,2}(0[xXoObB])?[0-9a-fA-F_]{0,4}([.][0-9]{0,3})?([eE][-+]{0,2}[0-9]{0,3})?",
            "[.]?(nan|NaN|NAN|inf|Inf|INF|null|Null|NULL|nULL|true|True|TRUE|tRUE|false|FALSE|yes|no|on|off|~)",
            "[0-9+.eExXoObB_a-fnultrsiNTF~-]{1,8}",
        ]) {
            let ours = plain(Cow::Borrowed(&text));
            if let Some(theirs) = reference(&text).filter(|v| !v.is_array() && !v.is_object())
                && deliberate(&text, &theirs).is_none()
            {
                prop_assert_eq!(ours, theirs, "{:?}", text);
            }
        }
    }

    use serde_json::json;
}
