//! The README's promises about setting up a machine match the scripts that do it.

use std::path::Path;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// Every package `scripts/system-packages.sh` installs is named in the README's setup paragraph
/// (a new machine's owner reads that list before running anything as root).
#[test]
fn the_readme_names_every_system_package_the_scripts_install() {
    let script = repo_file("scripts/system-packages.sh");
    let line = script.lines().find(|l| l.starts_with("packages=(")).expect("scripts/system-packages.sh has a packages=(...) line");
    let packages: Vec<&str> = line.trim_start_matches("packages=(").trim_end_matches(')').split_whitespace().collect();
    assert!(packages.len() > 10, "{packages:?}");
    let readme = repo_file("README.md");
    let setup = &readme[..readme.find("\n## ").expect("README has sections")];
    // Package names may hold '.' and '-', but a sentence's full stop is not part of one.
    let words: Vec<&str> =
        setup.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')).map(|w| w.trim_end_matches('.')).collect();
    let unnamed: Vec<&&str> = packages.iter().filter(|p| !words.contains(p)).collect();
    assert!(unnamed.is_empty(), "README.md's setup paragraph does not name {unnamed:?}");
}
