//! Request metrics, recorded once per call (per message on streams) by the handlers, where
//! the method and the final status are both known.
use std::sync::Arc;
use std::time::Instant;

use tonic::{Code, Response, Status};

use crate::engine::Engine;
use crate::metrics::Metrics;

/// Counts a finished call of `method` by status code and records its latency.
pub fn observe<T>(metrics: &Metrics, method: &str, started: Instant, result: &Result<T, Status>) {
    let code = match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    metrics.observe_request(method, code, started.elapsed().as_secs_f64());
}

/// Runs a blocking engine call (job manager, registry: file writes, tensor frees) off the
/// async threads, and records it as `method`.
pub async fn blocking_call<T: Send + 'static>(
    engine: &Arc<Engine>,
    method: &'static str,
    work: impl FnOnce(&Engine) -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let worker = engine.clone();
    let result = tokio::task::spawn_blocking(move || work(&worker))
        .await
        .unwrap_or_else(|e| Err(Status::internal(format!("{method} failed: {e}"))));
    observe(&engine.metrics, method, started, &result);
    result.map(Response::new)
}
