//! Fleet-wide circuit breakers and retry budgets for [redress], shared
//! through Redis.
//!
//! A service runs as many replicas. With a local breaker, each replica
//! must see its own `failure_threshold` failures before it opens, so a
//! dependency that is down takes N × threshold failed calls across the
//! fleet to be noticed; with a local budget, each replica bounds only its
//! own retries, and the fleet can still storm. [`FleetBreaker`] and
//! [`FleetBudget`] share that state across every process that uses the
//! same name on the same Redis, through the very traits the local ones
//! implement ([`Breaker`](redress_core::Breaker),
//! [`Budget`](redress_core::Budget)): a policy takes them like any other,
//! and the engine never learns about Redis.
//!
//! - **No Redis on the hot path.** Each process keeps the local lock-free
//!   breaker and a few leased budget tokens as its fast path; a background
//!   task syncs every `sync_interval` (failures pushed in batches, the
//!   fleet's state pulled, budget tokens leased in small batches), and at
//!   once after a transition.
//! - **One atomic script per key.** Every sync is one Lua script on one
//!   hash, bucketed by the server's clock: one round trip, safe on Redis
//!   Cluster, no lock held anywhere, let alone while a call runs.
//! - **One probe for the fleet.** The half-open probe is a token with an
//!   expiry: a probe whose process dies frees the slot after the lease.
//! - **Store outages never fail a call.** When Redis is unreachable a
//!   breaker or budget goes on with its local state (or fails open or
//!   closed, as configured), says so through a [`FleetEvent`], and merges
//!   what it counted meanwhile when Redis returns.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use redress::backoff::decorrelated_jitter;
//! use redress::{AsyncPolicy, ErrorClass, Policy};
//! use redress_redis::{FleetBreaker, FleetBudget, FleetStore};
//!
//! # let Some(url) = redress_test_services::redis_url() else { return Ok(()) };
//! // let url = std::env::var("REDIS_URL")?; // redis://127.0.0.1:6379
//! let store = FleetStore::builder(url)
//!     .prefix("checkout")
//!     .on_event(|event| eprintln!("fleet: {event}"))
//!     .build()?;
//! let breaker = Arc::new(FleetBreaker::builder("payments-api").failure_threshold(20).build(&store)?);
//! let budget = Arc::new(FleetBudget::rolling("payments-api", 500, Duration::from_secs(60)).build(&store)?);
//!
//! let policy = Policy::builder()
//!     .classifier(|_: &std::io::Error| ErrorClass::Transient)
//!     .strategy(decorrelated_jitter().max(Duration::from_secs(2)))
//!     .circuit_breaker(breaker)
//!     .budget(budget)
//!     .build()?;
//! let status = policy.call_async(|| async { Ok::<_, std::io::Error>(200) }).await?;
//! assert_eq!(status, 200);
//! # Ok(())
//! # }
//! ```
//!
//! The examples that need a server skip without `REDRESS_REDIS_URL` (see
//! `docs/contributing.md` in the repository). `docs/fleet.md` explains the
//! design, the staleness bound, what happens when Redis is down, the
//! budget's lease slack, and how this compares with other libraries'
//! distributed breakers.
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `config` | no | `ConfigResolver`: builds the `store = "redis://..."` breakers and budgets that redress-config files declare |
//! | `tracing` | no | every [`FleetEvent`] as a `tracing` event (target `redress_redis`) |
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88, which redis-rs 1.x needs (the rest of redress needs 1.85).
//!
//! [redress]: https://docs.rs/redress

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod backlog;
mod breaker;
mod budget;
#[cfg(feature = "config")]
mod config;
mod error;
mod event;
mod scripts;
mod store;

pub use breaker::{FleetBreaker, FleetBreakerBuilder};
pub use budget::{FleetBudget, FleetBudgetBuilder};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::ConfigResolver;
pub use error::{FleetError, StoreError, StoreErrorKind};
pub use event::{FleetEvent, OnStoreError};
pub use store::{FleetStore, FleetStoreBuilder};

/// The snippets of `docs/fleet.md`, compiled and run as doctests (those
/// that need a server skip without `REDRESS_REDIS_URL`).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/fleet.md")]
pub struct FleetDoctests;
