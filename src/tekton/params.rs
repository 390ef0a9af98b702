//! Tekton's params as its substitution sees them: the values `ParamValue` reads from JSON, and the keys
//! `getTaskParameters` (`pkg/reconciler/taskrun/resources/apply.go`) makes of them, the Task's defaults
//! first and the TaskRun's values over them.

use std::borrow::Cow;

use serde_json::Value;

use super::replacements::Replacements;

/// The longest value the policy works out for a default that references params. Tekton's second pass
/// replaces every reference in the whole text, so a default of a few kilobytes that names a long param
/// thousands of times (or itself, which doubles it at each name) makes a value larger than any object the
/// API server stores; a param past this stays unresolved, and the fields that use it are refused.
const MAX_RESOLVED: usize = 256 * 1024;

/// The most text the policy makes for all defaults that reference params together: a Task of a thousand
/// such defaults, each just under [`MAX_RESOLVED`], would otherwise make a quarter of a gigabyte (four
/// times over, once per key); the defaults past it stay unresolved.
const MAX_RESOLVED_TOTAL: usize = 1024 * 1024;

/// The most references of a default to its own param that the policy follows: each makes the whole text
/// again; past them the param stays unresolved.
const MAX_SELF_READS: usize = 16;

/// A param's value as Tekton reads it (`ParamValue.UnmarshalJSON` in `pkg/apis/pipeline/v1/param_types.go`,
/// with Go's decoder): a list of strings, a mapping of strings (where a `null` is `""`), or else a string,
/// which for other JSON is its text; `null` or no value at all is the empty string.
enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(Vec<(String, String)>),
}

impl ParamValue {
    fn of(value: Option<&Value>) -> ParamValue {
        let Some(value) = value else {
            return ParamValue::String(String::new());
        };
        let decoded = match value {
            Value::Array(items) => items
                .iter()
                .map(go_string)
                .collect::<Option<_>>()
                .map(ParamValue::Array),
            Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| Some((k.clone(), go_string(v)?)))
                .collect::<Option<_>>()
                .map(ParamValue::Object),
            _ => go_string(value).map(ParamValue::String),
        };
        decoded.unwrap_or_else(|| ParamValue::String(value.to_string()))
    }
}

/// A JSON value decoded into a Go `string`: a `null` leaves it empty, anything but a string fails.
fn go_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// `getTaskParameters`: the Task's defaults (`replacementsFromDefaultParams`: those without a
/// `$(params.` reference first, then those with one, each resolved against what is known by then, as
/// Tekton resolves them), then every TaskRun param over them, declared or not, with or without a value.
pub(super) fn params(defaults: &[Value], given: &[Value]) -> Replacements {
    let mut pass = Replacements::default();
    let name = |param: &Value| {
        param
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // A `null` default is a nil `*ParamValue`: no default.
    let defaults: Vec<(String, ParamValue)> = defaults
        .iter()
        .filter_map(|param| {
            let default = param.get("default").filter(|v| !v.is_null())?;
            Some((name(param)?, ParamValue::of(Some(default))))
        })
        .collect();
    let references = |value: &ParamValue| matches!(value, ParamValue::String(text) if text.contains("$(params."));
    for (name, value) in defaults.iter().filter(|(_, value)| !references(value)) {
        insert_param(&mut pass, name, value);
    }
    let mut made = 0usize;
    for (name, value) in &defaults {
        if made > MAX_RESOLVED_TOTAL {
            break;
        }
        if let ParamValue::String(text) = value
            && text.contains("$(params.")
            && let Some(resolved) = resolve_default(&pass, name, text)
        {
            made = made.saturating_add(resolved.len());
            insert_param(&mut pass, name, &ParamValue::String(resolved));
        }
    }
    for param in given {
        if let Some(name) = name(param) {
            insert_param(&mut pass, &name, &ParamValue::of(param.get("value")));
        }
    }
    pass
}

/// The second pass of `replacementsFromDefaultParams` for the default `text` of param `name`: for each
/// reference found, in order, whose param is known by then, the whole original text with that reference
/// replaced becomes the param's value, so the last one wins; a reference to the param itself reads the
/// value the one before made. `None` when nothing resolves, or a value would pass [`MAX_RESOLVED`].
fn resolve_default(pass: &Replacements, name: &str, text: &str) -> Option<String> {
    let own = format!("params.{name}");
    let mut current = Current::Known(pass.get(&own).map(str::to_string));
    let mut changed = false;
    let mut self_reads = 0;
    for reference in dot_param_references(text) {
        let key = reference
            .get(2..reference.len().saturating_sub(1))
            .unwrap_or_default();
        let value = if key == own {
            // Each read of itself makes the whole text again.
            self_reads += 1;
            if self_reads > MAX_SELF_READS {
                return None;
            }
            match std::mem::replace(&mut current, Current::Known(None)).made(text)? {
                Some(value) => Cow::Owned(value),
                None => continue,
            }
        } else {
            match pass.get(key) {
                Some(value) => Cow::Borrowed(value),
                None => continue,
            }
        };
        current = Current::Replace(reference, value);
        changed = true;
    }
    if !changed {
        return None;
    }
    current.made(text)?
}

/// The param's value while its default's references are worked through.
enum Current<'a> {
    /// As the pass had it before.
    Known(Option<String>),
    /// The default's text with this reference replaced by this value, made only when it is read.
    Replace(&'a str, Cow<'a, str>),
}

impl Current<'_> {
    /// The value, or `None` (outer) past [`MAX_RESOLVED`].
    fn made(self, text: &str) -> Option<Option<String>> {
        match self {
            Current::Known(value) => Some(value),
            Current::Replace(reference, value) => {
                let count = text.matches(reference).count();
                let grows = value.len().saturating_sub(reference.len());
                let size = text.len().saturating_add(count.saturating_mul(grows));
                (size <= MAX_RESOLVED).then(|| Some(text.replace(reference, &value)))
            }
        }
    }
}

/// The keys of one param (`replacementsFromParams`): `params.X`, `params["X"]`, `params['X']` and
/// `inputs.params.X`; with `[i]` for each element of an array; `params.X.key` for each key of an object.
fn insert_param(pass: &mut Replacements, name: &str, value: &ParamValue) {
    let patterns = [
        Some(format!("params.{name}")),
        go_quoted(name).map(|quoted| format!("params[{quoted}]")),
        Some(format!("params['{name}']")),
        Some(format!("inputs.params.{name}")),
    ];
    let patterns = patterns.into_iter().flatten();
    match value {
        ParamValue::String(text) => {
            for key in patterns {
                pass.insert(key, text.clone());
            }
        }
        ParamValue::Array(items) => {
            for key in patterns {
                for (i, item) in items.iter().enumerate() {
                    pass.insert(format!("{key}[{i}]"), item.clone());
                }
            }
        }
        ParamValue::Object(fields) => {
            for (key, item) in fields {
                pass.insert(format!("params.{name}.{key}"), item.clone());
            }
        }
    }
}

/// `text` as Go's `%q` writes it, for text of printable ASCII, where Rust's `{:?}` writes the same; `None`
/// for other text, whose key the policy then does not know (a variable that uses it is refused, not
/// misjudged).
pub(super) fn go_quoted(text: &str) -> Option<String> {
    text.bytes()
        .all(|b| (b' '..=b'~').contains(&b))
        .then(|| format!("{text:?}"))
}

/// The `$(params.<name>)` references of `text` that the second pass looks up: what
/// `substitution.ExtractVariableExpressions(text, "params")` finds with the pattern
/// `\$\(params(\.(.*?(\[\*\])?)|\["(.*?(\[\*\])?)"\]|\['(.*?(\[\*\])?)'\])\)`, in the dot form: up to
/// the first `)`. The quoted forms are matched too (up to the first `"])` or `'])`), which hides the
/// references inside them, but never looked up, since Tekton trims only `$(params.` from a match; and no
/// match spans a line break (Go's `.` does not match one).
fn dot_param_references(text: &str) -> Vec<&str> {
    const OPEN: &str = "$(params";
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = text.get(at..).and_then(|rest| rest.find(OPEN)) {
        let start = at + start;
        let after = text.get(start + OPEN.len()..).unwrap_or_default();
        let (skip, close, looked_up) = if after.starts_with('.') {
            (1, ")", true)
        } else if after.starts_with("[\"") {
            (2, "\"])", false)
        } else if after.starts_with("['") {
            (2, "'])", false)
        } else {
            (0, "", false)
        };
        let body = after.get(skip..).unwrap_or_default();
        let end = body.find(close).filter(|end| {
            !close.is_empty() && !body.get(..*end).unwrap_or_default().contains('\n')
        });
        match end {
            Some(end) => {
                let length = OPEN.len() + skip + end + close.len();
                if looked_up {
                    found.push(text.get(start..start + length).unwrap_or_default());
                }
                at = start + length;
            }
            None => at = start + 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[rstest::rstest]
    #[case("$(params.a)-$(params.b)", &["$(params.a)", "$(params.b)"])]
    #[case("$(params.a)$(params.a)", &["$(params.a)", "$(params.a)"])]
    #[case("$(params.$(params.b)", &["$(params.$(params.b)"])]
    #[case("$(params.a\n$(params.b)", &["$(params.b)"])]
    #[case("$(params[\"x)$(params.b)\"])$(params.c)", &["$(params.c)"])]
    #[case("$(params['x'])$(params.c)", &["$(params.c)"])]
    #[case("$(params[\"x)$(params.b)", &["$(params.b)"])]
    #[case("$(paramsx)$(params.arr[0])", &["$(params.arr[0])"])]
    fn references_are_found_as_tekton_s_pattern_finds_them(
        #[case] text: &str,
        #[case] expected: &[&str],
    ) {
        assert_eq!(dot_param_references(text), expected);
    }

    fn value_of(pass: &Replacements, key: &str) -> Option<String> {
        pass.get(key).map(str::to_string)
    }

    /// A thousand defaults that each make a value just under the cap of one stop being worked out once
    /// together they pass the cap of all: the rest stay unresolved.
    #[test]
    fn all_defaults_together_are_bounded() {
        let mut defaults = vec![json!({"name": "big", "default": "x".repeat(2500)})];
        for i in 0..999 {
            defaults.push(json!({"name": format!("p{i}"), "default": "$(params.big)".repeat(100)}));
        }
        let pass = params(&defaults, &[]);
        let resolved = (0..999)
            .filter(|i| pass.get(&format!("params.p{i}")).is_some())
            .count();
        // Each is 250,000 bytes: the first five pass the 1 MiB cap, and the sixth is not made.
        assert_eq!(resolved, 5);
        assert_eq!(value_of(&pass, "params.p0").map(|v| v.len()), Some(250_000));
    }

    #[rstest::rstest]
    // Go's decoder makes a `null` in a list or a mapping an empty string, and keeps the list.
    #[case(json!(["evil.example.com/miner:1", null]), "params.p[0]", Some("evil.example.com/miner:1"))]
    #[case(json!(["a", null]), "params.p[1]", Some(""))]
    #[case(json!({"k": null}), "params.p.k", Some(""))]
    // Anything else that is not a list or mapping of strings is read as its text.
    #[case(json!(["a", 1]), "params.p", Some("[\"a\",1]"))]
    #[case(json!(5), "params.p", Some("5"))]
    #[case(json!(null), "params.p", Some(""))]
    fn values_are_decoded_as_go_decodes_them(
        #[case] value: Value,
        #[case] key: &str,
        #[case] expected: Option<&str>,
    ) {
        let pass = params(&[], &[json!({"name": "p", "value": value})]);
        assert_eq!(value_of(&pass, key), expected.map(str::to_string));
    }

    #[test]
    fn a_param_without_a_value_is_empty_and_a_null_default_is_none() {
        let defaults = [
            json!({"name": "p", "default": "x"}),
            json!({"name": "q", "default": null}),
        ];
        let pass = params(&defaults, &[json!({"name": "p"})]);
        assert_eq!(value_of(&pass, "params.p"), Some(String::new()));
        assert_eq!(value_of(&pass, "params.q"), None);
    }

    #[rstest::rstest]
    #[case("$(params.a)/$(params.b)", Some("$(params.a)/2"))]
    #[case("$(params.a)/$(params.nope)", Some("1/$(params.nope)"))]
    #[case("$(params.nope)", None)]
    // A reference to the param itself reads what the reference before it made.
    #[case("$(params.a)-$(params.s)", Some("$(params.a)-1-$(params.s)"))]
    #[case("$(params.s)-$(params.a)", Some("$(params.s)-1"))]
    fn a_default_s_references_resolve_as_the_second_pass_resolves_them(
        #[case] default: &str,
        #[case] expected: Option<&str>,
    ) {
        let defaults = [
            json!({"name": "a", "default": "1"}),
            json!({"name": "b", "default": "2"}),
            json!({"name": "s", "default": default}),
        ];
        let pass = params(&defaults, &[]);
        assert_eq!(value_of(&pass, "params.s"), expected.map(str::to_string));
    }

    #[test]
    fn a_default_that_reads_itself_often_stops_unresolved() {
        let default = "$(params.e)$(params.s)".repeat(MAX_SELF_READS + 1);
        let defaults = [
            json!({"name": "e", "default": ""}),
            json!({"name": "s", "default": default}),
        ];
        assert_eq!(value_of(&params(&defaults, &[]), "params.s"), None);
        let default = "$(params.e)$(params.s)".repeat(MAX_SELF_READS);
        let defaults = [
            json!({"name": "e", "default": ""}),
            json!({"name": "s", "default": default}),
        ];
        assert!(value_of(&params(&defaults, &[]), "params.s").is_some());
    }

    #[test]
    fn a_default_that_doubles_at_each_reference_to_itself_stops_unresolved() {
        let default = format!("$(params.a){}", "$(params.s)".repeat(64));
        let defaults = [
            json!({"name": "a", "default": "1"}),
            json!({"name": "s", "default": default}),
        ];
        let pass = params(&defaults, &[]);
        assert_eq!(value_of(&pass, "params.s"), None);
        assert_eq!(value_of(&pass, "params.a"), Some("1".to_string()));
    }
}
