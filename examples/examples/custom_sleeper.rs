//! A runtime of your own: a hand-written sleeper and a minimal executor.
//!
//! redress needs two things from a runtime: a sleeper (any
//! `Fn(Duration) -> impl Future<Output = ()>`, or an `AsyncSleeper`) and a
//! clock. This example writes a timer future by hand (a thread that wakes
//! the task) and drives the call with a tiny `block_on`, no async runtime
//! involved.
//!
//! `cargo run -p redress-examples --example custom_sleeper`

#![allow(clippy::print_stdout, clippy::arithmetic_side_effects)]

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use redress::backoff::constant;
use redress::{AsyncSleeper, Policy, SystemClock, execute_async};

/// A timer: a thread sleeps, then wakes the task.
struct Timer {
    done: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Ok(mut slot) = self.waker.lock() {
            *slot = Some(cx.waker().clone());
        }
        // Check again: the thread may have finished before the waker was set.
        if self.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The sleeper: one timer per sleep.
struct ThreadTimers;

impl AsyncSleeper for ThreadTimers {
    type Sleep = Timer;

    fn sleep(&self, duration: Duration) -> Timer {
        let done = Arc::new(AtomicBool::new(false));
        let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (d, w) = (done.clone(), waker.clone());
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            d.store(true, Ordering::Release);
            if let Some(waker) = w.lock().ok().and_then(|mut slot| slot.take()) {
                waker.wake();
            }
        });
        Timer { done, waker }
    }
}

/// The smallest executor: park the thread until woken.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::builder()
        .strategy(constant(Duration::from_millis(25)))
        .build()?;
    let site = policy.operation("custom_runtime");
    let started = Instant::now();
    let mut tries = 0;
    let outcome = block_on(execute_async(&site, &ThreadTimers, &SystemClock, || {
        tries += 1;
        let n = tries;
        async move {
            if n < 3 {
                Err(std::io::Error::from(std::io::ErrorKind::WouldBlock))
            } else {
                Ok(n)
            }
        }
    }));
    println!(
        "value={:?} attempts={} waited at least 50 ms: {}",
        outcome.value(),
        outcome.attempts,
        started.elapsed() >= Duration::from_millis(50)
    );
    Ok(())
}
