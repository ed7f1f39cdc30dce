//! The output folder: checked before anything is sent, and cleared of the temporary files
//! of writers that died.

use super::server::{Reply, Server, completion};
use super::*;

/// `-o` naming a file, or a place nothing can be created in, is a usage error naming
/// `--output`, and the control plane never hears from the run.
#[test]
fn an_unusable_output_folder_stops_the_run_before_any_request() {
    let server = Server::start(|_| Reply::json(200, &completion()));
    let dir = temp_dir("output-file");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    for target in [
        file.clone(),
        PathBuf::from("/proc/cpbench-no-such-folder/out"),
    ] {
        let out = output(&mut scripted_run(&server.url, &target, &["-n", "20"]));
        assert_code(&out, 2);
        let e = text(&out.stderr);
        assert!(e.contains("--output"), "{}: {e}", target.display());
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "not a folder",
        "the file is left as it was"
    );
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(server.connections(), 0, "not even a connection");
}

/// A `.NAME.PID.tmp` file of a process that no longer runs is removed by the next run into
/// the folder; one of a live process (this test's) is left alone.
#[test]
fn temp_files_of_dead_writers_are_removed_and_live_ones_kept() {
    let dir = temp_dir("stale-tmp");
    // A process id that certainly ran and no longer runs: a child, waited for.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id() as i32;
    child.wait().unwrap();
    let dead_pid = nix::unistd::Pid::from_raw(dead);
    assert!(
        nix::sys::signal::kill(dead_pid, None).is_err(),
        "pid {dead} was reused"
    );
    let stale = dir.join(format!(".report_20260101T000000Z.json.{dead}.tmp"));
    let live = dir.join(format!(
        ".report_20260101T000000Z.json.{}.tmp",
        std::process::id()
    ));
    let unrelated = dir.join(".notes.tmp");
    for f in [&stale, &live, &unrelated] {
        std::fs::write(f, "{\"half\": ").unwrap();
    }
    let out = output(
        bin()
            .args(["simulate", "-n", "20", "-q", "--no-visualize", "-o"])
            .arg(&dir),
    );
    assert_code(&out, 0);
    assert!(!stale.exists(), "the dead writer's temp file is removed");
    assert!(live.exists(), "a live writer's temp file is kept");
    assert!(unrelated.exists(), "a file not named NAME.PID.tmp is kept");
    assert_eq!(only_report(&dir).runs[0].summary.requests_total, 20);
}
