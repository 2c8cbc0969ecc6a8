//! Runs Hermes Host's SKILL.md validator over `tests/skills-corpus`: every folder under
//! `valid/` must validate, every folder under `invalid/` must not. (The comparison with the
//! Agent Skills reference validator, which needs Python, is `tests/skills_ref_agreement.sh`.)

use std::path::{Path, PathBuf};

use hermes_host::skills::validate::{Expected, Report, validate_as, validate_dir};

fn corpus() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("skills-corpus")
}

fn skill_dirs(kind: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus().join(kind))
        .unwrap_or_else(|e| panic!("reading the {kind} corpus: {e}"))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn describe(report: &Report) -> String {
    let mut lines: Vec<String> = report.errors.iter().map(|p| format!("  error: {p}")).collect();
    lines.extend(report.warnings.iter().map(|p| format!("  warning: {p}")));
    lines.join("\n")
}

#[test]
fn valid_skills_validate() {
    let dirs = skill_dirs("valid");
    assert!(dirs.len() >= 12, "the valid corpus has only {} skills", dirs.len());
    for dir in dirs {
        let report = validate_dir(&dir);
        assert!(report.is_valid(), "{} should be valid:\n{}", dir.display(), describe(&report));
        let name = dir.file_name().and_then(|n| n.to_str()).expect("UTF-8 folder name");
        // A frontmatter name unlike the folder's is valid, with a warning saying so.
        let warned = report.warnings.iter().any(|w| w.field.as_deref() == Some("name") && w.message.contains(name));
        assert!(report.name.as_deref() == Some(name) || warned, "{}:\n{}", dir.display(), describe(&report));
        assert!(report.description.as_deref().is_some_and(|d| !d.trim().is_empty()), "{}", dir.display());
    }
}

#[test]
fn invalid_skills_fail_for_exactly_one_reason() {
    let dirs = skill_dirs("invalid");
    assert!(dirs.len() >= 12, "the invalid corpus has only {} skills", dirs.len());
    for dir in dirs {
        let report = validate_dir(&dir);
        // Each invalid skill breaks exactly one rule, so exactly one error is reported.
        assert_eq!(report.errors.len(), 1, "{} should have exactly one error:\n{}", dir.display(), describe(&report));
    }
}

#[test]
fn text_validation_agrees_with_dir_validation_on_the_frontmatter() {
    // `validate_as` on the text with the folder's name gives the same verdict as `validate_dir`
    // (the folder adds only file-system checks on links, none of which fail in the corpus).
    for kind in ["valid", "invalid"] {
        for dir in skill_dirs(kind) {
            let text = std::fs::read_to_string(dir.join("SKILL.md")).expect("SKILL.md");
            let name = dir.file_name().and_then(|n| n.to_str()).expect("UTF-8 folder name");
            assert_eq!(validate_as(&text, Expected::Folder(name)).is_valid(), kind == "valid", "{}", dir.display());
        }
    }
}

#[test]
fn differences_list_names_existing_corpus_folders() {
    let text = std::fs::read_to_string(corpus().join("DIFFERENCES.md")).expect("DIFFERENCES.md");
    let block = text.split("```expected-disagreements").nth(1).expect("an expected-disagreements block");
    let block = block.split("```").next().unwrap_or("");
    let listed: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(!listed.is_empty());
    for rel in listed {
        assert!(
            corpus().join(rel).join("SKILL.md").is_file(),
            "DIFFERENCES.md lists {rel}, which is not in the corpus"
        );
    }
}
