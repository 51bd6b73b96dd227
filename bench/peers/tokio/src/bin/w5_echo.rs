//! W5 TCP echo (shared BENCH.md): Tokio, current-thread runtime, one task per connection.
//!
//!     w5_echo --port=PORT

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn port_arg() -> u16 {
    std::env::args()
        .find_map(|a| {
            a.strip_prefix("--port=")
                .map(|p| p.parse().expect("bad --port"))
        })
        .expect("usage: w5_echo --port=PORT")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port_arg())).await?;
    loop {
        let (mut socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if socket.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}
