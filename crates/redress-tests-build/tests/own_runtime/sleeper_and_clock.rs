//! Without a runtime feature, a call site with its own sleeper and clock
//! runs async calls (here on a hand-rolled executor and a manual clock).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;
use redress::ManualClock;

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::from_secs(1))).build().unwrap();
    let clock = ManualClock::new();
    let sleeper = |d: Duration| {
        clock.advance(d);
        std::future::ready(())
    };

    let mut tries = 0;
    let value = block_on(policy.bind().sleeper(&sleeper).clock(&clock).call_async(|| {
        tries += 1;
        let n = tries;
        async move { if n < 3 { Err(std::io::Error::other("busy")) } else { Ok(n) } }
    }));
    assert_eq!(value.unwrap(), 3);
    assert_eq!(clock.now(), Duration::from_secs(2));

    let mut tries = 0;
    let value = block_on(
        (|| {
            tries += 1;
            let n = tries;
            async move { if n < 2 { Err(std::io::Error::other("busy")) } else { Ok(n) } }
        })
        .retry(&policy)
        .sleeper(&sleeper)
        .clock(&clock)
        .call_async(),
    );
    assert_eq!(value.unwrap(), 2);
    assert_eq!(clock.now(), Duration::from_secs(3));
}
