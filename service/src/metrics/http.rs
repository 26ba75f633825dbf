//! The `/metrics` endpoint: a tiny HTTP/1.1 server on its own listener, apart from the gRPC
//! port, so scrapes never queue behind augmentation traffic and the port can stay internal.
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Metrics;

/// Content type of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests already being answered may take to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// After an accept error that is not about one connection (out of file descriptors), wait
/// this long before accepting again rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `GET /metrics` (the text exposition, `text/plain; version=0.0.4`) and `GET /healthz`
/// on `listener` until `shutdown` resolves; other paths answer 404 and other methods 405
/// (`HEAD` is answered like `GET`, without a body).
///
/// On shutdown it stops accepting, closes idle keep-alive connections, lets requests being
/// answered finish for up to 5 s, and returns `Ok(())`. It returns an error only if the
/// listener fails for good.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let metrics = Arc::clone(&metrics);
                    let stop = stop_rx.clone();
                    connections.spawn(serve_connection(stream, metrics, stop));
                }
                Err(e) if is_per_connection(&e) => {}
                Err(e) if is_resource_shortage(&e) => {
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
                Err(e) => return Err(e),
            },
            Some(_finished) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drop(stop_tx);
    let drain = async { while connections.join_next().await.is_some() {} };
    // Connections still busy after the bound are aborted when `connections` drops.
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
    Ok(())
}

/// Serves one connection until the client closes it or shutdown is signalled (the sender
/// dropped), then finishes the request in progress, if any.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<()>,
) {
    let service = service_fn(move |request| {
        let response = respond(&metrics, &request);
        async move { Ok::<_, Infallible>(response) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // A client that resets the connection is its own business: nothing to report.
        _ = connection.as_mut() => {}
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// The answer to one request.
fn respond(metrics: &Metrics, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if path != "/metrics" && path != "/healthz" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: try /metrics or /healthz\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path == "/healthz" {
        return plain(StatusCode::OK, "ok\n");
    }
    match metrics.try_encode() {
        Ok(text) => {
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            response
        }
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

/// A short `text/plain` response.
fn plain(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Accept errors about one incoming connection, which the next accept does not repeat.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Accept errors from running out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
/// ENOMEM), which pass once other connections close.
fn is_resource_shortage(e: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
        || e.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::super::test_support::value;
    use super::*;

    /// Sends one `Connection: close` request and returns (status, headers, body).
    async fn request(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
    ) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        let (headers, body) = raw.split_once("\r\n\r\n").expect("header end");
        let status = headers
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        (status, headers.to_ascii_lowercase(), body.to_owned())
    }

    #[tokio::test]
    async fn serves_metrics_and_health_then_stops() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let metrics = Arc::new(Metrics::new());
        metrics.add_images_augmented(42);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, Arc::clone(&metrics), async {
            let _ = stopped.await;
        }));

        let (status, headers, body) = request(addr, "GET", "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            headers.contains("content-type: text/plain; version=0.0.4"),
            "{headers}"
        );
        assert_eq!(
            value(&body, "augmentd_images_augmented_total", &[]),
            Some(42.0)
        );

        let (status, _, body) = request(addr, "GET", "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        let (status, _, body) = request(addr, "HEAD", "/metrics").await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert_eq!(request(addr, "GET", "/").await.0, 404);
        assert_eq!(request(addr, "GET", "/metrics/x").await.0, 404);
        let (status, headers, _) = request(addr, "POST", "/metrics").await;
        assert_eq!(status, 405);
        assert!(headers.contains("allow: get, head"), "{headers}");

        // An idle open connection must not hold shutdown up.
        let _idle = TcpStream::connect(addr).await.expect("connect");
        stop.send(()).expect("server listening");
        let result = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("server stops within the drain bound")
            .expect("server task did not panic");
        assert!(result.is_ok(), "{result:?}");
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }

    #[tokio::test]
    async fn keep_alive_connection_closes_on_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, Arc::new(Metrics::new()), async {
            let _ = stopped.await;
        }));
        // A keep-alive request answered in full: the server now holds an idle connection.
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut buf = vec![0_u8; 1024];
        let mut got = String::new();
        while !got.ends_with("ok\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed early: {got}");
            got.push_str(std::str::from_utf8(&buf[..n]).expect("utf-8"));
        }
        stop.send(()).expect("server listening");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("server stops")
            .expect("no panic")
            .expect("ok");
        // The server closed its end: the client reads end of stream.
        assert_eq!(stream.read(&mut buf).await.expect("read"), 0);
    }
}
