use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

async fn fetch() -> Result<u32, std::io::Error> {
    Ok(7)
}

async fn run(policy: &Policy) {
    // Awaiting the `Retry` itself: the compiler only says it is not a
    // future (the `Retry` docs say why); `.call_async()` names the fix.
    let _ = (|| fetch()).retry(policy).await;
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    drop(run(&policy));
}
