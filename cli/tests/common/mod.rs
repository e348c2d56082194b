//! Running the `dinfogan` binary from the end-to-end tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the binary on the CPU (burn's default device follows `BURN_DEVICE`).
pub fn dinfogan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinfogan"))
        .args(args)
        .env("BURN_DEVICE", "flex")
        .output()
        .expect("the binary runs")
}

/// Succeeds; returns what it printed (stdout, then stderr).
pub fn ok(args: &[&str]) -> String {
    let out = dinfogan(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // (The status, printed, names the signal of a process that died of one.)
    let status = out.status;
    assert!(
        status.success(),
        "dinfogan {args:?} failed ({status}):\n{stderr}"
    );
    String::from_utf8_lossy(&out.stdout).to_string() + &stderr
}

/// Fails with exit code 1 and an `error:` sentence containing `expected`, and no panic.
pub fn fails(args: &[&str], expected: &str) {
    let out = dinfogan(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out.status;
    assert_eq!(
        status.code(),
        Some(1),
        "dinfogan {args:?} ({status}):\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "dinfogan {args:?} panicked:\n{stderr}"
    );
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}
