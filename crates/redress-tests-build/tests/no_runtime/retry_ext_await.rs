use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

async fn fetch() -> Result<u32, std::io::Error> {
    Ok(7)
}

async fn run(policy: &Policy) {
    // `.retry(..)` awaited: the same runner, the same missing runtime.
    let _ = (|| fetch()).retry(policy).call_async().await;
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    drop(run(&policy));
}
