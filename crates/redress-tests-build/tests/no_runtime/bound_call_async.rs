use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

async fn run(policy: &Policy) {
    // A call site without its own sleeper and clock needs a runtime feature too.
    let _ = policy
        .operation("fetch")
        .call_async(|| async { Ok::<(), std::io::Error>(()) })
        .await;
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    drop(run(&policy));
}
