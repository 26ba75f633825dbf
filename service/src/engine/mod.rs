//! The engine: every piece of tensor work of the service, on threads it owns. The gRPC layer
//! only checks requests, hands them over through bounded queues and converts answers.
//!
//! - [`models`]: published versions and which one serves;
//! - [`augment`]: the augment worker pool;
//! - [`jobs`]: training jobs, their threads and their persistence;
//! - [`batch`]: raw image batches and their conversion to and from tensors;
//! - [`state_lock`]: one server per state dir;
//! - [`threads`]: thread counts from the CPUs the process may use.
pub mod augment;
pub mod batch;
mod dataset;
mod error;
pub mod jobs;
pub mod models;
pub mod state_lock;
pub mod threads;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tch::Device;

use crate::device::DeviceSpec;
use crate::metrics::Metrics;
use crate::store::StateDir;

pub use augment::{AugmentOutput, AugmentPool, AugmentReply, AugmentTask, PoolConfig};
pub use batch::{BatchDims, Layout, PixelType, RawBatch};
pub use dataset::resolve_dataset;
pub use error::EngineError;
pub use jobs::{
    JobManager, JobRecord, JobState, JobUpdate, JobsConfig, StepProgress, TrainingRequest, Watch,
};
pub use models::{ModelEntry, ModelMeta, ModelRegistry, ModelSpec, ModelView, Provenance};
pub use state_lock::StateLock;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Models, jobs and runs live here.
    pub state_dir: PathBuf,
    /// Datasets are resolved inside it.
    pub data_dir: Option<PathBuf>,
    /// Where tensors live.
    pub device: DeviceSpec,
    /// Augment worker threads.
    pub workers: NonZeroUsize,
    /// libtorch intra-op threads (`None`: the CPUs the process may use divided among the
    /// workers; see [`threads`]).
    pub torch_threads: Option<NonZeroUsize>,
    /// Batches that may wait for a worker.
    pub queue_depth: NonZeroUsize,
    /// Output images (images × copies) per request at most.
    pub max_batch_images: NonZeroUsize,
    /// Training jobs running at once.
    pub job_slots: NonZeroUsize,
}

/// One Augment request, checked for shape but not yet admitted.
#[derive(Debug)]
pub struct AugmentParams {
    /// `name`, `name@version` or empty.
    pub model: String,
    /// The batch.
    pub batch: RawBatch,
    /// The seed, if the client chose one.
    pub seed: Option<u64>,
    /// Copies per image (0 means 1).
    pub copies: u32,
    /// Return transformation parameters.
    pub return_params: bool,
    /// Skip the model's hand-crafted base.
    pub learned_only: bool,
    /// TRAIN sampling (dropout on).
    pub dropout: bool,
    /// The client's deadline.
    pub deadline: Option<Instant>,
}

/// The engine.
pub struct Engine {
    /// Published versions.
    pub registry: Arc<ModelRegistry>,
    /// The augment workers.
    pub pool: AugmentPool,
    /// Training jobs.
    pub jobs: JobManager,
    /// The metrics everything reports to.
    pub metrics: Arc<Metrics>,
    max_batch_images: usize,
    state_lock: StateLock,
}

impl Engine {
    /// Opens the state dir (loading every published version) and starts the workers. Blocks:
    /// call it off the async runtime.
    pub fn open(config: &EngineConfig, metrics: Arc<Metrics>) -> Result<Self, EngineError> {
        let device = config
            .device
            .resolve()
            .map_err(|e| EngineError::invalid("device", e.to_string()))?;
        let state_lock = StateLock::acquire(&config.state_dir)?;
        let torch_threads = config
            .torch_threads
            .unwrap_or_else(|| threads::intra_op_share(threads::available_cpus(), config.workers));
        threads::set_intra_op_threads(torch_threads);
        let registry = Arc::new(ModelRegistry::open(
            StateDir::new(&config.state_dir).models().root(),
            metrics.clone(),
        )?);
        let pool = AugmentPool::start(
            PoolConfig {
                workers: config.workers,
                queue_depth: config.queue_depth,
                torch_threads,
                device,
            },
            metrics.clone(),
        )?;
        let jobs = JobManager::open(
            JobsConfig {
                dir: StateDir::new(&config.state_dir).jobs().root().to_path_buf(),
                data_dir: config.data_dir.clone(),
                device: device_name(device),
                slots: config.job_slots.get(),
            },
            registry.clone(),
            metrics.clone(),
        )?;
        Ok(Self {
            registry,
            pool,
            jobs,
            metrics,
            max_batch_images: config.max_batch_images.get(),
            state_lock,
        })
    }

    /// Checks a request against its model and the limits, and resolves its version.
    pub fn admit(&self, params: AugmentParams) -> Result<AugmentTask, EngineError> {
        let spec = ModelSpec::parse(&params.model, "model")?;
        let model = self.registry.resolve(&spec)?;
        let copies = params.copies.max(1) as usize;
        params.batch.check_for(
            model.meta.info.shape.channels,
            self.max_batch_images,
            copies,
        )?;
        Ok(AugmentTask {
            model,
            batch: params.batch,
            seed: params.seed.unwrap_or_else(rand::random),
            copies,
            return_params: params.return_params,
            learned_only: params.learned_only,
            dropout: params.dropout,
            deadline: params.deadline,
        })
    }

    /// Runs one small batch through every worker on the default model (if there is one), so
    /// that the first real request does not pay for the first forward pass. Blocks.
    pub fn warm_up(&self) -> Result<(), EngineError> {
        let Some(model) = self.registry.default_entry() else {
            return Ok(());
        };
        let c = model.meta.info.shape.channels;
        let side = 8usize;
        let replies = (0..self.warm_up_tasks())
            .map(|_| {
                let batch = RawBatch::new(
                    vec![128; c * side * side],
                    PixelType::Uint8,
                    Layout::Nchw,
                    &[1, c as i64, side as i64, side as i64],
                    false,
                )?;
                self.pool.try_submit(AugmentTask {
                    model: model.clone(),
                    batch,
                    seed: 0,
                    copies: 1,
                    return_params: false,
                    learned_only: false,
                    dropout: true,
                    deadline: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for reply in replies {
            reply
                .blocking_recv()
                .map_err(|_| EngineError::ShuttingDown)??;
        }
        Ok(())
    }

    /// One warm-up batch per worker, as many as fit in the queue at once.
    fn warm_up_tasks(&self) -> usize {
        self.pool.capacity().min(self.pool.workers())
    }

    /// Stops training jobs (they resume at the next start) and the workers, then gives the
    /// state dir's lock back. Blocks.
    pub fn shutdown(&self, timeout: Duration) {
        self.jobs.shutdown(timeout);
        self.pool.shutdown();
        self.state_lock.release();
    }
}

/// The name of a resolved device, as a run configuration takes it.
fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    }
}
