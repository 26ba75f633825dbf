//! Request metrics, recorded once per call (per message on streams) by the handlers, where
//! the method and the final status are both known.
use std::time::Instant;

use tonic::{Code, Status};

use crate::metrics::Metrics;

/// Counts a finished call of `method` by status code and records its latency.
pub fn observe<T>(metrics: &Metrics, method: &str, started: Instant, result: &Result<T, Status>) {
    let code = match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    metrics.observe_request(method, code, started.elapsed().as_secs_f64());
}
