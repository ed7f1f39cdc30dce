//! The round-trip clock check of a shard (`GET /admin/time`): measured against the reference
//! control plane (whose clock is this machine's, so the offset is within the round trip), and
//! "not offered", never a failure, against a server without the endpoint.

use cpbench_core::cluster::presets;
use cpbench_tests::fake_server::{Behavior, FakeServer};
use sage_cp_bench::clock::check_against;
use sage_cp_bench::control::ControlPlane;
use sage_cp_bench::server::{ServerOptions, start};

#[test]
fn the_reference_control_plane_offers_its_clock() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(start(ServerOptions {
            host: "127.0.0.1".into(),
            port: 0,
            policy: "fifo".into(),
            cluster: presets::tiny(),
            seed: 7,
            ..ServerOptions::default()
        }))
        .unwrap();
    let cp = ControlPlane::new(reqwest::Client::new(), &server.url());
    let check = rt.block_on(check_against(&cp));
    assert_eq!(check.status, "measured", "{check:?}");
    let offset = check.offset_ms.expect("an offset");
    let rtt = check.rtt_ms.expect("a round trip");
    // Same clock on both ends: the offset is within half the round trip plus the server's
    // millisecond resolution.
    assert!(offset.abs() <= rtt / 2.0 + 1.0, "{check:?}");
    assert!(rtt < 1000.0, "{check:?}");
}

#[test]
fn a_server_without_admin_time_is_not_offered_and_not_a_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async { FakeServer::start(Behavior::default()) });
    let cp = ControlPlane::new(reqwest::Client::new(), &server.url());
    let check = rt.block_on(check_against(&cp));
    assert_eq!(check.status, "not_offered", "{check:?}");
    assert!(check.offset_ms.is_none(), "{check:?}");
    assert!(
        check.detail.as_deref().is_some_and(|d| d.contains("404")),
        "{check:?}"
    );
}
