//! The configuration of `augmentd serve`: its flags as given ([`ServeFlags`], also
//! `AUGMENTD_*` variables) and the validated [`ServeConfig`] made from them once, by
//! [`ServeConfig::from_flags`]. A value out of range is refused with the flag's name; the
//! library then trusts the counts it is given (they are `NonZeroUsize`) and clamps nothing.
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::device::DeviceSpec;
use crate::engine::threads::available_cpus;
use crate::engine::EngineConfig;

use super::auth::{read_token_file, Tokens};

/// The smallest `--max-message-bytes`: below it not even a tiny batch fits.
pub const MIN_MESSAGE_BYTES: usize = 1024;

/// Augment workers when `--workers` is not given: the CPUs the process may use, at most this.
pub const DEFAULT_MAX_WORKERS: usize = 4;

/// Flags of `augmentd serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeFlags {
    /// gRPC listen address.
    #[arg(long, env = "AUGMENTD_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// Prometheus metrics listen address (`GET /metrics`); "off" disables it.
    #[arg(long, env = "AUGMENTD_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: String,
    /// Where jobs, runs and model versions are kept.
    #[arg(long, env = "AUGMENTD_STATE_DIR", default_value = "augmentd-state")]
    pub state_dir: PathBuf,
    /// Training datasets are names inside this directory.
    #[arg(long, env = "AUGMENTD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, env = "AUGMENTD_DEVICE", default_value = "auto")]
    pub device: DeviceSpec,
    /// Augment worker threads (default: the CPUs this process may use, at most 4).
    #[arg(long, env = "AUGMENTD_WORKERS")]
    pub workers: Option<usize>,
    /// libtorch intra-op threads, one process-wide count shared by the augment workers and the
    /// training jobs (default: the CPUs this process may use divided by --workers, at least 1,
    /// so that the workers together do not oversubscribe the CPUs).
    #[arg(long, env = "AUGMENTD_TORCH_THREADS")]
    pub torch_threads: Option<usize>,
    /// Batches that may wait for a worker; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "AUGMENTD_QUEUE_DEPTH", default_value_t = 64)]
    pub queue_depth: usize,
    /// Largest image payload of one request, in bytes (default 64 MiB).
    #[arg(long, env = "AUGMENTD_MAX_MESSAGE_BYTES", default_value_t = 64 << 20)]
    pub max_message_bytes: usize,
    /// Most output images (images × copies) of one request.
    #[arg(long, env = "AUGMENTD_MAX_BATCH_IMAGES", default_value_t = 4096)]
    pub max_batch_images: usize,
    /// Training jobs running at once on the device; more wait in a queue.
    #[arg(long, env = "AUGMENTD_MAX_JOBS", default_value_t = 1)]
    pub max_jobs: usize,
    /// Longest any call may take, in seconds (0: only client deadlines).
    #[arg(long, env = "AUGMENTD_REQUEST_TIMEOUT_SECS", default_value_t = 0.0)]
    pub request_timeout_secs: f64,
    /// At shutdown, how long in-flight calls and jobs get to finish, in seconds.
    #[arg(long, env = "AUGMENTD_DRAIN_TIMEOUT_SECS", default_value_t = 30.0)]
    pub drain_timeout_secs: f64,
    /// Concurrent calls per connection; more are shed with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "AUGMENTD_CONCURRENCY_PER_CONNECTION",
        default_value_t = 256
    )]
    pub concurrency_per_connection: usize,
    /// TLS certificate chain (PEM); with --tls-key enables TLS.
    #[arg(long, env = "AUGMENTD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "AUGMENTD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) that client certificates must chain to (mutual TLS).
    #[arg(long, env = "AUGMENTD_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// File of `augment`-scope tokens, one per line.
    #[arg(long, env = "AUGMENTD_AUGMENT_TOKEN_FILE")]
    pub augment_token_file: Option<PathBuf>,
    /// File of `admin`-scope tokens, one per line.
    #[arg(long, env = "AUGMENTD_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// An `augment`-scope token (prefer the file: arguments are visible to other users).
    #[arg(long, env = "AUGMENTD_AUGMENT_TOKEN", hide_env_values = true)]
    pub augment_token: Option<String>,
    /// An `admin`-scope token.
    #[arg(long, env = "AUGMENTD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// TLS files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Verify client certificates against this CA (PEM): mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// Everything `augmentd serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// gRPC address (port 0: any free port).
    pub listen: SocketAddr,
    /// Metrics address (`None`: no metrics endpoint).
    pub metrics_listen: Option<SocketAddr>,
    /// The engine.
    pub engine: EngineConfig,
    /// Largest request accepted (bytes of image data).
    pub max_message_bytes: usize,
    /// Longest a call may take (`None`: only client deadlines).
    pub request_timeout: Option<Duration>,
    /// How long in-flight calls may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// Concurrent calls per connection; more are shed with RESOURCE_EXHAUSTED.
    pub concurrency_per_connection: NonZeroUsize,
    /// TLS, if any.
    pub tls: Option<TlsFiles>,
    /// Accepted tokens (none: open).
    pub tokens: Tokens,
}

/// A serve flag that cannot be used, named as the user typed it.
#[derive(Debug, thiserror::Error)]
pub enum ServeConfigError {
    /// A count or size below its minimum.
    #[error("--{flag}: must be at least {min}, got {got}")]
    TooSmall {
        /// The flag, without its dashes.
        flag: &'static str,
        /// The smallest accepted value.
        min: usize,
        /// The value given.
        got: usize,
    },
    /// A duration that is negative or not a number.
    #[error("--{flag}: must be a non-negative number of seconds, got {got}")]
    Seconds {
        /// The flag, without its dashes.
        flag: &'static str,
        /// The value given.
        got: f64,
    },
    /// `--metrics-listen` is neither an address nor "off".
    #[error("--metrics-listen: '{0}' is not an address (or \"off\")")]
    MetricsAddress(String),
    /// `--data-dir` does not name a directory.
    #[error("--data-dir {}: not a directory", .0.display())]
    DataDir(PathBuf),
    /// A token file cannot be read.
    #[error("--{flag} {}: cannot read the token file: {source}", path.display())]
    TokenFile {
        /// The flag, without its dashes.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A token file holds no token (which would silently leave the server open).
    #[error("--{flag} {}: the token file holds no token", path.display())]
    EmptyTokenFile {
        /// The flag, without its dashes.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
}

fn at_least(flag: &'static str, min: usize, got: usize) -> Result<usize, ServeConfigError> {
    if got < min {
        return Err(ServeConfigError::TooSmall { flag, min, got });
    }
    Ok(got)
}

fn count(flag: &'static str, got: usize) -> Result<NonZeroUsize, ServeConfigError> {
    NonZeroUsize::new(got).ok_or(ServeConfigError::TooSmall { flag, min: 1, got })
}

fn seconds(flag: &'static str, got: f64) -> Result<Duration, ServeConfigError> {
    Duration::try_from_secs_f64(got).map_err(|_| ServeConfigError::Seconds { flag, got })
}

fn token_file(flag: &'static str, path: &Path) -> Result<Vec<String>, ServeConfigError> {
    let tokens = read_token_file(path).map_err(|source| ServeConfigError::TokenFile {
        flag,
        path: path.to_path_buf(),
        source,
    })?;
    if tokens.is_empty() {
        return Err(ServeConfigError::EmptyTokenFile {
            flag,
            path: path.to_path_buf(),
        });
    }
    Ok(tokens)
}

fn tokens(flags: &ServeFlags) -> Result<Tokens, ServeConfigError> {
    let mut augment = Vec::new();
    let mut admin = Vec::new();
    for (flag, file, into) in [
        (
            "augment-token-file",
            &flags.augment_token_file,
            &mut augment,
        ),
        ("admin-token-file", &flags.admin_token_file, &mut admin),
    ] {
        if let Some(path) = file {
            into.extend(token_file(flag, path)?);
        }
    }
    augment.extend(flags.augment_token.iter().cloned());
    admin.extend(flags.admin_token.iter().cloned());
    Ok(Tokens::new(&augment, &admin))
}

impl ServeConfig {
    /// Validates `flags` (reading the token files): every refusal names its flag.
    pub fn from_flags(flags: &ServeFlags) -> Result<Self, ServeConfigError> {
        let metrics_listen = match flags.metrics_listen.as_str() {
            "off" | "" => None,
            addr => Some(
                addr.parse()
                    .map_err(|_| ServeConfigError::MetricsAddress(addr.to_owned()))?,
            ),
        };
        let default_workers = available_cpus().get().min(DEFAULT_MAX_WORKERS);
        let workers = count("workers", flags.workers.unwrap_or(default_workers))?;
        if let Some(dir) = flags.data_dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(ServeConfigError::DataDir(dir.clone()));
        }
        let timeout = seconds("request-timeout-secs", flags.request_timeout_secs)?;
        Ok(Self {
            listen: flags.listen,
            metrics_listen,
            engine: EngineConfig {
                state_dir: flags.state_dir.clone(),
                data_dir: flags.data_dir.clone(),
                device: flags.device,
                workers,
                torch_threads: flags
                    .torch_threads
                    .map(|n| count("torch-threads", n))
                    .transpose()?,
                queue_depth: count("queue-depth", flags.queue_depth)?,
                max_batch_images: count("max-batch-images", flags.max_batch_images)?,
                job_slots: count("max-jobs", flags.max_jobs)?,
            },
            max_message_bytes: at_least(
                "max-message-bytes",
                MIN_MESSAGE_BYTES,
                flags.max_message_bytes,
            )?,
            request_timeout: (!timeout.is_zero()).then_some(timeout),
            drain_timeout: seconds("drain-timeout-secs", flags.drain_timeout_secs)?,
            concurrency_per_connection: count(
                "concurrency-per-connection",
                flags.concurrency_per_connection,
            )?,
            tls: match (&flags.tls_cert, &flags.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: flags.tls_client_ca.clone(),
                }),
                _ => None,
            },
            tokens: tokens(flags)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ServeFlags,
    }

    /// The refusal of `augmentd serve ARGS`, or `None` if they are valid.
    fn refusal(args: &[&str]) -> Option<String> {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
            .expect("the flags parse");
        ServeConfig::from_flags(&cli.flags)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn defaults_are_valid_and_counts_are_kept() {
        assert_eq!(refusal(&["--device", "cpu"]), None);
        let cli = Cli::try_parse_from(["serve", "--workers", "3", "--torch-threads", "2"])
            .expect("parse");
        let config = ServeConfig::from_flags(&cli.flags).expect("valid");
        assert_eq!(config.engine.workers.get(), 3);
        assert_eq!(config.engine.torch_threads.map(NonZeroUsize::get), Some(2));
        assert_eq!(config.engine.queue_depth.get(), 64);
        assert_eq!(config.concurrency_per_connection.get(), 256);
        assert_eq!(config.metrics_listen.map(|a| a.port()), Some(9090));
        assert!(config.request_timeout.is_none());
        assert!(!config.tokens.enabled());
    }

    #[test]
    fn each_count_below_one_is_refused_by_its_flag() {
        for flag in [
            "workers",
            "torch-threads",
            "queue-depth",
            "max-batch-images",
            "max-jobs",
            "concurrency-per-connection",
        ] {
            assert_eq!(
                refusal(&[&format!("--{flag}"), "0"]).as_deref(),
                Some(format!("--{flag}: must be at least 1, got 0").as_str()),
            );
        }
        assert_eq!(
            refusal(&["--max-message-bytes", "1000"]).as_deref(),
            Some("--max-message-bytes: must be at least 1024, got 1000")
        );
    }

    #[test]
    fn durations_addresses_dirs_and_token_files_are_checked() {
        assert_eq!(
            refusal(&["--drain-timeout-secs=-1"]).as_deref(),
            Some("--drain-timeout-secs: must be a non-negative number of seconds, got -1")
        );
        assert_eq!(
            refusal(&["--request-timeout-secs", "NaN"]).as_deref(),
            Some("--request-timeout-secs: must be a non-negative number of seconds, got NaN")
        );
        assert_eq!(
            refusal(&["--metrics-listen", "nowhere"]).as_deref(),
            Some("--metrics-listen: 'nowhere' is not an address (or \"off\")")
        );
        assert_eq!(refusal(&["--metrics-listen", "off"]), None);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# nothing yet\n").expect("write");
        let file = file.to_str().expect("utf-8 path");
        assert_eq!(
            refusal(&["--data-dir", file]),
            Some(format!("--data-dir {file}: not a directory"))
        );
        assert_eq!(
            refusal(&["--admin-token-file", file]),
            Some(format!(
                "--admin-token-file {file}: the token file holds no token"
            ))
        );
        let missing = dir.path().join("missing");
        let missing = missing.to_str().expect("utf-8 path");
        let read = refusal(&["--augment-token-file", missing]).expect("refused");
        assert!(
            read.starts_with(&format!(
                "--augment-token-file {missing}: cannot read the token file:"
            )),
            "{read}"
        );
    }
}
