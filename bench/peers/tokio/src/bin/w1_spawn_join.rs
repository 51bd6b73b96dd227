//! W1 spawn-join (shared BENCH.md): tokio::spawn N tasks (1,000,000), each returns its
//! index; await every JoinHandle; print the sum. Current-thread runtime.
//!
//!     w1_spawn_join [--tasks=1000000]

#[path = "../workload.rs"]
mod workload;

use std::time::Instant;

async fn work(i: u64) -> u64 {
    i
}

async fn spawn_join(n: u64) -> u64 {
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(work(i))).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("task failed");
    }
    sum
}

fn main() {
    let n = workload::arg("tasks", 1_000_000);
    let rss_before = workload::peak_rss_bytes();
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sum = runtime.block_on(spawn_join(n));
    let elapsed = start.elapsed().as_secs_f64();
    let rss_after = workload::peak_rss_bytes();
    assert_eq!(sum, n * (n - 1) / 2);
    println!(
        "{{\"workload\":\"W1\",\"runtime\":\"tokio\",\"tasks\":{n},\"sum\":{sum},\
         \"seconds\":{elapsed:.4},\"ns_per_task\":{:.1},\"peak_rss_bytes\":{rss_after},\
         \"bytes_per_task\":{:.1}}}",
        elapsed * 1e9 / n as f64,
        (rss_after - rss_before) as f64 / n as f64
    );
}
