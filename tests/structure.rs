//! The code keeps its shape (issue 19): `scripts/check-structure.py` finds no module cycle
//! (between folders or between the files of one folder),
//! no wrong-way import and no file over 800 lines in the repository, and does find each of them
//! in a tree that has them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(root: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("scripts/check-structure.py"));
    if let Some(root) = root {
        cmd.arg(root);
    }
    let out = cmd.output().expect("python3 runs (scripts/system-packages.sh installs it)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_repository_keeps_its_shape() {
    let (ok, out) = check(None);
    assert!(ok, "{out}");
}

#[test]
fn a_cycle_a_wrong_way_import_and_a_long_file_are_each_named() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("appliance/src/lib.rs", "pub mod booth;\npub mod cli;\npub mod config;\npub mod state;\n");
    write("appliance/src/booth.rs", "use crate::state::State;\n");
    write("appliance/src/state.rs", "use crate::{booth, config};\n#[cfg(test)]\nmod tests {\n    use crate::cli::demo;\n}\n");
    write("appliance/src/config.rs", "pub fn parse() { crate::cli::doctor::run() }\n");
    write("appliance/src/cli/mod.rs", "pub mod doctor;\n");
    write("models/src/lib.rs", "// keepsake::config in a comment is fine\npub fn f() -> keepsake::Booth { todo!() }\n");
    // A cycle between two files of one folder counts too; a test-only file's imports do not.
    write("models/src/kernels/mod.rs", "pub mod a;\npub mod b;\n#[cfg(test)]\nmod tests;\n");
    write("models/src/kernels/a.rs", "use super::b::Tile;\n");
    write("models/src/kernels/b.rs", "pub fn f() { crate::kernels::a::g() }\n");
    write("models/src/kernels/tests.rs", "use crate::edits::quantize;\n");
    write("models/src/edits.rs", "use crate::kernels::a::g;\n");
    write("drivers/src/long.rs", &"// a line\n".repeat(801));
    write("server/src/lib.rs", &"// a line\n".repeat(800));
    let (ok, out) = check(Some(dir.path()));
    assert!(!ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("appliance: modules booth, state import each other in a cycle")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("appliance: config imports cli")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("models/src/lib.rs: models/ names the appliance crate")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("models: modules a, b (in kernels) import each other in a cycle")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("drivers/src/long.rs: 801 lines")), "{out}");
    assert!(
        lines.last().is_some_and(|l| l.starts_with("5 structure problem(s)")),
        "only these five (a test module's or test file's imports and an 800-line file are fine):\n{out}"
    );
}
