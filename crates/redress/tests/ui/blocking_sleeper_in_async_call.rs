use std::time::Duration;

use redress::backoff::constant;
use redress::prelude::*;

async fn run(policy: &Policy) {
    // A blocking sleeper cannot drive an async call.
    let _ = policy
        .bind()
        .sleeper(|d: Duration| std::thread::sleep(d))
        .call_async(|| async { Ok::<(), std::io::Error>(()) })
        .await;
}

fn main() {
    let policy = Policy::builder().strategy(constant(Duration::ZERO)).build().unwrap();
    drop(run(&policy));
}
