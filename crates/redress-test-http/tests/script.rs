//! The server does what its script says, with a plain TCP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use redress_test_http::{Script, Step, TestServer};

/// Sends one GET and reads until the server closes the connection.
fn get(server: &TestServer) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /x HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    // A scripted close may reset the connection: keep what arrived.
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn steps_run_in_order_and_the_last_repeats() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
    let server = TestServer::start(
        Script::new()
            .times(2, Step::status(503).header("x-try", "again"))
            .then(Step::status(429).retry_after_secs(1))
            .then(Step::status(429).retry_after_date(at))
            .then(Step::ok("done")),
    )
    .unwrap();
    assert_eq!(server.requests(), 0);
    let first = get(&server);
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");
    assert!(first.contains("x-try: again"), "{first}");
    assert!(get(&server).starts_with("HTTP/1.1 503"));
    let limited = get(&server);
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(limited.contains("retry-after: 1\r\n"), "{limited}");
    let dated = get(&server);
    assert!(
        dated.contains("retry-after: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
        "{dated}"
    );
    for _ in 0..2 {
        let done = get(&server);
        assert!(done.starts_with("HTTP/1.1 200"), "{done}");
        assert!(done.ends_with("\r\n\r\ndone"), "{done}");
    }
    assert_eq!(server.requests(), 6);
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.url_of("/a"), format!("http://{}/a", server.addr()));
}

#[test]
fn closes_mid_body_after_promising_the_whole_body() {
    let server = TestServer::start(Script::new().then(Step::close_mid_body("0123456789"))).unwrap();
    let reply = get(&server);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("content-length: 10\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n01234"), "{reply}");
    assert_eq!(server.requests(), 1);
}

#[test]
fn closes_before_responding() {
    let server = TestServer::start(Script::new().then(Step::close_before_response())).unwrap();
    assert_eq!(get(&server), "");
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_delayed_step_answers_after_its_delay_and_drop_cuts_it() {
    let server =
        TestServer::start(Script::new().then(Step::ok("slow").delay(Duration::from_secs(3600))))
            .unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 16];
    // Nothing within the read timeout: the step is still waiting.
    assert!(stream.read(&mut buf).is_err());
    let addr = server.addr();
    drop(server);
    // The server is gone: the pending connection is closed, new ones refused.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
    assert!(TcpStream::connect(addr).is_err());
}
