use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    // Async hooks need an async runner; the blocking one refuses them.
    let _ = policy
        .bind()
        .before_sleep_async(async |_ctx, _delay| {})
        .call(|| Ok::<(), std::io::Error>(()));
}
