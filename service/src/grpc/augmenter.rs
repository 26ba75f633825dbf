//! The Augmenter service: check, admit (resolving the model version once), queue to the
//! engine, answer. Streams pipeline: while one batch is computed the next is already
//! admitted, and responses leave in request order.
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use augmentd_proto::v1 as pb;
use pb::augmenter_server::Augmenter;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::engine::{AugmentReply, Engine, EngineError};
use crate::metrics::InflightGuard;

use super::arrival::arrival_of;
use super::convert;
use super::observe::observe;

/// Batches of one stream admitted ahead of the one being answered.
const STREAM_PIPELINE: usize = 4;

/// The service.
pub struct AugmenterService {
    engine: Arc<Engine>,
    max_message_bytes: usize,
}

impl AugmenterService {
    /// Serves `engine`, refusing batches larger than `max_message_bytes`.
    pub fn new(engine: Arc<Engine>, max_message_bytes: usize) -> Self {
        Self {
            engine,
            max_message_bytes,
        }
    }
}

/// The client's deadline, from the `grpc-timeout` metadata (`<digits><unit>`).
pub fn deadline_of(metadata: &tonic::metadata::MetadataMap, received: Instant) -> Option<Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    // tonic's own timeout answers CANCELLED at the deadline; answering a little earlier lets
    // the client see DEADLINE_EXCEEDED.
    let margin = (timeout / 10)
        .max(Duration::from_millis(5))
        .min(timeout / 2)
        .min(Duration::from_millis(50));
    Some(received + timeout.saturating_sub(margin))
}

/// One admitted batch waiting for its answer.
struct Pending {
    reply: AugmentReply,
    request_id: String,
    deadline: Option<Instant>,
    started: Instant,
    _inflight: InflightGuard,
}

async fn answer(pending: Pending) -> Result<pb::AugmentResponse, Status> {
    let output = match pending.deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), pending.reply)
            .await
            .map_err(|_| EngineError::DeadlineExceeded("while the batch was augmented"))?,
        None => pending.reply.await,
    }
    .map_err(|_| EngineError::ShuttingDown)??;
    Ok(convert::augment_response(output, pending.request_id))
}

impl AugmenterService {
    /// Checks and queues one request; `wait` waits for room instead of refusing.
    async fn admit(
        &self,
        request: pb::AugmentRequest,
        deadline: Option<Instant>,
        wait: bool,
    ) -> Result<Pending, Status> {
        let started = Instant::now();
        let inflight = self.engine.metrics.inflight();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(EngineError::DeadlineExceeded("before the batch was queued").into());
        }
        let request_id = request.request_id.clone();
        let params = convert::augment_params(request, deadline, self.max_message_bytes)?;
        let task = self.engine.admit(params)?;
        // The request span (opened by the call layer) names the version that answers.
        let model = &task.model.meta;
        tracing::Span::current().record(
            "model",
            tracing::field::display(format_args!("{}@{}", model.name, model.version)),
        );
        let reply = if wait {
            self.engine.pool.submit(task).await?
        } else {
            self.engine.pool.try_submit(task)?
        };
        Ok(Pending {
            reply,
            request_id,
            deadline,
            started,
            _inflight: inflight,
        })
    }
}

#[tonic::async_trait]
impl Augmenter for AugmenterService {
    async fn augment(
        &self,
        request: Request<pb::AugmentRequest>,
    ) -> Result<Response<pb::AugmentResponse>, Status> {
        let deadline = deadline_of(request.metadata(), arrival_of(&request));
        let pending = self.admit(request.into_inner(), deadline, false).await?;
        answer(pending).await.map(Response::new)
    }

    type AugmentStreamStream =
        Pin<Box<dyn Stream<Item = Result<pb::AugmentResponse, Status>> + Send + 'static>>;

    async fn augment_stream(
        &self,
        request: Request<Streaming<pb::AugmentRequest>>,
    ) -> Result<Response<Self::AugmentStreamStream>, Status> {
        let deadline = deadline_of(request.metadata(), arrival_of(&request));
        let mut inbound = request.into_inner();
        let (pending_tx, mut pending_rx) =
            mpsc::channel::<Result<Pending, Status>>(STREAM_PIPELINE);
        let (out_tx, out_rx) = mpsc::channel(STREAM_PIPELINE);
        let service = AugmenterService {
            engine: self.engine.clone(),
            max_message_bytes: self.max_message_bytes,
        };
        // The spawned halves stay inside the call's span, so their events name the call.
        let span = tracing::Span::current();
        tokio::spawn(
            async move {
                loop {
                    let next = match inbound.message().await {
                        Ok(Some(request)) => service.admit(request, deadline, true).await,
                        Ok(None) => break,
                        Err(status) => Err(status),
                    };
                    let failed = next.is_err();
                    if pending_tx.send(next).await.is_err() || failed {
                        break;
                    }
                }
            }
            .instrument(span.clone()),
        );
        let metrics = self.engine.metrics.clone();
        tokio::spawn(
            async move {
                while let Some(pending) = pending_rx.recv().await {
                    let (started, result) = match pending {
                        Ok(p) => (p.started, answer(p).await),
                        Err(status) => (Instant::now(), Err(status)),
                    };
                    observe(&metrics, "AugmentStream", started, &result);
                    let failed = result.is_err();
                    if out_tx.send(result).await.is_err() || failed {
                        break;
                    }
                }
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units_are_read() {
        let now = Instant::now();
        let at = |v: &str| {
            let mut m = tonic::metadata::MetadataMap::new();
            m.insert("grpc-timeout", v.parse().expect("ascii"));
            deadline_of(&m, now).map(|d| d - now)
        };
        assert_eq!(at("100m"), Some(Duration::from_millis(90)));
        assert_eq!(at("20m"), Some(Duration::from_millis(15)));
        assert_eq!(at("4m"), Some(Duration::from_millis(2)));
        assert_eq!(at("2S"), Some(Duration::from_millis(1950)));
        assert_eq!(at("1M"), Some(Duration::from_millis(59_950)));
        assert_eq!(at("10x"), None);
        assert_eq!(at("m"), None);
        assert_eq!(deadline_of(&tonic::metadata::MetadataMap::new(), now), None);
    }
}
