//! Virtual time: a sleeper that moves a [`ManualClock`] instead of waiting.

use core::future::Future;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use redress_core::{AsyncSleeper, BlockingSleeper, ManualClock};

/// A sleeper that returns at once after advancing a [`ManualClock`] by the
/// requested delay: a 60 s retry envelope runs in microseconds, and every
/// elapsed time and delay the engine reports is exact.
///
/// It is both a [`BlockingSleeper`] (for the blocking runner) and an
/// [`AsyncSleeper`] (for [`execute_async`](redress_core::execute_async) and
/// the async runners). Make one with [`instant_sleeper`]; give the call site
/// the same clock with `.clock(&clock)`.
///
/// `C` is how the clock is held: `&ManualClock` (the usual case in a test)
/// or `Arc<ManualClock>` when the sleeper must be `'static` (a spawned task).
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::constant, ErrorClass, ManualClock, Policy};
/// use redress_sync::BlockingPolicy;
/// use redress_testing::instant_sleeper;
///
/// let policy = Policy::builder()
///     .classifier(|_: &&str| ErrorClass::Transient)
///     .strategy(constant(Duration::from_secs(10)))
///     .build()?;
/// let clock = ManualClock::new();
/// let site = policy.bind().clock(&clock).sleeper(instant_sleeper(&clock));
///
/// let outcome = site.execute(|| Err::<(), _>("down"));
/// // Six attempts and five 10 s sleeps, on virtual time.
/// assert_eq!(outcome.attempts, 6);
/// assert_eq!(outcome.elapsed, Duration::from_secs(50));
/// assert_eq!(clock.now(), Duration::from_secs(50));
/// # Ok::<(), redress_core::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct InstantSleeper<C> {
    clock: C,
}

/// A sleeper that advances `clock` instead of sleeping; see
/// [`InstantSleeper`].
///
/// ```
/// use std::time::Duration;
/// use redress_core::{BlockingSleeper, ManualClock};
/// use redress_testing::instant_sleeper;
///
/// let clock = ManualClock::new();
/// instant_sleeper(&clock).sleep(Duration::from_secs(30));
/// assert_eq!(clock.now(), Duration::from_secs(30));
/// ```
pub fn instant_sleeper<C: Deref<Target = ManualClock>>(clock: C) -> InstantSleeper<C> {
    InstantSleeper { clock }
}

impl<C: Deref<Target = ManualClock>> InstantSleeper<C> {
    /// The clock this sleeper advances.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }
}

impl<C: Deref<Target = ManualClock>> BlockingSleeper for InstantSleeper<C> {
    fn sleep(&self, duration: Duration) {
        self.clock.advance(duration);
    }
}

impl<C: Deref<Target = ManualClock> + Clone> AsyncSleeper for InstantSleeper<C> {
    type Sleep = InstantSleep<C>;

    fn sleep(&self, duration: Duration) -> InstantSleep<C> {
        InstantSleep {
            pending: Some((self.clock.clone(), duration)),
        }
    }
}

/// The future of [`InstantSleeper`]'s async sleep: the first poll advances
/// the clock and completes.
///
/// The clock moves when the future is first polled, not when it is made, so
/// an attempt timeout's timer that loses the race to the attempt (and is
/// never polled) leaves the clock alone, as a real timer would.
///
/// ```
/// use core::future::Future;
/// use core::pin::pin;
/// use core::task::{Context, Poll, Waker};
/// use std::time::Duration;
/// use redress_core::{AsyncSleeper, ManualClock};
/// use redress_testing::instant_sleeper;
///
/// let clock = ManualClock::new();
/// let sleeper = instant_sleeper(&clock);
/// let mut sleep = pin!(sleeper.sleep(Duration::from_secs(5)));
/// assert_eq!(clock.now(), Duration::ZERO); // not polled yet
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(sleep.as_mut().poll(&mut cx), Poll::Ready(()));
/// assert_eq!(clock.now(), Duration::from_secs(5));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InstantSleep<C> {
    pending: Option<(C, Duration)>,
}

// The future holds no self-references.
impl<C> Unpin for InstantSleep<C> {}

impl<C: Deref<Target = ManualClock>> Future for InstantSleep<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if let Some((clock, duration)) = self.get_mut().pending.take() {
            clock.advance(duration);
        }
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn owned_clocks_make_static_sleepers() {
        fn assert_static<T: 'static + Send + Sync>(_: &T) {}
        let clock = Arc::new(ManualClock::new());
        let sleeper = instant_sleeper(Arc::clone(&clock));
        assert_static(&sleeper);
        BlockingSleeper::sleep(&sleeper, Duration::from_millis(3));
        let mut fut = core::pin::pin!(AsyncSleeper::sleep(&sleeper, Duration::from_millis(4)));
        let mut cx = Context::from_waker(core::task::Waker::noop());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(()));
        // A second poll does not advance again.
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(()));
        assert_eq!(clock.now(), Duration::from_millis(7));
        assert_eq!(sleeper.clock().now(), Duration::from_millis(7));
    }
}
