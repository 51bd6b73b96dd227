//! W3 ping-pong (shared BENCH.md): two tasks pass an int through two
//! tokio::sync::mpsc channels of capacity 1, 1,000,000 round trips. Reports ns per round
//! trip. Current-thread runtime.
//!
//!     w3_ping_pong [--trips=1000000]

#[path = "../workload.rs"]
mod workload;

use std::time::Instant;
use tokio::sync::mpsc;

async fn ping_pong(trips: u64) -> u64 {
    let (there_tx, mut there_rx) = mpsc::channel::<u64>(1);
    let (back_tx, mut back_rx) = mpsc::channel::<u64>(1);
    let ping = tokio::spawn(async move {
        let mut last = 0;
        for i in 0..trips {
            there_tx.send(i).await.expect("pong gone");
            last = back_rx.recv().await.expect("pong gone");
        }
        last
    });
    let pong = tokio::spawn(async move {
        for _ in 0..trips {
            let v = there_rx.recv().await.expect("ping gone");
            back_tx.send(v + 1).await.expect("ping gone");
        }
    });
    let last = ping.await.expect("ping failed");
    pong.await.expect("pong failed");
    last
}

fn main() {
    let trips = workload::arg("trips", 1_000_000);
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let last = runtime.block_on(ping_pong(trips));
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(last, trips);
    println!(
        "{{\"workload\":\"W3\",\"runtime\":\"tokio\",\"round_trips\":{trips},\
         \"seconds\":{elapsed:.4},\"ns_per_round_trip\":{:.1},\"peak_rss_bytes\":{}}}",
        elapsed * 1e9 / trips as f64,
        workload::peak_rss_bytes()
    );
}
