//! W9 every core (shared BENCH.md): W6's hand-written keep-alive responder with
//! --work-us µs of CPU work per request (spin until the thread has used that much CPU
//! time, then answer), on Tokio's multi-thread runtime with --threads worker threads: a
//! task per connection, the runtime's work-stealing scheduler spreads them.
//!
//!     w9_http --port=PORT --threads=N --work-us=50

#[path = "../workload.rs"]
#[allow(dead_code)]
mod workload;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
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

async fn serve(port: u16, work_ns: i64) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (mut socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut out = Vec::with_capacity(4096);
            loop {
                match socket.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let mut used = 0;
                while let Some(end) = find_end(&buf[used..]) {
                    used += end;
                    if work_ns > 0 {
                        burn_cpu(work_ns);
                    }
                    out.extend_from_slice(RESPONSE);
                }
                buf.drain(..used);
                if !out.is_empty() {
                    if socket.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    let port = workload::arg("port", 0) as u16;
    let threads = workload::arg("threads", 1) as usize;
    let work_ns = workload::arg("work-us", 0) as i64 * 1000;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(serve(port, work_ns))
}
