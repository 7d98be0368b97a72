//! The blocking runner of [redress](https://docs.rs/redress).
//!
//! [`BlockingPolicy`] adds `call` and `execute` to a
//! [`Policy`] and to a [`Bound`] call site. The runner is a thin loop around
//! the `redress-core` engine: it reads the clock, runs the operation, and
//! sleeps when the engine says so. Every decision is the engine's.
//!
//! ```
//! use std::time::Duration;
//! use redress_core::{backoff::decorrelated_jitter, ErrorClass, Policy};
//! use redress_sync::BlockingPolicy;
//!
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(decorrelated_jitter().base(Duration::from_millis(1)).max(Duration::from_millis(5)))
//!     .build()?;
//!
//! let mut calls = 0;
//! let value = policy.call(|| {
//!     calls += 1;
//!     if calls < 3 { Err(std::io::Error::other("flaky")) } else { Ok(calls) }
//! })?;
//! assert_eq!(value, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Sleeping blocks the thread. In async code use an async runner instead.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::error::Error;

use redress_core::{
    Action, Attempt, BlockingSleeper, Bound, CallSite, Classifier, Clock, ErrorClassifier,
    Execution, Hooks, NoResultClassifier, Outcome, Policy, Report, ResultClassifier, RetryError,
    Slot, SystemClock, ThreadSleeper, ToOutcome, ToResult,
};

/// Runs operations under a policy, blocking the current thread.
///
/// Implemented for [`Policy`] (no hooks, the system clock, thread sleep) and
/// for [`Bound`] call sites with their hooks, sleeper and clock (call sites
/// with async hooks need an async runner).
///
/// # Attempt timeouts
///
/// A thread cannot be interrupted from outside, so this runner does not
/// cancel an attempt that overruns the policy's `attempt_timeout`. Use
/// [`call_with`](Self::call_with) and give the operation's own I/O the
/// [`Attempt::time_limit`]: the attempt's timeout, never past the deadline.
///
/// ```
/// use std::time::Duration;
/// use redress_core::{backoff::constant, Attempt, Policy};
/// use redress_sync::BlockingPolicy;
///
/// let policy = Policy::builder()
///     .strategy(constant(Duration::from_millis(1)))
///     .attempt_timeout(Duration::from_secs(2))
///     .build()?;
/// let limit = policy.call_with(|attempt: Attempt| {
///     // e.g. socket.set_read_timeout(Some(attempt.time_limit()))
///     Ok::<_, std::io::Error>(attempt.time_limit())
/// })?;
/// assert_eq!(limit, Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait BlockingPolicy<C, R> {
    /// Runs `operation` until it succeeds or the policy stops it; returns the
    /// value, or a [`RetryError`] with the stop reason and the last error or
    /// flagged value.
    fn call<T, E, F>(&self, mut operation: F) -> Result<T, RetryError<E, T>>
    where
        F: FnMut() -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        self.run_blocking::<ToResult, _, _, _>(|_| operation())
    }

    /// Runs `operation` like [`call`](Self::call) and returns the whole
    /// [`Outcome`].
    fn execute<T, E, F>(&self, mut operation: F) -> Outcome<T, E>
    where
        F: FnMut() -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        self.run_blocking::<ToOutcome, _, _, _>(|_| operation())
    }

    /// Like [`call`](Self::call), handing each attempt its [`Attempt`]
    /// (number, time left, time limit).
    fn call_with<T, E, F>(&self, operation: F) -> Result<T, RetryError<E, T>>
    where
        F: FnMut(Attempt) -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        self.run_blocking::<ToResult, _, _, _>(operation)
    }

    /// Like [`execute`](Self::execute), handing each attempt its
    /// [`Attempt`].
    fn execute_with<T, E, F>(&self, operation: F) -> Outcome<T, E>
    where
        F: FnMut(Attempt) -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        self.run_blocking::<ToOutcome, _, _, _>(operation)
    }

    /// The runner: runs `operation` and ends the call as `End` says.
    #[doc(hidden)]
    fn run_blocking<End, T, E, F>(&self, operation: F) -> End::Output
    where
        End: Report<T, E>,
        F: FnMut(Attempt) -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>;
}

impl<C, R> BlockingPolicy<C, R> for Policy<C, R> {
    #[inline]
    fn run_blocking<End, T, E, F>(&self, operation: F) -> End::Output
    where
        End: Report<T, E>,
        F: FnMut(Attempt) -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        run::<End, _, _, _, _, _, _, _, _>(self, &ThreadSleeper, &SystemClock, operation)
    }
}

impl<C, R, H, S, K> BlockingPolicy<C, R> for Bound<'_, C, R, H, S, K>
where
    H: Hooks,
    S: Slot<ThreadSleeper, Value: BlockingSleeper>,
    K: Slot<SystemClock, Value: Clock>,
{
    #[inline]
    fn run_blocking<End, T, E, F>(&self, operation: F) -> End::Output
    where
        End: Report<T, E>,
        F: FnMut(Attempt) -> Result<T, E>,
        C: Classifier<E>,
        R: ResultClassifier<T>,
    {
        let clock = self.clock_ref().resolve(&SystemClock);
        let sleeper = self.sleeper_ref().resolve(&ThreadSleeper);
        run::<End, _, _, _, _, _, _, _, _>(self, sleeper, clock, operation)
    }
}

/// The blocking runner: calls, runs the sleep hooks, sleeps, and tells the
/// engine; every decision is the engine's.
#[inline]
fn run<End, Site, C, R, T, E, F, Sl, Cl>(
    site: &Site,
    sleeper: &Sl,
    clock: &Cl,
    mut operation: F,
) -> End::Output
where
    End: Report<T, E>,
    Site: CallSite<C, R> + ?Sized,
    C: Classifier<E>,
    R: ResultClassifier<T>,
    F: FnMut(Attempt) -> Result<T, E>,
    Sl: BlockingSleeper + ?Sized,
    Cl: Clock + ?Sized,
{
    #[cfg(feature = "tracing")]
    let span = redress_core::call_span(site.operation_name());
    #[cfg(feature = "tracing")]
    let _in_span = span.enter();
    let mut rng = site.rng();
    let start = clock.now();
    let mut exec = Execution::new(site, start);
    exec.measure_success(End::MEASURES_SUCCESS);
    let mut action = exec.begin(start);
    loop {
        action = match action {
            Action::Attempt(attempt) => exec.record(operation(attempt), clock, &mut rng),
            Action::SleepHooks => {
                let decision = exec.pending_sleep().run_hooks_blocking();
                exec.sleep_decided(decision, clock.now())
            }
            Action::Sleep(delay) => {
                sleeper.sleep(delay);
                exec.resume(clock.now())
            }
            Action::Done => return End::report(&mut exec),
        };
    }
}

/// The policy behind [`retry`]: [`Policy::default`] (the default
/// classifier, decorrelated jitter capped at 5 s, deadline 60 s, 6 attempts,
/// 2 unknown), built once.
pub fn quick_policy() -> &'static Policy<ErrorClassifier, NoResultClassifier> {
    Policy::shared_default()
}

/// Retries `operation` with the reference's one-line defaults: the default
/// classifier and decorrelated jitter capped at 5 s, inside a 60 s deadline
/// and 6 attempts.
///
/// ```
/// use redress_sync::retry;
///
/// let mut tries = 0;
/// let n = retry(|| {
///     tries += 1;
///     if tries == 1 { Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)) } else { Ok(tries) }
/// })?;
/// assert_eq!(n, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn retry<T, E, F>(operation: F) -> Result<T, RetryError<E, T>>
where
    F: FnMut() -> Result<T, E>,
    E: Error + 'static,
{
    quick_policy().call(operation)
}
