//! Takes the defaults out of `settings-schema.json` at build time, so that the schema stays their single
//! source and no admission request pays for parsing it.

// A build script that cannot read the schema must stop the build, and a panic is how it says so: the rule
// against panics protects the module at admission time, not its build.
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fmt::Write as _;

fn main() {
    println!("cargo::rerun-if-changed=settings-schema.json");
    let text =
        std::fs::read_to_string("settings-schema.json").expect("settings-schema.json is readable");
    let schema: serde_json::Value =
        serde_json::from_str(&text).expect("settings-schema.json is JSON");
    let properties = schema["properties"]
        .as_object()
        .expect("the schema has properties");
    // Every setting has a default, except a deprecated alias, which must stay unset unless given.
    let defaults: serde_json::Map<String, serde_json::Value> = properties
        .iter()
        .filter(|(_, property)| property.get("deprecated") != Some(&serde_json::Value::Bool(true)))
        .map(|(name, property)| {
            let default = property
                .get("default")
                .unwrap_or_else(|| panic!("setting {name} has no default"));
            (name.clone(), default.clone())
        })
        .collect();
    let prefix = defaults["annotationPrefix"]
        .as_str()
        .expect("annotationPrefix defaults to a string")
        .to_string();
    let mut out = String::new();
    writeln!(
        out,
        "/// Every setting's default, from settings-schema.json, as JSON."
    )
    .ok();
    writeln!(
        out,
        "pub const DEFAULTS: &str = {:?};",
        serde_json::Value::Object(defaults).to_string()
    )
    .ok();
    writeln!(
        out,
        "/// The default annotationPrefix, from settings-schema.json."
    )
    .ok();
    writeln!(
        out,
        "pub const DEFAULT_ANNOTATION_PREFIX: &str = {prefix:?};"
    )
    .ok();
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR"))
        .join("schema_defaults.rs");
    std::fs::write(path, out).expect("OUT_DIR is writable");
}
