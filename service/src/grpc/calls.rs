//! The call layer: a tower layer around every augmentd service that counts each call in
//! `augmentd_requests_total{method,code}`, times it in `augmentd_request_duration_seconds`,
//! runs it inside a `request` span and logs every failed call once.
//!
//! It sits outside the token interceptors and the codecs, so calls refused before a handler
//! runs (missing or wrong token, a body that does not decode, an unknown method) are counted
//! like the others. A call whose future is dropped before it answers (tonic's own timeout, a
//! client that went away) counts as CANCELLED, which is what its client sees. The load shed of
//! `--concurrency-per-connection` answers outside every user layer and is not seen here.
//!
//! A call counts when its response head is ready: an error answered before any message
//! carries its status in the head (a trailers-only response), anything else is OK so far.
//! That is when a unary call answers, and when a stream opens (WatchJob counts the opening of
//! its watch, as it always has). AugmentStream is the exception: its handler counts every
//! message as one call, so that the latency objective holds per batch; the layer counts only
//! the AugmentStream calls refused before the handler.
//!
//! Health and reflection calls (probes every few seconds) are neither counted nor logged.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::{Code, Status};
use tower::{Layer, Service};
use tracing::{Instrument, Span};

use crate::metrics::Metrics;

use super::services::SERVICE_NAMES;

/// The methods of the augmentd services, the only values the `method` label takes besides
/// [`UNKNOWN_METHOD`].
const METHODS: [&str; 11] = [
    "Augment",
    "AugmentStream",
    "StartTraining",
    "GetJob",
    "ListJobs",
    "CancelJob",
    "WatchJob",
    "ListModels",
    "GetModel",
    "ActivateModel",
    "DeleteModel",
];

/// The `method` label of a path that names no method of ours: a fixed value keeps a client
/// that sends arbitrary paths from creating series without bound.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Methods whose handler counts each message itself.
const PER_MESSAGE: [&str; 1] = ["AugmentStream"];

/// Path prefixes of the services that are not counted.
const UNCOUNTED: [&str; 2] = ["/grpc.health.", "/grpc.reflection."];

/// The `method` label of a request path, or `None` for an uncounted service.
pub fn method_label(path: &str) -> Option<&'static str> {
    if UNCOUNTED.iter().any(|prefix| path.starts_with(prefix)) {
        return None;
    }
    let known = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .filter(|(service, _)| SERVICE_NAMES.contains(service))
        .and_then(|(_, method)| METHODS.iter().find(|m| **m == method));
    Some(known.copied().unwrap_or(UNKNOWN_METHOD))
}

/// The layer; see the module header.
#[derive(Clone)]
pub struct CallLayer {
    metrics: Arc<Metrics>,
}

impl CallLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`CallLayer`].
#[derive(Clone)]
pub struct CallService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// One call being answered; counts as CANCELLED if dropped before its head is ready.
struct Call {
    metrics: Arc<Metrics>,
    method: &'static str,
    started: Instant,
    span: Span,
    done: bool,
}

impl Call {
    /// Records the call with `status` (`None`: OK so far) and logs it if it failed.
    fn finish(&mut self, status: Option<&Status>) {
        self.done = true;
        let code = status.map_or(Code::Ok, Status::code);
        let per_message = PER_MESSAGE.contains(&self.method);
        if !(per_message && code == Code::Ok) {
            let seconds = self.started.elapsed().as_secs_f64();
            self.metrics.observe_request(self.method, code, seconds);
        }
        if let Some(status) = status {
            self.span.in_scope(|| log_failure(self.method, status));
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Some(&Status::cancelled(
                "the call ended before it was answered (deadline or client gone)",
            )));
        }
    }
}

/// One event per failed call: server faults as errors, the client's mistakes as warnings.
fn log_failure(method: &str, status: &Status) {
    let code = augmentd_proto::code_name(status.code());
    let message = status.message();
    match status.code() {
        Code::Ok => {}
        Code::Internal | Code::Unknown | Code::DataLoss => {
            tracing::error!(method, code, message, "call failed");
        }
        Code::Cancelled
        | Code::InvalidArgument
        | Code::DeadlineExceeded
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Unavailable
        | Code::Unauthenticated => tracing::warn!(method, code, message, "call refused"),
    }
}

impl<S, B> Service<http::Request<B>> for CallService<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(method) = method_label(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        let span = tracing::info_span!("request", method, model = tracing::field::Empty);
        let mut call = Call {
            metrics: self.metrics.clone(),
            method,
            started: Instant::now(),
            span: span.clone(),
            done: false,
        };
        let answer = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let result = answer.await;
                match &result {
                    Ok(response) => {
                        call.finish(Status::from_header_map(response.headers()).as_ref())
                    }
                    // The error becomes a status further out (tonic's RecoverError), which
                    // answers UNKNOWN for anything that is not a Status already.
                    Err(_) => call.finish(Some(&Status::unknown("the service failed"))),
                }
                result.map(|response| {
                    let (parts, body) = response.into_parts();
                    let body = Body::new(CallBody {
                        inner: body,
                        method,
                        span: call.span.clone(),
                    });
                    http::Response::from_parts(parts, body)
                })
            }
            .instrument(span),
        )
    }
}

/// A response body that logs the error status a stream (or a late unary failure) ends with.
struct CallBody {
    inner: Body,
    method: &'static str,
    span: Span,
}

impl http_body::Body for CallBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(status) = frame.trailers_ref().and_then(Status::from_header_map) {
                self.span.in_scope(|| log_failure(self.method, &status));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    #[test]
    fn methods_are_labelled_with_a_bounded_set() {
        assert_eq!(
            method_label("/augmentd.v1.Augmenter/Augment"),
            Some("Augment")
        );
        assert_eq!(
            method_label("/augmentd.v1.Training/WatchJob"),
            Some("WatchJob")
        );
        assert_eq!(
            method_label("/augmentd.v1.Models/Nope"),
            Some(UNKNOWN_METHOD)
        );
        assert_eq!(method_label("/x.Y/Augment"), Some(UNKNOWN_METHOD));
        assert_eq!(method_label("garbage"), Some(UNKNOWN_METHOD));
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            method_label("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            None
        );
    }

    fn request(path: &str) -> http::Request<Body> {
        http::Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request")
    }

    fn count(metrics: &Metrics, method: &str, code: &str) -> bool {
        let line = format!("augmentd_requests_total{{code=\"{code}\",method=\"{method}\"}} 1");
        metrics.encode().lines().any(|l| l == line)
    }

    #[tokio::test]
    async fn refusals_in_the_head_are_counted_with_their_code() {
        let metrics = Arc::new(Metrics::new());
        let refuse = tower::service_fn(|_: http::Request<Body>| async {
            Ok::<_, Infallible>(Status::unauthenticated("unknown token").into_http::<Body>())
        });
        let service = CallLayer::new(metrics.clone()).layer(refuse);
        let path = "/augmentd.v1.Augmenter/AugmentStream";
        service.oneshot(request(path)).await.expect("answer");
        assert!(count(&metrics, "AugmentStream", "UNAUTHENTICATED"));
    }

    #[tokio::test]
    async fn answers_count_ok_except_per_message_streams() {
        let metrics = Arc::new(Metrics::new());
        let answer = tower::service_fn(|_: http::Request<Body>| async {
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        });
        let layer = CallLayer::new(metrics.clone());
        let unary = "/augmentd.v1.Models/GetModel";
        layer
            .layer(answer)
            .oneshot(request(unary))
            .await
            .expect("ok");
        let stream = "/augmentd.v1.Augmenter/AugmentStream";
        layer
            .layer(answer)
            .oneshot(request(stream))
            .await
            .expect("ok");
        let health = "/grpc.health.v1.Health/Check";
        layer
            .layer(answer)
            .oneshot(request(health))
            .await
            .expect("ok");
        assert!(count(&metrics, "GetModel", "OK"));
        let text = metrics.encode();
        assert!(!text.contains("method=\"AugmentStream\""), "{text}");
        assert!(!text.contains("Check"), "{text}");
    }

    /// Log lines (JSON) written while `run` runs on this thread.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
            all.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn install(&self) -> tracing::subscriber::DefaultGuard {
            let sink = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_writer(move || sink.clone())
                .finish();
            let guard = tracing::subscriber::set_default(subscriber);
            // Another test thread may have registered a callsite while no subscriber wanted
            // it; its cached "never" would hide this test's span.
            tracing::callsite::rebuild_interest_cache();
            guard
        }

        fn lines(&self) -> Vec<String> {
            let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
            String::from_utf8_lossy(&all)
                .lines()
                .map(String::from)
                .collect()
        }
    }

    #[tokio::test]
    async fn a_refused_call_is_logged_once_inside_its_request_span() {
        let captured = Captured::default();
        let _guard = captured.install();
        let refuse = tower::service_fn(|_: http::Request<Body>| async {
            Ok::<_, Infallible>(Status::unauthenticated("unknown token").into_http::<Body>())
        });
        let service = CallLayer::new(Arc::new(Metrics::new())).layer(refuse);
        let path = "/augmentd.v1.Training/ListJobs";
        service.oneshot(request(path)).await.expect("answer");
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let event: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["fields"]["method"], "ListJobs");
        assert_eq!(event["fields"]["code"], "UNAUTHENTICATED");
        assert_eq!(event["fields"]["message"], "unknown token");
        assert_eq!(event["span"]["name"], "request");
    }

    #[tokio::test]
    async fn a_stream_that_ends_with_an_error_is_logged_once() {
        use http_body_util::BodyExt;

        let captured = Captured::default();
        let _guard = captured.install();
        let stream = tower::service_fn(|_: http::Request<Body>| async {
            let mut trailers = http::HeaderMap::new();
            Status::unavailable("the server is shutting down")
                .add_header(&mut trailers)
                .expect("ascii status");
            let body = http_body_util::Empty::<tonic::codegen::Bytes>::new()
                .map_err(|never| match never {})
                .with_trailers(async move { Some(Ok::<_, Status>(trailers)) });
            Ok::<_, Infallible>(http::Response::new(Body::new(body)))
        });
        let service = CallLayer::new(Arc::new(Metrics::new())).layer(stream);
        let path = "/augmentd.v1.Training/WatchJob";
        let response = service.oneshot(request(path)).await.expect("answer");
        assert!(captured.lines().is_empty(), "the watch opened fine");
        response.into_body().collect().await.expect("the body ends");
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let event: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(event["fields"]["method"], "WatchJob");
        assert_eq!(event["fields"]["code"], "UNAVAILABLE");
    }

    #[tokio::test]
    async fn a_call_dropped_before_answering_counts_as_cancelled() {
        let metrics = Arc::new(Metrics::new());
        let never = tower::service_fn(|_: http::Request<Body>| {
            std::future::pending::<Result<http::Response<Body>, Infallible>>()
        });
        let service = CallLayer::new(metrics.clone()).layer(never);
        let path = "/augmentd.v1.Augmenter/Augment";
        let answer = service.oneshot(request(path));
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(10), answer).await;
        assert!(timed_out.is_err());
        assert!(count(&metrics, "Augment", "CANCELLED"));
    }
}
