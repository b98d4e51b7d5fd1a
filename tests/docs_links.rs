//! The docs hold together (issue #11): every relative link in `README.md`
//! and `docs/*.md` leads to a file that exists and, with `#anchor`, to a
//! heading of that page; the index `docs/README.md` links every page and
//! every man page; the pages issue #11 asks for exist.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and docs/*.md.
fn pages() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(top().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    v.push(top().join("README.md"));
    v.sort();
    v
}

/// The text outside fenced code blocks and inline code spans.
fn prose(md: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for ch in line.chars() {
            if ch == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(ch);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the inline links `[text](target)`.
fn links(md: &str) -> Vec<String> {
    let text = prose(md);
    let mut v = Vec::new();
    let mut rest = text.as_str();
    while let Some(k) = rest.find("](") {
        let after = &rest[k + 2..];
        if let Some(end) = after.find(')') {
            let target = after[..end].split_whitespace().next().unwrap_or("").to_string();
            v.push(target);
            rest = &after[end..];
        } else {
            break;
        }
    }
    v
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (with GitHub's -1, -2 for repeats).
fn anchors(md: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let s = slug(line.trim_start_matches('#'));
        let n = seen.iter().filter(|a| **a == s || a.starts_with(&format!("{s}-"))).count();
        seen.push(if n == 0 { s } else { format!("{s}-{n}") });
    }
    seen
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug(" How changes are noticed (inotify) — **extension**"),
        "how-changes-are-noticed-inotify--extension"
    );
    assert_eq!(
        slug(" Graceful shutdown: `RUNSVDIR_GRACEFUL=<seconds>`"),
        "graceful-shutdown-runsvdir_gracefulseconds"
    );
    assert_eq!(slug(" Differences from runit 2.3.0"), "differences-from-runit-230");
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let md = fs::read_to_string(&page).unwrap();
        for target in links(&md) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            checked += 1;
            let dest = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            if !dest.exists() {
                broken.push(format!("{}: {target}: no such file", page.display()));
                continue;
            }
            if let Some(a) = anchor {
                let text = fs::read_to_string(&dest).unwrap_or_default();
                if !anchors(&text).iter().any(|x| x == a) {
                    broken.push(format!(
                        "{}: {target}: no heading #{a} in {}",
                        page.display(),
                        dest.display()
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} links found: is the link parser broken?");
}

#[test]
fn the_index_links_every_page_and_man_page() {
    let index = fs::read_to_string(top().join("docs/README.md")).expect("docs/README.md is missing");
    let targets: Vec<String> = links(&index);
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        if page.parent() != Some(top().join("docs").as_path()) || name == "README.md" {
            continue;
        }
        assert!(targets.iter().any(|t| t == &name), "docs/README.md does not link {name}");
    }
    for e in fs::read_dir(top().join("docs/man")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            targets.iter().any(|t| *t == format!("man/{name}")),
            "docs/README.md does not link man/{name}"
        );
    }
}

#[test]
fn the_pages_issue_11_asks_for_exist() {
    for page in ["overview.md", "migration.md", "install.md", "packaging.md", "boot.md", "performance.md"] {
        let p = top().join("docs").join(page);
        let text = fs::read_to_string(&p).unwrap_or_else(|_| panic!("{} is missing", p.display()));
        assert!(text.starts_with("# "), "{}: no title", p.display());
    }
    // The overview has its diagram, the migration guide its three parts.
    let overview = fs::read_to_string(top().join("docs/overview.md")).unwrap();
    assert!(
        overview.contains("runsvdir") && overview.contains("supervise/control") && overview.contains("```")
    );
    let migration = fs::read_to_string(top().join("docs/migration.md")).unwrap();
    for part in ["## What is identical", "## Extensions", "## Differences from Debian's runit 2.1.2"] {
        assert!(migration.contains(part), "migration.md lacks {part:?}");
    }
    assert!(Path::new(&top().join("docs/packaging.md")).exists());
}
