//! `augmentd serve`: the gRPC service. Every flag is also an `AUGMENTD_*` variable; SIGTERM or
//! SIGINT drains in-flight calls, checkpoints running jobs (they resume at the next start)
//! and exits 0.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use augmentd::device::DeviceSpec;
use augmentd::engine::EngineConfig;
use augmentd::grpc::{read_token_file, ServeConfig, TlsFiles, Tokens};

/// Flags of `augmentd serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "AUGMENTD_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// Prometheus metrics listen address (`GET /metrics`); "off" disables it.
    #[arg(long, env = "AUGMENTD_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    metrics_listen: String,
    /// Where jobs, runs and model versions are kept.
    #[arg(long, env = "AUGMENTD_STATE_DIR", default_value = "augmentd-state")]
    state_dir: PathBuf,
    /// Training datasets are names inside this directory.
    #[arg(long, env = "AUGMENTD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, env = "AUGMENTD_DEVICE", default_value = "auto")]
    device: DeviceSpec,
    /// Augment worker threads (default: the CPUs this process may use, at most 4).
    #[arg(long, env = "AUGMENTD_WORKERS")]
    workers: Option<usize>,
    /// Batches that may wait for a worker; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "AUGMENTD_QUEUE_DEPTH", default_value_t = 64)]
    queue_depth: usize,
    /// Largest image payload of one request, in bytes (default 64 MiB).
    #[arg(long, env = "AUGMENTD_MAX_MESSAGE_BYTES", default_value_t = 64 << 20)]
    max_message_bytes: usize,
    /// Most output images (images × copies) of one request.
    #[arg(long, env = "AUGMENTD_MAX_BATCH_IMAGES", default_value_t = 4096)]
    max_batch_images: usize,
    /// Training jobs running at once on the device; more wait in a queue.
    #[arg(long, env = "AUGMENTD_MAX_JOBS", default_value_t = 1)]
    max_jobs: usize,
    /// Longest any call may take, in seconds (0: only client deadlines).
    #[arg(long, env = "AUGMENTD_REQUEST_TIMEOUT_SECS", default_value_t = 0.0)]
    request_timeout_secs: f64,
    /// At shutdown, how long in-flight calls and jobs get to finish, in seconds.
    #[arg(long, env = "AUGMENTD_DRAIN_TIMEOUT_SECS", default_value_t = 30.0)]
    drain_timeout_secs: f64,
    /// Concurrent calls per connection; more are shed with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "AUGMENTD_CONCURRENCY_PER_CONNECTION",
        default_value_t = 256
    )]
    concurrency_per_connection: usize,
    /// TLS certificate chain (PEM); with --tls-key enables TLS.
    #[arg(long, env = "AUGMENTD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "AUGMENTD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA (PEM) that client certificates must chain to (mutual TLS).
    #[arg(long, env = "AUGMENTD_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// File of `augment`-scope tokens, one per line.
    #[arg(long, env = "AUGMENTD_AUGMENT_TOKEN_FILE")]
    augment_token_file: Option<PathBuf>,
    /// File of `admin`-scope tokens, one per line.
    #[arg(long, env = "AUGMENTD_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// An `augment`-scope token (prefer the file: arguments are visible to other users).
    #[arg(long, env = "AUGMENTD_AUGMENT_TOKEN", hide_env_values = true)]
    augment_token: Option<String>,
    /// An `admin`-scope token.
    #[arg(long, env = "AUGMENTD_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

fn seconds(name: &str, value: f64) -> Result<Duration> {
    if !value.is_finite() || value < 0.0 {
        bail!("--{name} must be a non-negative number of seconds, got {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

fn tokens(args: &ServeArgs) -> Result<Tokens> {
    let mut augment = Vec::new();
    let mut admin = Vec::new();
    for (file, into) in [
        (&args.augment_token_file, &mut augment),
        (&args.admin_token_file, &mut admin),
    ] {
        if let Some(path) = file {
            let read = read_token_file(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            if read.is_empty() {
                bail!("the token file {} holds no token", path.display());
            }
            into.extend(read);
        }
    }
    augment.extend(args.augment_token.iter().cloned());
    admin.extend(args.admin_token.iter().cloned());
    Ok(Tokens::new(&augment, &admin))
}

/// The validated configuration of the flags.
pub fn config(args: &ServeArgs) -> Result<ServeConfig> {
    let metrics_listen = match args.metrics_listen.as_str() {
        "off" | "" => None,
        addr => Some(
            addr.parse()
                .with_context(|| format!("--metrics-listen: '{addr}' is not an address"))?,
        ),
    };
    if args.queue_depth == 0 || args.max_batch_images == 0 || args.max_jobs == 0 {
        bail!("--queue-depth, --max-batch-images and --max-jobs must be at least 1");
    }
    if args.max_message_bytes < 1024 {
        bail!("--max-message-bytes must be at least 1024");
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.workers.unwrap_or(cpus.min(4));
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    if let Some(dir) = &args.data_dir {
        if !dir.is_dir() {
            bail!("--data-dir {}: not a directory", dir.display());
        }
    }
    let timeout = seconds("request-timeout-secs", args.request_timeout_secs)?;
    Ok(ServeConfig {
        listen: args.listen,
        metrics_listen,
        engine: EngineConfig {
            state_dir: args.state_dir.clone(),
            data_dir: args.data_dir.clone(),
            device: args.device,
            workers,
            queue_depth: args.queue_depth,
            max_batch_images: args.max_batch_images,
            job_slots: args.max_jobs,
        },
        max_message_bytes: args.max_message_bytes,
        request_timeout: (!timeout.is_zero()).then_some(timeout),
        drain_timeout: seconds("drain-timeout-secs", args.drain_timeout_secs)?,
        concurrency_per_connection: args.concurrency_per_connection,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            }),
            _ => None,
        },
        tokens: tokens(args)?,
    })
}

/// Runs `augmentd serve` until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<()> {
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("augmentd-rpc")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if !config.tokens.enabled() {
            eprintln!("augmentd: no token configured: every call is allowed (set --augment-token-file / --admin-token-file)");
        }
        let tls = config.tls.is_some();
        let mut server = augmentd::grpc::start(config).await?;
        let scheme = if tls { "https" } else { "http" };
        println!(
            "augmentd: serving gRPC on {scheme}://{}{}",
            server.grpc_addr,
            server
                .metrics_addr
                .map(|a| format!(", metrics on http://{a}/metrics"))
                .unwrap_or_default()
        );
        let stop = server.take_stop();
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot watch SIGTERM")?;
        tokio::select! {
            _ = terminate.recv() => eprintln!("augmentd: SIGTERM: draining"),
            _ = tokio::signal::ctrl_c() => eprintln!("augmentd: SIGINT: draining"),
        }
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        server.wait().await?;
        eprintln!("augmentd: stopped");
        Ok(())
    })
}
