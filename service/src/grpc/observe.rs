//! What the handlers share: the per-message metrics of AugmentStream (every other call is
//! counted by the call layer, `calls.rs`) and running blocking engine calls off the runtime.
use std::sync::Arc;
use std::time::Instant;

use tonic::{Code, Response, Status};

use crate::engine::Engine;
use crate::metrics::Metrics;

/// Counts one finished message of a stream `method` by status code and records its latency.
pub fn observe<T>(metrics: &Metrics, method: &str, started: Instant, result: &Result<T, Status>) {
    let code = match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    metrics.observe_request(method, code, started.elapsed().as_secs_f64());
}

/// Runs a blocking engine call (job manager, registry: file writes, tensor frees) off the
/// async threads; `method` names the call in the message of a task that died.
pub async fn blocking_call<T: Send + 'static>(
    engine: &Arc<Engine>,
    method: &'static str,
    work: impl FnOnce(&Engine) -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    let worker = engine.clone();
    // The blocking thread does not inherit the request span; take it along.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| work(&worker)))
        .await
        .unwrap_or_else(|e| Err(Status::internal(format!("{method} failed: {e}"))))
        .map(Response::new)
}
