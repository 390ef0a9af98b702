//! The layout of `src/` keeps the architecture that ARCHITECTURE.md describes: the folders form layers
//! whose arrows point one way (front end, admission, injection and validation, declarations, settings,
//! Tekton, support), no file depends on itself through others, and no file grows past the size a reader
//! takes in at once.
//!
//! The dependencies are read from the source text: every `crate::` path, every `super::` path, and in a
//! folder's `mod.rs` every path that starts with one of its own files. Test modules (everything after a
//! file's `#[cfg(test)]`) are left out: tests may reach for whatever they check.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level folders of `src/`, from the front end (`lib.rs`, layer 0) down. A file may depend on its
/// own folder and on folders of a higher number only; folders of the same number know nothing of each
/// other.
const LAYERS: [(&str, usize); 8] = [
    ("admission", 1),
    ("inject", 2),
    ("validation", 2),
    ("declaration", 3),
    ("settings", 4),
    ("tekton", 5),
    ("support", 6),
    ("", 0),
];

/// Files allowed past [`MAX_LINES`], each with the reason. None today.
const LONG_FILES: [(&str, &str); 0] = [];

/// The size of a file's code a reader takes in at once. Its tests, from the `#[cfg(test)] mod tests {`
/// that opens them on, are not counted: they belong beside the code, however long they grow.
const MAX_LINES: usize = 500;

/// The lines of `text` before its `#[cfg(test)] mod tests {`.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|pair| pair[0] == "#[cfg(test)]" && pair[1] == "mod tests {")
        .unwrap_or(lines.len())
}

/// A source file: its folder (`""` for `lib.rs`) and its name within it (`mod` for `mod.rs`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct File {
    folder: String,
    name: String,
}

impl File {
    fn of(path: &Path) -> File {
        let relative = path.strip_prefix("src").expect("under src");
        let parts: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [name] if name == "lib" => File::new("", "mod"),
            [folder, name] => File::new(folder, name),
            other => panic!("src/ holds folders one level deep, not {other:?}"),
        }
    }

    fn new(folder: &str, name: &str) -> File {
        File {
            folder: folder.to_string(),
            name: name.to_string(),
        }
    }

    fn layer(&self) -> usize {
        LAYERS
            .iter()
            .find(|(folder, _)| *folder == self.folder)
            .map(|(_, layer)| *layer)
            .unwrap_or_else(|| panic!("the folder src/{} has no layer in LAYERS", self.folder))
    }
}

impl std::fmt::Display for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.folder.as_str(), self.name.as_str()) {
            ("", _) => write!(f, "src/lib.rs"),
            (folder, name) => write!(f, "src/{folder}/{name}.rs"),
        }
    }
}

fn sources() -> BTreeMap<File, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![Path::new("src").to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable");
                found.insert(File::of(&path), text);
            }
        }
    }
    found
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow `at` in `text`: one (`x`), or each first segment of a group (`{x, y::z}`).
fn names_after(text: &str) -> Vec<String> {
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    if let Some(group) = text.strip_prefix('{') {
        let inner = &group[..group.find('}').unwrap_or(group.len())];
        inner
            .split(',')
            .map(|part| ident(part.trim()))
            .filter(|name| !name.is_empty())
            .collect()
    } else {
        vec![ident(text)]
    }
}

/// The files `file` depends on.
fn dependencies(file: &File, text: &str, files: &BTreeSet<File>) -> BTreeSet<File> {
    let mut code = code(text);
    if file.folder.is_empty() {
        // lib.rs's one inline module, the waPC front end, reaches the crate's folders through `super::`.
        code = code.replace("super::", "crate::");
    }
    let siblings = |name: &str| {
        let sibling = File::new(&file.folder, name);
        files.contains(&sibling).then_some(sibling)
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        for top in names_after(rest) {
            if LAYERS.iter().all(|(folder, _)| *folder != top) || top.is_empty() {
                continue; // an item of lib.rs itself, such as VERSION
            }
            let after = rest[top.len()..].strip_prefix("::").unwrap_or("");
            let inner = names_after(after);
            let target = inner
                .iter()
                .find_map(|name| {
                    let candidate = File::new(&top, name);
                    files.contains(&candidate).then_some(candidate)
                })
                .unwrap_or_else(|| File::new(&top, "mod"));
            found.insert(target);
        }
    }
    for (at, _) in code.match_indices("super::") {
        let rest = &code[at + "super::".len()..];
        for name in names_after(rest) {
            if file.name == "mod" {
                continue; // the crate root, seen from a top-level folder
            }
            found.insert(siblings(&name).unwrap_or_else(|| File::new(&file.folder, "mod")));
        }
    }
    if file.name == "mod" {
        for line in code.lines() {
            let line = line.trim_start();
            let path = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
                .or_else(|| line.strip_prefix("use "));
            if let Some(path) = path
                && let Some(child) = siblings(&names_after(path)[0])
            {
                found.insert(child);
            }
        }
    }
    found.remove(file);
    found
}

fn graph() -> BTreeMap<File, BTreeSet<File>> {
    let sources = sources();
    let files: BTreeSet<File> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(file, text)| (file.clone(), dependencies(file, text, &files)))
        .collect()
}

/// The dependencies that go against the layers.
fn against_the_layers(graph: &BTreeMap<File, BTreeSet<File>>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (file, targets) in graph {
        for target in targets {
            if target.folder != file.folder && target.layer() <= file.layer() {
                wrong.push(format!("{file} uses {target}"));
            }
        }
    }
    wrong
}

/// A circle of files that depend on each other, if there is one (depth-first search: reaching a file
/// that is still on the stack closes a circle).
fn circle(graph: &BTreeMap<File, BTreeSet<File>>) -> Option<Vec<String>> {
    fn visit<'a>(
        file: &'a File,
        graph: &'a BTreeMap<File, BTreeSet<File>>,
        stack: &mut Vec<&'a File>,
        done: &mut BTreeSet<&'a File>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|f| *f == file) {
            let mut circle: Vec<String> = stack[start..].iter().map(ToString::to_string).collect();
            circle.push(file.to_string());
            return Some(circle);
        }
        if done.contains(file) {
            return None;
        }
        stack.push(file);
        for target in graph.get(file).into_iter().flatten() {
            if let Some(circle) = visit(target, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(file);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|file| visit(file, graph, &mut Vec::new(), &mut done))
}

#[test]
fn arrows_point_down_the_layers() {
    let wrong = against_the_layers(&graph());
    assert!(
        wrong.is_empty(),
        "dependencies against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_depends_on_itself_through_others() {
    if let Some(circle) = circle(&graph()) {
        panic!("an import circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_checks_see_what_they_must() {
    // Checks that found no edges would pass any layout: they must read the real ones...
    let graph = graph();
    let deps = |folder: &str, name: &str| graph[&File::new(folder, name)].clone();
    assert!(deps("inject", "pod").contains(&File::new("inject", "workspaces")));
    assert!(deps("inject", "pod").contains(&File::new("inject", "mod")));
    assert!(deps("admission", "mod").contains(&File::new("admission", "envelope")));
    assert!(deps("settings", "load").contains(&File::new("tekton", "sidecar")));
    assert!(deps("", "mod").contains(&File::new("admission", "mod")));
    // ...and report an arrow up the layers, a link between peers, and a circle.
    let mut bad = graph.clone();
    let edge =
        |graph: &mut BTreeMap<File, BTreeSet<File>>, from: (&str, &str), to: (&str, &str)| {
            graph
                .entry(File::new(from.0, from.1))
                .or_default()
                .insert(File::new(to.0, to.1));
        };
    edge(&mut bad, ("support", "json"), ("admission", "mod"));
    edge(&mut bad, ("inject", "pod"), ("validation", "pipelinerun"));
    assert_eq!(
        against_the_layers(&bad),
        vec![
            "src/inject/pod.rs uses src/validation/pipelinerun.rs",
            "src/support/json.rs uses src/admission/mod.rs",
        ]
    );
    let mut circular = graph.clone();
    edge(&mut circular, ("inject", "workspaces"), ("inject", "pod"));
    assert_eq!(
        circle(&circular),
        Some(vec![
            "src/inject/pod.rs".to_string(),
            "src/inject/workspaces.rs".to_string(),
            "src/inject/pod.rs".to_string(),
        ])
    );
}

#[test]
fn every_file_fits_on_a_readers_screen_or_says_why() {
    let mut long = Vec::new();
    for (file, text) in sources() {
        let lines = code_lines(&text);
        let excused = LONG_FILES.iter().any(|(name, _)| *name == file.to_string());
        if lines > MAX_LINES && !excused {
            long.push(format!("{file}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The longest function of the module's code a reader takes in at once.
const MAX_FUNCTION_LINES: usize = 100;

/// The functions of `text`'s code (before its tests), each with its length in lines: from a line that
/// opens one (`fn`, after any `pub`) to the first line after it that is its indentation and `}`.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().take(code_lines(text)).collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = ["pub(crate) fn ", "pub(super) fn ", "pub fn ", "fn "]
            .iter()
            .find_map(|start| trimmed.strip_prefix(start));
        let Some(signature) = signature else {
            continue;
        };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            found.push((name, end + 2));
        }
    }
    found
}

#[test]
fn every_function_fits_on_a_readers_screen() {
    let mut long = Vec::new();
    for (file, text) in sources() {
        for (name, lines) in functions(&text) {
            if lines > MAX_FUNCTION_LINES {
                long.push(format!("{file}: {name}, {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n{}",
        long.join("\n")
    );
    let sample = "fn short() {\n    body();\n}\n\nimpl X {\n    pub(crate) fn method(&self) {\n        a();\n        b();\n    }\n}\n";
    assert_eq!(
        functions(sample),
        vec![("short".to_string(), 3), ("method".to_string(), 4)]
    );
}
