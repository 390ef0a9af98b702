//! The documentation a user reads: the README stays short enough to read at once, the usage text kwctl
//! shows reads well in a terminal, and no link of the project's Markdown leads nowhere (a file that is
//! not there, or a heading a file does not have). The README's commands are run by
//! `e2e-tests/make.bats`.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::path::{Path, PathBuf};

/// The Markdown files whose links are checked: the repository's own, and docs/.
fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [
        "README.md",
        "CONTRIBUTING.md",
        "ARCHITECTURE.md",
        "BENCHMARKS.md",
        "CHANGELOG.md",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let docs = std::fs::read_dir("docs").expect("docs/");
    let mut more: Vec<PathBuf> = docs
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    files.extend(more);
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text outside fenced code blocks, where a `](` is a link.
fn prose(text: &str) -> String {
    let mut fenced = false;
    let mut kept = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The targets of the `[text](target)` links of `text`.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    prose
        .match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &prose[at + 2..];
            let end = rest.find([')', ' ', '\n'])?;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of the headings of a Markdown file.
fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .lines()
        .filter_map(|line| {
            let level = line.chars().take_while(|c| *c == '#').count();
            let heading = line.get(level..)?.strip_prefix(' ')?;
            (1..=6).contains(&level).then(|| slug(heading))
        })
        .collect()
}

#[test]
fn every_link_of_the_markdown_leads_somewhere() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        let dir = file.parent().unwrap_or(Path::new(""));
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((link.as_str(), ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !target.exists() {
                broken.push(format!(
                    "{}: {link}: no file {}",
                    file.display(),
                    target.display()
                ));
                continue;
            }
            let is_markdown = target.extension().is_some_and(|e| e == "md");
            if !anchor.is_empty()
                && is_markdown
                && !anchors(&read(&target)).iter().any(|a| a == anchor)
            {
                broken.push(format!("{}: {link}: no heading #{anchor}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_short_enough_to_read_at_once() {
    let size = read(Path::new("README.md")).len();
    assert!(
        size <= 15 * 1024,
        "README.md is {size} bytes; the rest belongs in docs/"
    );
}

/// `kwctl inspect` prints the usage text in a terminal: no line wider than one, no table.
#[test]
fn the_usage_text_reads_well_in_a_terminal() {
    let usage = read(Path::new("docs/usage.md"));
    for line in usage.lines() {
        assert!(
            line.chars().count() <= 100,
            "docs/usage.md: too wide: {line}"
        );
        assert!(!line.starts_with('|'), "docs/usage.md: a table: {line}");
    }
}

#[test]
fn the_checks_see_what_they_must() {
    assert_eq!(
        slug("3. A registry of your own: what policy-server needs"),
        "3-a-registry-of-your-own-what-policy-server-needs"
    );
    assert_eq!(
        slug("Readiness, stopping and status under Tekton's feature flags"),
        "readiness-stopping-and-status-under-tektons-feature-flags"
    );
    let text = "# T\n\nSee [a](b.md#c) and `x` [d](#t).\n\n```sh\n[not](a link)\n```\n";
    assert_eq!(links(text), ["b.md#c", "#t"]);
    assert_eq!(anchors(text), ["t"]);
}
