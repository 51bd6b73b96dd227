//! W6 HTTP hello (shared BENCH.md): Tokio, current-thread runtime, a hand-written
//! keep-alive responder: a task per connection reads, counts the requests in what it read
//! (each ends at "\r\n\r\n"; GET, no body) and writes one fixed response for each.
//!
//!     w6_http --port=PORT

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn port_arg() -> u16 {
    std::env::args()
        .find_map(|a| {
            a.strip_prefix("--port=")
                .map(|p| p.parse().expect("bad --port"))
        })
        .expect("usage: w6_http --port=PORT")
}

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port_arg())).await?;
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
