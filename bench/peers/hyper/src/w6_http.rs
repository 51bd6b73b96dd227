//! W6 HTTP hello (shared BENCH.md): hyper 0.14's server on Tokio's current-thread runtime,
//! HTTP/1.1 only, as hyper's own hello-world example writes it.
//!
//!     w6_http --port=PORT

use std::convert::Infallible;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};

fn port_arg() -> u16 {
    std::env::args()
        .find_map(|a| {
            a.strip_prefix("--port=")
                .map(|p| p.parse().expect("bad --port"))
        })
        .expect("usage: w6_http --port=PORT")
}

async fn hello(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::builder()
        .header("Content-Type", "text/plain")
        .body(Body::from("Hello, World!"))
        .unwrap())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = ([127, 0, 0, 1], port_arg()).into();
    let make_svc = make_service_fn(|_conn| async { Ok::<_, Infallible>(service_fn(hello)) });
    let server = Server::bind(&addr)
        .http1_only(true)
        .tcp_nodelay(true)
        .serve(make_svc);
    if let Err(e) = server.await {
        eprintln!("w6_http: {e}");
        std::process::exit(1);
    }
}
