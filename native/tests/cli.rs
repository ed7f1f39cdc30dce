//! The binary as a user runs it.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"))
}

#[test]
fn version_flag_prints_the_package_version() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("sage-cp-bench {}", env!("CARGO_PKG_VERSION"))
    );
}
