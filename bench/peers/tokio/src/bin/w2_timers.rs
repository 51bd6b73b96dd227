//! W2 timers (shared BENCH.md): N tasks (1,000,000) each tokio::time::sleep for
//! (i*7919) % 1000 ms; await them all. Reports the wall time (ideal 1.0 s) and peak RSS per
//! sleeping task. Current-thread runtime.
//!
//!     w2_timers [--tasks=1000000]

#[path = "../workload.rs"]
mod workload;

use std::time::{Duration, Instant};

async fn sleep_all(n: u64) -> u64 {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis((i * 7919) % 1000)).await;
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task failed");
    }
    n
}

fn main() {
    let n = workload::arg("tasks", 1_000_000);
    let rss_before = workload::peak_rss_bytes();
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let done = runtime.block_on(sleep_all(n));
    let elapsed = start.elapsed().as_secs_f64();
    let rss_after = workload::peak_rss_bytes();
    println!(
        "{{\"workload\":\"W2\",\"runtime\":\"tokio\",\"tasks\":{done},\"seconds\":{elapsed:.4},\
         \"peak_rss_bytes\":{rss_after},\"bytes_per_task\":{:.1}}}",
        (rss_after - rss_before) as f64 / n as f64
    );
}
