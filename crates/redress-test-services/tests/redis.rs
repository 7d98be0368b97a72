//! A private Redis server, for real: PING, SET and GET over raw RESP,
//! killed with SIGKILL and restarted on the same port.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::process::Command;

use redress_test_services::{Error, Redis, Resp};

fn bulk(text: &str) -> Resp {
    Resp::Bulk(text.as_bytes().to_vec())
}

#[test]
fn a_private_server_answers_ping_set_and_get_on_loopback() {
    let Some(redis) = Redis::start_or_skip() else {
        return;
    };
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    assert_eq!(
        redis.command(&["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    assert_eq!(
        redis.command(&["SET", "greeting", "hello world"]).unwrap(),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        redis.command(&["GET", "greeting"]).unwrap(),
        bulk("hello world")
    );
    assert_eq!(redis.command(&["GET", "missing"]).unwrap(), Resp::Nil);
    assert_eq!(
        redis.command(&["INCRBY", "n", "41"]).unwrap(),
        Resp::Integer(41)
    );
    assert_eq!(
        redis.command(&["CONFIG", "GET", "bind"]).unwrap(),
        Resp::Array(vec![bulk("bind"), bulk("127.0.0.1")])
    );
    // Nothing persists.
    assert_eq!(
        redis.command(&["CONFIG", "GET", "appendonly"]).unwrap(),
        Resp::Array(vec![bulk("appendonly"), bulk("no")])
    );
    assert_eq!(
        redis.command(&["CONFIG", "GET", "save"]).unwrap(),
        Resp::Array(vec![bulk("save"), bulk("")])
    );
    match redis.command(&["NO-SUCH-COMMAND"]) {
        Err(Error::Redis(message)) => assert!(message.starts_with("ERR"), "{message}"),
        other => panic!("{other:?}"),
    }
    if common::user_exists("redis") {
        assert_ne!(common::uid_of(redis.pid().unwrap()), 0);
    }
    // The URL works for redis-cli too.
    if let Ok(out) = Command::new("redis-cli")
        .args(["-u", redis.url(), "GET", "greeting"])
        .output()
    {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello world");
    }
}

#[test]
fn a_killed_server_comes_back_on_the_same_port_empty() {
    let Some(mut redis) = Redis::start_or_skip() else {
        return;
    };
    let port = redis.port();
    redis.command(&["SET", "lost", "on kill"]).unwrap();

    redis.kill().unwrap();
    assert!(!redis.is_running());
    assert!(redis.command(&["PING"]).is_err());
    redis.kill().unwrap(); // nothing to kill: not an error

    redis.restart().unwrap();
    assert_eq!(redis.port(), port);
    assert_eq!(redis.command(&["GET", "lost"]).unwrap(), Resp::Nil);

    // A clean stop, and back again.
    redis.command(&["SET", "k", "v"]).unwrap();
    redis.stop().unwrap();
    assert!(redis.command(&["PING"]).is_err());
    redis.restart().unwrap();
    assert_eq!(redis.port(), port);
    assert_eq!(
        redis.command(&["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
}
