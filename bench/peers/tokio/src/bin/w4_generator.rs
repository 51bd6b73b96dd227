//! W4 generator (shared BENCH.md). Neither Tokio nor stable Rust has generators; the
//! idiomatic equivalent is an `Iterator`. A generator that is passed around is a boxed
//! `dyn Iterator` (one indirect `next()` per value, as a resumed coroutine is), and
//! `yield from` is a level that hands on what the inner iterator yields
//! (`std::iter::from_fn`), so a value passes through every level: the suite gives the
//! delegated sum fewer values (--deep-values).
//!
//!     w4_generator [--values=10000000] [--deep-values=N] [--depth=1000]

#[path = "../workload.rs"]
mod workload;

use std::time::Instant;

type Generator = Box<dyn Iterator<Item = u64>>;

fn count(n: u64) -> Generator {
    Box::new(0..n)
}

fn delegate(mut inner: Generator) -> Generator {
    Box::new(std::iter::from_fn(move || inner.next()))
}

fn timed_sum(g: Generator) -> (u64, f64) {
    let start = Instant::now();
    let mut sum = 0;
    for v in g {
        sum += v;
    }
    (sum, start.elapsed().as_secs_f64())
}

fn main() {
    let n = workload::arg("values", 10_000_000);
    let deep_n = workload::arg("deep-values", 10_000_000);
    let depth = workload::arg("depth", 1_000);
    let (plain_sum, plain_s) = timed_sum(count(n));
    let mut g = count(deep_n);
    for _ in 0..depth {
        g = delegate(g);
    }
    let (deep_sum, deep_s) = timed_sum(g);
    assert_eq!(plain_sum, n * (n - 1) / 2);
    assert_eq!(deep_sum, deep_n * (deep_n - 1) / 2);
    println!(
        "{{\"workload\":\"W4\",\"runtime\":\"rust-iterator\",\"values\":{n},\
         \"seconds\":{plain_s:.4},\"ns_per_value\":{:.2},\"depth\":{depth},\
         \"deep_values\":{deep_n},\"deep_seconds\":{deep_s:.4},\"deep_ns_per_value\":{:.2},\
         \"peak_rss_bytes\":{}}}",
        plain_s * 1e9 / n as f64,
        deep_s * 1e9 / deep_n as f64,
        workload::peak_rss_bytes()
    );
}
