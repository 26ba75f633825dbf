//! Benchmark: Augment over loopback gRPC against the same batches augmented in process.
//!
//! A server is started in this process on 127.0.0.1 with an `affine_color` augmenter for
//! 3×32×32 images published as its default model. For batches of 128 images, uint8 and
//! float32, it measures images per second and per-batch latency (p50, p99) of unary Augment
//! and of AugmentStream at concurrency 1 and 8, and, as the reference, the engine's own
//! augmentation of the same batches with no gRPC in between (conversion included).
//!
//! Usage: `grpc-augment [--requests N] [--workers N] [--torch-threads N] [--batch N] [--device D] [--out FILE.md]`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use augmentd::data::{ImageShape, Normalization};
use augmentd::device::DeviceSpec;
use augmentd::engine::{AugmentParams, EngineConfig, Layout, PixelType, Provenance, RawBatch};
use augmentd::grpc::{ServeConfig, Tokens};
use augmentd::model::{save_model, ModelInfo};
use augmentd::nn::{Augmenter, AugmenterKind};
use augmentd_proto::v1 as pb;
use pb::augmenter_client::AugmenterClient;
use tch::{Device, Kind};
use tonic::transport::Channel;

struct Options {
    requests: usize,
    workers: usize,
    /// libtorch intra-op threads (default: the server's, CPUs ÷ workers).
    torch_threads: Option<usize>,
    batch: usize,
    device: DeviceSpec,
    out: Option<std::path::PathBuf>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        requests: 64,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        torch_threads: None,
        batch: 128,
        device: DeviceSpec::Cpu,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => o.requests = value()?.parse().context("--requests")?,
            "--workers" => o.workers = value()?.parse().context("--workers")?,
            "--torch-threads" => {
                o.torch_threads = Some(value()?.parse().context("--torch-threads")?)
            }
            "--batch" => o.batch = value()?.parse().context("--batch")?,
            "--device" => o.device = value()?.parse()?,
            "--out" => o.out = Some(value()?.into()),
            other => bail!("unknown argument '{other}' (expected --requests, --workers, --torch-threads, --batch, --device, --out)"),
        }
    }
    Ok(o)
}

const SIDE: i64 = 32;
const CHANNELS: i64 = 3;

/// The request for one batch of seeded pseudo-random pixels.
fn request(batch: usize, dtype: PixelType, seed: u64) -> pb::AugmentRequest {
    let n = batch * (CHANNELS * SIDE * SIDE) as usize;
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let pixels: Vec<u8> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let (data, dtype) = match dtype {
        PixelType::Uint8 => (pixels, pb::DType::DtypeUint8),
        _ => (
            pixels
                .iter()
                .flat_map(|&p| (f32::from(p) / 255.0).to_le_bytes())
                .collect(),
            pb::DType::DtypeFloat32,
        ),
    };
    pb::AugmentRequest {
        data,
        dtype: dtype as i32,
        layout: pb::Layout::Nchw as i32,
        shape: vec![batch as i64, CHANNELS, SIDE, SIDE],
        seed: Some(seed),
        ..Default::default()
    }
}

/// Latencies of one run and its wall time.
struct Measured {
    latencies: Vec<Duration>,
    wall: Duration,
    images: usize,
}

impl Measured {
    fn row(&self, label: &str) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pick = |q: f64| l[((l.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
        format!(
            "| {label} | {:.0} | {:.1} | {:.1} |",
            self.images as f64 / self.wall.as_secs_f64(),
            pick(0.5),
            pick(0.99)
        )
    }

    fn throughput(&self) -> f64 {
        self.images as f64 / self.wall.as_secs_f64()
    }
}

/// The run of median throughput among three (the machine is shared by client, server and
/// compute: single runs are noisy).
fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.throughput().total_cmp(&b.throughput()));
    runs.swap_remove(runs.len() / 2)
}

/// The requests of each of `concurrency` clients (round robin).
fn split(requests: &[pb::AugmentRequest], concurrency: usize) -> Vec<Vec<pb::AugmentRequest>> {
    (0..concurrency)
        .map(|c| {
            requests
                .iter()
                .skip(c)
                .step_by(concurrency)
                .cloned()
                .collect()
        })
        .collect()
}

/// Images in `requests`.
fn images_of(requests: &[pb::AugmentRequest]) -> usize {
    requests.iter().map(|r| r.shape[0] as usize).sum()
}

/// Runs `concurrency` clients, each sending its share of `requests` with `client` (which
/// returns the latency of every batch), and times them together.
async fn measure<F, Fut>(
    requests: &[pb::AugmentRequest],
    concurrency: usize,
    client: F,
) -> Result<Measured>
where
    F: Fn(Vec<pb::AugmentRequest>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Duration>, tonic::Status>> + Send + 'static,
{
    // Each client owns its requests before the clock starts.
    let chunks = split(requests, concurrency);
    let start = Instant::now();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|mine| tokio::spawn(client(mine)))
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(Measured {
        images: images_of(requests),
        latencies,
        wall: start.elapsed(),
    })
}

async fn unary(
    client: &AugmenterClient<Channel>,
    requests: &[pb::AugmentRequest],
    concurrency: usize,
) -> Result<Measured> {
    measure(requests, concurrency, |mine| {
        let mut client = client.clone();
        async move {
            let mut latencies = Vec::new();
            for r in mine {
                let t = Instant::now();
                client.augment(r).await?;
                latencies.push(t.elapsed());
            }
            Ok(latencies)
        }
    })
    .await
}

async fn streaming(
    client: &AugmenterClient<Channel>,
    requests: &[pb::AugmentRequest],
    concurrency: usize,
) -> Result<Measured> {
    measure(requests, concurrency, |mine| {
        let mut client = client.clone();
        async move {
            let (tx, rx) = tokio::sync::mpsc::channel(8);
            let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
            let sent_times = sent.clone();
            let count = mine.len();
            tokio::spawn(async move {
                for r in mine {
                    sent_times.lock().expect("lock").push(Instant::now());
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
            });
            let mut responses = client
                .augment_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await?
                .into_inner();
            let mut latencies = Vec::new();
            for i in 0..count {
                responses
                    .message()
                    .await?
                    .ok_or_else(|| tonic::Status::internal("stream ended early"))?;
                latencies.push(sent.lock().expect("lock")[i].elapsed());
            }
            Ok(latencies)
        }
    })
    .await
}

/// The engine alone: the same batches through the worker pool, no gRPC.
async fn in_process(
    engine: &augmentd::engine::Engine,
    requests: &[pb::AugmentRequest],
    concurrency: usize,
) -> Result<Measured> {
    let start = Instant::now();
    let mut latencies = Vec::new();
    for group in requests.chunks(concurrency) {
        let mut replies = Vec::new();
        for r in group {
            let dtype = if r.dtype == pb::DType::DtypeUint8 as i32 {
                PixelType::Uint8
            } else {
                PixelType::Float32
            };
            let batch = RawBatch::new(r.data.clone(), dtype, Layout::Nchw, &r.shape, false)?;
            let task = engine.admit(AugmentParams {
                model: String::new(),
                batch,
                seed: r.seed,
                copies: 1,
                return_params: false,
                learned_only: false,
                dropout: true,
                deadline: None,
            })?;
            replies.push((Instant::now(), engine.pool.submit(task).await?));
        }
        for (t, reply) in replies {
            reply.await??;
            latencies.push(t.elapsed());
        }
    }
    Ok(Measured {
        images: images_of(requests),
        latencies,
        wall: start.elapsed(),
    })
}

fn publish_model(dir: &std::path::Path, engine: &augmentd::engine::Engine) -> Result<()> {
    let augmenter = Augmenter::new(
        AugmenterKind::AffineColor,
        vec![0.49, 0.48, 0.45],
        vec![0.25, 0.24, 0.26],
        None,
    )?;
    let theta = augmenter.init(7, Kind::Float, Device::Cpu)?;
    let info = ModelInfo {
        kind: AugmenterKind::AffineColor,
        variant: augmenter.variant(),
        normalization: Normalization {
            mean: vec![0.49, 0.48, 0.45],
            std: vec![0.25, 0.24, 0.26],
        },
        bound: None,
        shape: ImageShape::new(3, SIDE as usize, SIDE as usize),
        epoch: 0,
        served: None,
        base: None,
    };
    let model_dir = dir.join("untrained");
    std::fs::create_dir_all(&model_dir)?;
    let path = save_model(&model_dir, &info, &theta)?;
    engine
        .registry
        .publish("bench", &path, Provenance::default(), true)?;
    Ok(())
}

fn main() -> Result<()> {
    let o = options()?;
    let state = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = augmentd::grpc::start(ServeConfig {
            listen: "127.0.0.1:0".parse()?,
            metrics_listen: None,
            engine: EngineConfig {
                state_dir: state.path().to_path_buf(),
                data_dir: None,
                device: o.device,
                workers: o.workers.try_into()?,
                torch_threads: o.torch_threads.map(TryInto::try_into).transpose()?,
                queue_depth: 64.try_into()?,
                max_batch_images: 4096.try_into()?,
                job_slots: 1.try_into()?,
            },
            max_message_bytes: 64 << 20,
            request_timeout: None,
            drain_timeout: Duration::from_secs(5),
            concurrency_per_connection: 256.try_into()?,
            tls: None,
            tokens: Tokens::default(),
        })
        .await?;
        let engine = server.engine.clone();
        let dir = state.path().to_path_buf();
        let publish_engine = engine.clone();
        tokio::task::spawn_blocking(move || publish_model(&dir, &publish_engine)).await??;
        let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))?
            .connect()
            .await?;
        let client = AugmenterClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let mut lines = vec![
            format!(
                "Augment over loopback, batch {} × 3×32×32, affine_color, {} workers ({} libtorch threads each), {} requests per run, median of 3 runs, device {}:",
                o.batch, o.workers, engine.pool.torch_threads(), o.requests, o.device
            ),
            String::new(),
            "| path | images/s | p50 ms | p99 ms |".to_string(),
            "|---|---|---|---|".to_string(),
        ];
        for dtype in [PixelType::Uint8, PixelType::Float32] {
            let name = if dtype == PixelType::Uint8 { "uint8" } else { "float32" };
            let requests: Vec<_> = (0..o.requests)
                .map(|i| request(o.batch, dtype, i as u64))
                .collect();
            // Warm-up: every worker has its tensors, every connection is open.
            unary(&client, &requests[..o.workers.min(requests.len())], o.workers).await?;
            let mut references = Vec::new();
            for concurrency in [1, 8] {
                let mut runs = Vec::new();
                for _ in 0..3 {
                    runs.push(in_process(&engine, &requests, concurrency).await?);
                }
                references.push(median(runs));
            }
            // The engine's own best: what gRPC is measured against.
            let best = references
                .iter()
                .map(Measured::throughput)
                .fold(0.0, f64::max);
            for (reference, concurrency) in references.iter().zip([1, 8]) {
                let (mut us, mut ss) = (Vec::new(), Vec::new());
                for _ in 0..3 {
                    us.push(unary(&client, &requests, concurrency).await?);
                    ss.push(streaming(&client, &requests, concurrency).await?);
                }
                let (u, s) = (median(us), median(ss));
                lines.push(reference.row(&format!(
                    "in-process (no gRPC), {name}, concurrency {concurrency}"
                )));
                lines.push(u.row(&format!(
                    "unary Augment, {name}, concurrency {concurrency} ({:.0} % of best in-process)",
                    100.0 * u.throughput() / best
                )));
                lines.push(s.row(&format!(
                    "AugmentStream, {name}, concurrency {concurrency} ({:.0} % of best in-process)",
                    100.0 * s.throughput() / best
                )));
                eprintln!("{}", lines[lines.len() - 1]);
            }
        }
        let text = lines.join("\n") + "\n";
        print!("{text}");
        if let Some(out) = &o.out {
            std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
        }
        server.shutdown().await?;
        Ok(())
    })
}
