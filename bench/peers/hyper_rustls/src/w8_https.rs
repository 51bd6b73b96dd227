//! W8 HTTPS hello: hyper 0.14's HTTP/1.1 connections over tokio-rustls (rustls 0.20, its
//! safe defaults: TLS 1.3 and 1.2) on Tokio's current-thread runtime, a task per
//! connection, as hyper's own TLS examples write it.
//!
//!     w8_https --port=PORT --cert=CERT --key=KEY    (PEM files; the key in PKCS#8)

use std::convert::Infallible;
use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use hyper::server::conn::Http;
use hyper::service::service_fn;
use hyper::{Body, Request, Response};
use tokio::net::TcpListener;
use tokio_rustls::{rustls, TlsAcceptor};

fn arg(name: &str) -> String {
    let prefix = format!("--{name}=");
    std::env::args()
        .find_map(|a| a.strip_prefix(&prefix).map(String::from))
        .unwrap_or_else(|| panic!("usage: w8_https --port=PORT --cert=CERT --key=KEY"))
}

async fn hello(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::builder()
        .header("Content-Type", "text/plain")
        .body(Body::from("Hello, World!"))
        .unwrap())
}

fn tls_config(cert: &str, key: &str) -> rustls::ServerConfig {
    let certs = rustls_pemfile::certs(&mut BufReader::new(File::open(cert).expect("cert")))
        .expect("certificates")
        .into_iter()
        .map(rustls::Certificate)
        .collect();
    let key = rustls_pemfile::pkcs8_private_keys(&mut BufReader::new(File::open(key).expect("key")))
        .expect("a PKCS#8 key")
        .remove(0);
    let mut config = rustls::ServerConfig::builder()
        .with_safe_defaults()
        .with_no_client_auth()
        .with_single_cert(certs, rustls::PrivateKey(key))
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = arg("port").parse().expect("bad --port");
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(&arg("cert"), &arg("key"))));
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                let _ = Http::new()
                    .http1_only(true)
                    .serve_connection(tls, service_fn(hello))
                    .await;
            }
        });
    }
}
