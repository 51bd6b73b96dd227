//! W9 every core (shared BENCH.md): W6's hyper 0.14 server, HTTP/1.1 only, with --work-us
//! µs of CPU work per request (spin until the thread has used that much CPU time, then
//! answer), on Tokio's multi-thread runtime with --threads worker threads.
//!
//!     w9_http --port=PORT --threads=N --work-us=50

use std::convert::Infallible;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};

fn arg(name: &str, fallback: u64) -> u64 {
    let prefix = format!("--{name}=");
    std::env::args()
        .find_map(|a| {
            a.strip_prefix(&prefix)
                .map(|v| v.parse().expect("bad number"))
        })
        .unwrap_or(fallback)
}

/// clock_gettime(CLOCK_THREAD_CPUTIME_ID): this thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// Spin until this thread has used `ns` nanoseconds of CPU time.
fn burn_cpu(ns: i64) {
    let until = thread_cpu_ns() + ns;
    while thread_cpu_ns() < until {}
}

async fn hello(work_ns: i64) -> Result<Response<Body>, Infallible> {
    if work_ns > 0 {
        burn_cpu(work_ns);
    }
    Ok(Response::builder()
        .header("Content-Type", "text/plain")
        .body(Body::from("Hello, World!"))
        .unwrap())
}

fn main() {
    let addr = ([127, 0, 0, 1], arg("port", 0) as u16).into();
    let threads = arg("threads", 1) as usize;
    let work_ns = arg("work-us", 0) as i64 * 1000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("w9_http: no runtime");
    runtime.block_on(async move {
        let make_svc = make_service_fn(move |_conn| async move {
            Ok::<_, Infallible>(service_fn(move |_: Request<Body>| hello(work_ns)))
        });
        let server = Server::bind(&addr)
            .http1_only(true)
            .tcp_nodelay(true)
            .serve(make_svc);
        if let Err(e) = server.await {
            eprintln!("w9_http: {e}");
            std::process::exit(1);
        }
    });
}
