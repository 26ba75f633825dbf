//! `augmentd serve` as a library: binds the gRPC and metrics listeners, opens the engine,
//! warms it up, serves until told to stop, then drains within a bound and stops the engine
//! (running jobs stop at a step boundary and resume at the next start).
//!
//! Health (`grpc.health.v1`) says NOT_SERVING until the engine is warm and again as soon as a
//! shutdown begins; health and reflection need no token.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use augmentd_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;

use crate::engine::{Engine, EngineError};
use crate::metrics::{serve_metrics, Metrics};

use super::arrival::ArrivalLayer;
use super::augmenter::AugmenterService;
use super::auth::{Authorize, Scope};
use super::calls::CallLayer;
use super::models::ModelsService;
use super::serve_config::{ServeConfig, TlsFiles};
use super::services::SERVICE_NAMES;
use super::training::TrainingService;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS file could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The engine could not open the state dir or start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The gRPC transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A blocking task died.
    #[error("internal: {0}")]
    Internal(String),
}

/// A running server.
pub struct ServerHandle {
    /// The bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// The bound metrics address.
    pub metrics_addr: Option<SocketAddr>,
    /// The engine (for in-process callers such as benchmarks).
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl ServerHandle {
    /// Starts a graceful shutdown and waits for it.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone; waiting below reports how it ended.
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task
            .await
            .map_err(|e| ServeError::Internal(e.to_string()))?
    }

    /// A sender that starts the shutdown (for signal handlers).
    pub fn take_stop(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn tls_config(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| ServeError::Tls(format!("{}: {e}", path.display())))
    };
    let mut tls =
        ServerTlsConfig::new().identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?));
    if let Some(ca) = &files.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(tls)
}

async fn set_all(reporter: &tonic_health::server::HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Binds, opens the engine, warms up and starts serving.
pub async fn start(config: ServeConfig) -> Result<ServerHandle, ServeError> {
    let metrics = Arc::new(Metrics::new());
    let grpc_listener = bind(config.listen).await?;
    let grpc_addr = grpc_listener
        .local_addr()
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    let (reporter, health) = tonic_health::server::health_reporter();
    set_all(&reporter, ServingStatus::NotServing).await;

    let engine_config = config.engine.clone();
    let engine_metrics = metrics.clone();
    let engine = tokio::task::spawn_blocking(move || -> Result<Engine, EngineError> {
        let engine = Engine::open(&engine_config, engine_metrics)?;
        engine.warm_up()?;
        engine.jobs.start_scheduling();
        Ok(engine)
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))??;
    let engine = Arc::new(engine);

    let tokens = Arc::new(config.tokens.clone());
    let limit = config.max_message_bytes;
    // The transport accepts a little more than the limit so that the handler, not the codec,
    // refuses an oversized batch, with a message that says what to do.
    let codec_limit = limit.saturating_add(limit / 8).saturating_add(1 << 20);
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let augmenter = InterceptedService::new(
        pb::augmenter_server::AugmenterServer::new(AugmenterService::new(engine.clone(), limit))
            .max_decoding_message_size(codec_limit)
            .max_encoding_message_size(usize::MAX),
        Authorize::new(tokens.clone(), Scope::Augment),
    );
    let training = pb::training_server::TrainingServer::with_interceptor(
        TrainingService::new(engine.clone(), stopping_rx),
        Authorize::new(tokens.clone(), Scope::Admin),
    );
    let models = pb::models_server::ModelsServer::with_interceptor(
        ModelsService::new(engine.clone()),
        Authorize::new(tokens, Scope::Admin),
    );
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Internal(format!("reflection: {e}")))?;

    let mut builder = Server::builder()
        .layer(ArrivalLayer)
        .layer(CallLayer::new(metrics.clone()))
        .load_shed(true)
        .concurrency_limit_per_connection(config.concurrency_per_connection.get());
    if let Some(timeout) = config.request_timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(files) = &config.tls {
        builder = builder
            .tls_config(tls_config(files)?)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    let router = builder
        .add_service(health)
        .add_service(reflection)
        .add_service(augmenter)
        .add_service(training)
        .add_service(models);

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (metrics_stop_tx, metrics_stop_rx) = oneshot::channel::<()>();
    let metrics_task = metrics_listener.map(|listener| {
        tokio::spawn(serve_metrics(listener, metrics.clone(), async move {
            let _ = metrics_stop_rx.await;
        }))
    });
    set_all(&reporter, ServingStatus::Serving).await;
    tracing::info!(
        target: "augmentd",
        version = env!("CARGO_PKG_VERSION"),
        grpc = %grpc_addr,
        metrics = %metrics_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        tls = config.tls.is_some(),
        device = ?engine.pool.device(),
        workers = engine.pool.workers(),
        torch_threads = engine.pool.torch_threads(),
        job_slots = config.engine.job_slots.get(),
        "serving"
    );
    let drain = config.drain_timeout;
    let task_engine = engine.clone();
    let task = tokio::spawn(async move {
        let (drain_tx, mut drain_rx) = watch::channel(false);
        let serve = router.serve_with_incoming_shutdown(
            TcpListenerStream::new(grpc_listener),
            async move {
                let _ = drain_rx.wait_for(|d| *d).await;
            },
        );
        tokio::pin!(serve);
        let served = tokio::select! {
            result = &mut serve => result.map_err(ServeError::from),
            _ = stop_rx => {
                tracing::info!(target: "augmentd", timeout = ?drain, "draining: health says NOT_SERVING, new calls are refused");
                set_all(&reporter, ServingStatus::NotServing).await;
                let _ = stopping_tx.send(true);
                let _ = drain_tx.send(true);
                match tokio::time::timeout(drain, &mut serve).await {
                    Ok(result) => {
                        tracing::info!(target: "augmentd", "drained: every call answered");
                        result.map_err(ServeError::from)
                    }
                    Err(_) => {
                        tracing::warn!(target: "augmentd", timeout = ?drain, "drain timeout reached; closing the remaining calls");
                        Ok(())
                    }
                }
            }
        };
        let engine = task_engine;
        tokio::task::spawn_blocking(move || engine.shutdown(drain))
            .await
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        tracing::info!(target: "augmentd", "engine stopped: jobs checkpointed, workers joined");
        let _ = metrics_stop_tx.send(());
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        served
    });
    Ok(ServerHandle {
        grpc_addr,
        metrics_addr,
        engine,
        stop: Some(stop_tx),
        task,
    })
}
