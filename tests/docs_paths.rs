//! Every repository path the documentation names exists: README.md, ARCHITECTURE.md,
//! CONTRIBUTING.md and `docs/` (not `docs/history/`, which
//! speaks of the tree as it was). A path is a `code span` that starts with one of the
//! repository's folders, or a relative Markdown link; spans with placeholders (`<kernel>`,
//! `*`, `…`) are patterns, not paths.

use std::path::{Path, PathBuf};

/// Names a document uses for what does not exist (CONTRIBUTING's worked example of a new
/// kernel).
const EXAMPLES: &[&str] = &["mandelbrot"];

const FOLDERS: &[&str] = &[
    "src/",
    "tests/",
    "examples/",
    "benches/",
    "python/",
    "docs/",
    "shaders/",
    ".ci/",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"]
        .iter()
        .map(|d| root().join(d))
        .collect();
    let mut stack = vec![root().join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/").flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "history") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                docs.push(path);
            }
        }
    }
    docs
}

/// The paths `text` names, each with whether it is relative to the document's folder.
fn named_paths(text: &str) -> Vec<(String, bool)> {
    let mut paths = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        // Odd pieces are inside backticks.
        if i % 2 == 1 && FOLDERS.iter().any(|f| span.starts_with(f)) {
            paths.push((span.to_owned(), false));
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = after[..end].split('#').next().unwrap_or("");
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            paths.push((target.to_owned(), true));
        }
        rest = &after[end.min(after.len())..];
    }
    paths
        .into_iter()
        .map(|(p, relative)| {
            (
                p.split_whitespace().next().unwrap_or("").to_owned(),
                relative,
            )
        })
        .filter(|(p, _)| !p.is_empty() && !p.contains(['<', '*', '…', '{', '$']))
        .filter(|(p, _)| !EXAMPLES.iter().any(|e| p.contains(e)))
        .collect()
}

#[test]
fn every_path_the_docs_name_exists() {
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("readable document");
        let folder = doc.parent().unwrap_or(Path::new("."));
        for (path, relative) in named_paths(&text) {
            // `src/kernels/julia/mod.rs:42`-style mentions name the file.
            let file = path.split(':').next().unwrap_or(&path);
            let full = if relative {
                folder.join(file)
            } else {
                root().join(file)
            };
            if !full.exists() {
                let doc = doc
                    .strip_prefix(root())
                    .unwrap_or(&doc)
                    .display()
                    .to_string();
                missing.push(format!("{doc}: {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_check_reads_spans_and_links() {
    let found = named_paths(
        "see `src/lib.rs`, `cargo test`, `src/kernels/<kernel>/`, [a](reports/x.md#top), \
         [b](https://example.org) and `tests/gpu.rs --nocapture`",
    );
    assert_eq!(
        found,
        [
            ("src/lib.rs".to_owned(), false),
            ("tests/gpu.rs".to_owned(), false),
            ("reports/x.md".to_owned(), true),
        ]
    );
}
