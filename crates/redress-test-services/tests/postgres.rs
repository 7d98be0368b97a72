//! A private PostgreSQL server, for real: started, queried over TCP (with
//! this crate's client and with psql), stopped and restarted.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::process::Command;

use redress_test_services::{Error, Postgres};

fn one(text: &str) -> Vec<Vec<Option<String>>> {
    vec![vec![Some(text.to_owned())]]
}

#[test]
fn a_private_server_answers_select_1_on_loopback_as_a_non_root_user() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let prefix = format!("postgres://redress@127.0.0.1:{}/redress", pg.port());
    assert_eq!(pg.url(), prefix);
    assert_eq!(pg.query("SELECT 1").unwrap(), one("1"));
    assert_eq!(pg.query("SHOW listen_addresses").unwrap(), one("127.0.0.1"));
    assert_eq!(
        pg.query("SELECT current_user, current_database(), NULL")
            .unwrap(),
        [[Some("redress".to_owned()), Some("redress".to_owned()), None]]
    );
    match pg.query("SELECT * FROM no_such_table") {
        Err(Error::Postgres { code, .. }) => assert_eq!(code, "42P01"),
        other => panic!("{other:?}"),
    }
    // PostgreSQL refuses root; when this test is root, it runs as postgres.
    assert_ne!(common::uid_of(pg.pid().unwrap()), 0);

    // The URL works for libpq too, which the integrations' clients follow.
    let psql = pg.bin_dir().join("psql");
    if psql.is_file() {
        let out = Command::new(psql)
            .args(["-X", "-A", "-t", "-c", "SELECT 40 + 2", pg.url()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    }

    // Dropping it stops the server and removes its cluster.
    let data = pg.data_dir().to_path_buf();
    assert!(data.join("PG_VERSION").is_file());
    drop(pg);
    assert!(!data.exists());
}

#[test]
fn a_stopped_server_comes_back_on_the_same_port_with_its_data() {
    let Some(mut pg) = Postgres::start_or_skip() else {
        return;
    };
    let port = pg.port();
    pg.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        .unwrap();

    pg.stop().unwrap();
    assert!(!pg.is_running());
    assert_eq!(pg.pid(), None);
    assert!(pg.query("SELECT 1").is_err());
    // Stopping a stopped server is not an error.
    pg.stop().unwrap();

    pg.restart().unwrap();
    assert!(pg.is_running());
    assert_eq!(pg.port(), port);
    assert_eq!(pg.query("SELECT v FROM kept").unwrap(), one("still here"));

    // Restarting a running server stops it first.
    pg.restart().unwrap();
    assert_eq!(pg.query("SELECT count(*) FROM kept").unwrap(), one("1"));
    let log = std::fs::read_to_string(pg.log_path()).unwrap();
    assert!(log.contains("database system is shut down"), "{log}");
}
