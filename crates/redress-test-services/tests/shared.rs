//! The shared servers of `cargo xtask test` answer at the URLs it exports.
//! Without them (a plain `cargo test`) these tests skip, saying how to run
//! them; under CI they fail.

#![allow(clippy::unwrap_used)]

use redress_test_services::{Resp, pg_query, pg_url, redis_command, redis_url};

#[test]
fn the_shared_postgres_answers() {
    let Some(url) = pg_url() else { return };
    assert_eq!(
        pg_query(&url, "SELECT 1, current_database()").unwrap(),
        [[Some("1".to_owned()), Some("redress".to_owned())]]
    );
}

#[test]
fn the_shared_redis_answers() {
    let Some(url) = redis_url() else { return };
    assert_eq!(
        redis_command(&url, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
}
