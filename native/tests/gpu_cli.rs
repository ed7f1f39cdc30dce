//! The binary's GPU monitoring on a machine without NVML: `auto` says once on the terminal
//! why monitoring is unavailable (nothing with `--quiet`) and runs; `required` exits 1 before
//! connecting to the control plane at all.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

/// An NVML library that does not exist: "no NVML" even on a machine with GPUs.
const NO_NVML: &str = "/nonexistent/libnvidia-ml.so.1";

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cpbench-gpu-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sage-cp-bench"))
        .args(args)
        .env_remove("SAGE_CONTROL_PLANE_URL")
        .output()
        .expect("the binary runs")
}

#[test]
fn auto_without_nvml_says_why_once_and_runs() {
    for quiet in [false, true] {
        let dir = out_dir(if quiet { "quiet" } else { "loud" });
        let mut args = vec![
            "run",
            "--cluster",
            "tiny",
            "-n",
            "5",
            "-r",
            "100",
            "-w",
            "0",
            "--nvml-lib",
            NO_NVML,
            "-o",
        ];
        let d = dir.to_str().unwrap().to_string();
        args.push(&d);
        if quiet {
            args.push("-q");
        }
        let out = bench(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("GPU monitoring unavailable"))
            .collect();
        if quiet {
            assert!(lines.is_empty(), "{stderr}");
        } else {
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(
                lines[0].starts_with("GPU monitoring unavailable: NVML init failed")
                    && lines[0].contains(NO_NVML),
                "{}",
                lines[0]
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn required_without_nvml_exits_1_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = out_dir("required");
    let out = bench(&[
        "run",
        "-c",
        &url,
        "-n",
        "5",
        "-w",
        "0",
        "--gpu-monitor",
        "required",
        "--nvml-lib",
        NO_NVML,
        "-o",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "Error: --gpu-monitor required: GPU monitoring unavailable: NVML init failed"
        ),
        "{stderr}"
    );
    assert!(
        listener.accept().is_err(),
        "the control plane was never contacted"
    );
    assert_eq!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0),
        0,
        "no result written"
    );
}
