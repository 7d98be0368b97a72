//! Servers that outlive their handle, as `cargo xtask services up` starts
//! them, found again through the state file and stopped through their pid,
//! as `cargo xtask services down` does from another process.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stderr)]

mod common;

use std::fs;

use redress_test_services::{
    Detached, Postgres, Redis, Resp, Service, ServicesState, ensure_installed, in_ci, pg_query,
    redis_command,
};

/// Stops the server if the test fails half-way: a detached server would
/// otherwise outlive the test run.
struct StopOnDrop(Detached);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

#[test]
fn detached_servers_run_in_their_own_session_until_stopped_through_the_state_file() {
    if let Err(error) = ensure_installed(&Service::ALL) {
        assert!(error.is_unavailable() && !in_ci(), "{error}");
        eprintln!("skipping: {error}");
        return;
    }
    let logs = std::env::temp_dir().join(format!("redress-detached-test-{}", std::process::id()));
    let pg = StopOnDrop(Postgres::start_detached(&logs.join("postgres.log")).unwrap());
    let redis = StopOnDrop(Redis::start_detached(&logs.join("redis.log")).unwrap());

    let file = logs.join("services.state");
    ServicesState {
        started_by: "a test".to_owned(),
        services: vec![pg.0.clone(), redis.0.clone()],
    }
    .save(&file)
    .unwrap();
    let state = ServicesState::load(&file).unwrap().unwrap();
    assert!(state.is_running());
    let (pg_url, redis_url) = (&state.services[0].url, &state.services[1].url);
    assert_eq!(
        pg_query(pg_url, "SELECT 1").unwrap(),
        [[Some("1".to_owned())]]
    );
    assert_eq!(
        redis_command(redis_url, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    for service in &state.services {
        // A session of its own: no terminal signal reaches it.
        assert_eq!(common::session_of(service.pid), service.pid, "{service:?}");
        assert!(service.dir.is_dir());
    }

    state.stop().unwrap();
    assert!(!state.is_running());
    assert!(pg_query(pg_url, "SELECT 1").is_err());
    assert!(redis_command(redis_url, &["PING"]).is_err());
    for service in &state.services {
        assert!(!service.dir.exists(), "{service:?}");
    }
    // Nothing left to stop: not an error.
    state.stop().unwrap();
    // The logs stay, for post-mortems.
    let log = fs::read_to_string(logs.join("postgres.log")).unwrap();
    assert!(log.contains("database system is shut down"), "{log}");
    fs::remove_dir_all(&logs).unwrap();
}
