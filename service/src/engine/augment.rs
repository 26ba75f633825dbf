//! The augment pool: worker threads that own every tensor of the Augment path, fed by one
//! bounded queue. Admission is a semaphore permit per queued batch, so a full queue is an
//! immediate answer (unary calls) or back-pressure (streams), never unbounded memory.
//!
//! Each worker keeps its own tensors of the versions it has served (tch tensors are not
//! shareable across threads), keyed by the registry entry: a version deleted from the registry
//! is dropped by the workers once no request holds it.
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;
use crate::model::{augment_on_base, augment_standardized, Model};
use crate::torch_error::TorchError;

use super::batch::RawBatch;
use super::error::EngineError;
use super::models::ModelEntry;
use super::threads::set_intra_op_threads;

/// One batch to augment, with the version it was admitted on.
pub struct AugmentTask {
    /// The version (resolved at admission).
    pub model: Arc<ModelEntry>,
    /// The checked batch.
    pub batch: RawBatch,
    /// Noise seed.
    pub seed: u64,
    /// Copies per image (≥ 1).
    pub copies: usize,
    /// Return the transformation parameters.
    pub return_params: bool,
    /// Apply the learned transform only, not the model's hand-crafted base.
    pub learned_only: bool,
    /// Dropout on (TRAIN sampling).
    pub dropout: bool,
    /// The client's deadline.
    pub deadline: Option<Instant>,
}

/// An augmented batch.
#[derive(Debug)]
pub struct AugmentOutput {
    /// The images, in the request's dtype, layout and convention.
    pub batch: RawBatch,
    /// The model name.
    pub model_name: String,
    /// The version.
    pub model_version: u64,
    /// The seed used.
    pub seed: u64,
    /// Parameter names (with return_params).
    pub param_names: Vec<String>,
    /// [images, names] parameters, row-major (with return_params).
    pub params: Vec<f32>,
}

/// The reply to one task.
pub type AugmentReply = oneshot::Receiver<Result<AugmentOutput, EngineError>>;

struct Queued {
    task: AugmentTask,
    reply: oneshot::Sender<Result<AugmentOutput, EngineError>>,
    _permit: OwnedSemaphorePermit,
}

/// Sizes of the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Worker threads.
    pub workers: NonZeroUsize,
    /// Batches that may wait.
    pub queue_depth: NonZeroUsize,
    /// libtorch intra-op threads, applied on each worker thread as it starts.
    pub torch_threads: NonZeroUsize,
    /// Where tensors live.
    pub device: Device,
}

/// The pool.
pub struct AugmentPool {
    sender: Mutex<Option<SyncSender<Queued>>>,
    permits: Arc<Semaphore>,
    config: PoolConfig,
    /// Exponential average of a batch's service time, in microseconds.
    service_micros: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl AugmentPool {
    /// Starts the workers.
    pub fn start(config: PoolConfig, metrics: Arc<Metrics>) -> Result<Self, EngineError> {
        let workers = config.workers.get();
        let depth = config.queue_depth.get();
        let (sender, receiver) = sync_channel::<Queued>(depth);
        let receiver = Arc::new(Mutex::new(receiver));
        let service_micros = Arc::new(AtomicU64::new(10_000));
        let permits = Arc::new(Semaphore::new(depth));
        metrics.set_queue_capacity(depth as i64);
        let handles = (0..workers)
            .map(|i| {
                let receiver = receiver.clone();
                let metrics = metrics.clone();
                let service = service_micros.clone();
                let queue = QueueGauge {
                    permits: permits.clone(),
                    capacity: depth,
                };
                std::thread::Builder::new()
                    .name(format!("augmentd-augment-{i}"))
                    .spawn(move || {
                        // The count is process-wide, but OpenMP keeps its own per thread:
                        // setting it here leaves no worker on libtorch's default of every CPU.
                        set_intra_op_threads(config.torch_threads);
                        worker(&receiver, config.device, &metrics, &service, &queue)
                    })
                    .map_err(|source| EngineError::Thread {
                        what: "an augment worker thread",
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            permits,
            config,
            service_micros,
            metrics,
            workers: Mutex::new(handles),
        })
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.config.workers.get()
    }

    /// libtorch intra-op threads of each worker.
    pub fn torch_threads(&self) -> usize {
        self.config.torch_threads.get()
    }

    /// Where the workers' tensors live.
    pub fn device(&self) -> Device {
        self.config.device
    }

    /// Batches that may wait.
    pub fn capacity(&self) -> usize {
        self.config.queue_depth.get()
    }

    /// Batches waiting now.
    pub fn queued(&self) -> usize {
        self.capacity() - self.permits.available_permits()
    }

    fn retry_after(&self) -> Duration {
        let per_batch = self.service_micros.load(Ordering::Relaxed);
        let wait = per_batch * self.capacity() as u64 / self.workers() as u64;
        Duration::from_micros(wait.clamp(5_000, 5_000_000))
    }

    fn enqueue(
        &self,
        task: AugmentTask,
        permit: OwnedSemaphorePermit,
    ) -> Result<AugmentReply, EngineError> {
        let (reply, receiver) = oneshot::channel();
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let sender = guard.as_ref().ok_or(EngineError::ShuttingDown)?;
        // The permit guarantees room: the channel holds as many batches as there are permits.
        sender
            .try_send(Queued {
                task,
                reply,
                _permit: permit,
            })
            .map_err(|_| EngineError::ShuttingDown)?;
        self.metrics.set_queue_depth(self.queued() as i64);
        Ok(receiver)
    }

    /// Queues a task now, or answers QueueFull with a retry hint.
    pub fn try_submit(&self, task: AugmentTask) -> Result<AugmentReply, EngineError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::Closed => EngineError::ShuttingDown,
                tokio::sync::TryAcquireError::NoPermits => EngineError::QueueFull {
                    capacity: self.capacity(),
                    retry_after: self.retry_after(),
                },
            })?;
        self.enqueue(task, permit)
    }

    /// Queues a task, waiting for room (streams: back-pressure instead of refusal).
    pub async fn submit(&self, task: AugmentTask) -> Result<AugmentReply, EngineError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        self.enqueue(task, permit)
    }

    /// Stops taking tasks; queued ones are still served. Joins the workers.
    pub fn shutdown(&self) {
        self.permits.close();
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            // A worker that panicked has nothing left to clean up.
            let _ = handle.join();
        }
    }
}

impl Drop for AugmentPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The tensors of the versions a worker has served.
#[derive(Default)]
struct WorkerCache {
    models: Vec<(Weak<ModelEntry>, Model)>,
}

impl WorkerCache {
    fn get(&mut self, entry: &Arc<ModelEntry>, device: Device) -> Result<&Model, EngineError> {
        self.models.retain(|(weak, _)| weak.strong_count() > 0);
        let position = self
            .models
            .iter()
            .position(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(entry)));
        let index = match position {
            Some(i) => i,
            None => {
                self.models
                    .push((Arc::downgrade(entry), entry.instantiate(device)?));
                self.models.len() - 1
            }
        };
        Ok(&self.models[index].1)
    }
}

/// What a worker needs to report the queue's depth.
struct QueueGauge {
    permits: Arc<Semaphore>,
    capacity: usize,
}

fn worker(
    receiver: &Mutex<Receiver<Queued>>,
    device: Device,
    metrics: &Metrics,
    service: &AtomicU64,
    queue: &QueueGauge,
) {
    let mut cache = WorkerCache::default();
    loop {
        let next = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(Queued {
            task,
            reply,
            _permit,
        }) = next
        else {
            return;
        };
        drop(_permit);
        metrics.set_queue_depth((queue.capacity - queue.permits.available_permits()) as i64);
        let started = Instant::now();
        let result = if task.deadline.is_some_and(|d| Instant::now() >= d) {
            Err(EngineError::DeadlineExceeded("while the batch was queued"))
        } else {
            // A panic inside libtorch glue must fail this request only.
            std::panic::catch_unwind(AssertUnwindSafe(|| run_task(&task, &mut cache, device)))
                .unwrap_or_else(|panic| {
                    cache = WorkerCache::default();
                    Err(EngineError::WorkerPanicked(panic_message(&panic)))
                })
        };
        if let Ok(out) = &result {
            metrics.add_images_augmented(out.batch.dims().images as u64);
        }
        let micros = started.elapsed().as_micros() as u64;
        let old = service.load(Ordering::Relaxed);
        service.store((old * 7 + micros) / 8, Ordering::Relaxed);
        // The caller may have gone away (deadline, cancelled stream): nothing to do then.
        let _ = reply.send(result);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "internal error".into())
}

fn run_task(
    task: &AugmentTask,
    cache: &mut WorkerCache,
    device: Device,
) -> Result<AugmentOutput, EngineError> {
    let model = cache.get(&task.model, device)?;
    let normalization = &task.model.meta.info.normalization;
    let images = task.batch.to_standardized(normalization, device)?;
    let mut rng = StdRng::seed_from_u64(task.seed);
    let augment = if task.learned_only {
        augment_standardized
    } else {
        augment_on_base
    };
    let augmented = augment(model, &images, task.copies, &mut rng, task.dropout)?;
    let batch = RawBatch::from_standardized(&augmented.images, &task.batch, normalization)?;
    let (param_names, params) = if task.return_params {
        let values = augmented
            .transform
            .f_to_device(Device::Cpu)
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_contiguous())
            .and_then(|t| t.f_flatten(0, -1))
            .map_err(TorchError::from)?;
        let params = Vec::<f32>::try_from(&values).map_err(TorchError::from)?;
        let names = model
            .augmenter
            .transform_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        (names, params)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(AugmentOutput {
        batch,
        model_name: task.model.meta.name.clone(),
        model_version: task.model.meta.version,
        seed: task.seed,
        param_names,
        params,
    })
}
