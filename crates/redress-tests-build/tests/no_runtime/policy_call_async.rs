use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

async fn run(policy: &Policy) {
    // No `tokio` or `async-std` feature: no runtime to sleep on.
    let _ = policy.call_async(|| async { Ok::<(), std::io::Error>(()) }).await;
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    drop(run(&policy));
}
