//! augmentctl's command line (clap derive): connection flags shared by every command, and
//! the `health`, `augment`, `train` and `models` commands.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use augmentd_client::{ConnectOptions, Layout, TlsOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Command line client of augmentd, the learned-data-augmentation service.
#[derive(Debug, Parser)]
#[command(name = "augmentctl", version, about, propagate_version = true)]
pub struct Cli {
    /// Connection settings.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the server.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// Server URL: http://host:port, or https://host:port for TLS.
    #[arg(
        long,
        global = true,
        env = "AUGMENTD_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub url: String,
    /// Bearer token sent with every call.
    #[arg(long, global = true, env = "AUGMENTD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the bearer token (used when --token is not given).
    #[arg(long, global = true, env = "AUGMENTD_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate (https; default: system roots).
    #[arg(long, global = true, env = "AUGMENTD_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with --client-key).
    #[arg(long, global = true, env = "AUGMENTD_CLIENT_CERT", value_name = "PEM")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, global = true, env = "AUGMENTD_CLIENT_KEY", value_name = "PEM")]
    pub client_key: Option<PathBuf>,
    /// Server name to verify the certificate against, when not the URL's host.
    #[arg(long, global = true, env = "AUGMENTD_TLS_DOMAIN", value_name = "NAME")]
    pub tls_domain: Option<String>,
    /// Limit in seconds on connecting and on each call until its answer starts.
    #[arg(long, global = true, env = "AUGMENTD_TIMEOUT", value_name = "SECONDS")]
    pub timeout: Option<f64>,
}

/// The one token in `file`, read like the server's token files: blank lines and `#` comments
/// are skipped, surrounding whitespace trimmed; no token, or several, is an error.
fn read_token_file(file: &std::path::Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("token file {}", file.display()))?;
    let mut tokens = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    match (tokens.next(), tokens.next()) {
        (Some(token), None) => Ok(token.to_string()),
        (None, _) => anyhow::bail!("token file {}: holds no token", file.display()),
        (Some(_), Some(_)) => anyhow::bail!(
            "token file {}: holds several tokens; give a file with the one to send",
            file.display()
        ),
    }
}

impl ConnArgs {
    /// The library's connection options (reads the token file).
    pub fn options(&self) -> anyhow::Result<ConnectOptions> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(file)) => Some(read_token_file(file)?),
            (None, None) => None,
        };
        let tls_given = self.ca_cert.is_some()
            || self.client_cert.is_some()
            || self.client_key.is_some()
            || self.tls_domain.is_some();
        let tls = tls_given.then(|| TlsOptions {
            ca_cert_pem: self.ca_cert.clone(),
            client_cert_pem: self.client_cert.clone(),
            client_key_pem: self.client_key.clone(),
            domain: self.tls_domain.clone(),
        });
        let timeout = match self.timeout {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => anyhow::bail!("--timeout {s}: expected a positive number of seconds"),
        };
        Ok(ConnectOptions {
            url: self.url.clone(),
            token,
            tls,
            timeout,
        })
    }
}

/// augmentctl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Asks grpc.health.v1 whether the server (or one service) is serving; exit code 0 only
    /// when SERVING.
    Health {
        /// The service ("" for the server as a whole, or e.g. augmentd.v1.Augmenter).
        #[arg(long, default_value = "")]
        service: String,
    },
    /// Augments image files (or an .npy array) and writes the results.
    Augment(AugmentArgs),
    /// Training jobs.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Published augmenter versions.
    #[command(subcommand)]
    Models(ModelsCommand),
}

/// Dimension order of an .npy input.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LayoutArg {
    /// [images, channels, height, width].
    Nchw,
    /// [images, height, width, channels].
    Nhwc,
}

impl From<LayoutArg> for Layout {
    fn from(value: LayoutArg) -> Self {
        match value {
            LayoutArg::Nchw => Layout::Nchw,
            LayoutArg::Nhwc => Layout::Nhwc,
        }
    }
}

/// `augmentctl augment`.
#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// The model: name, name@version, or "" for the server's default model.
    #[arg(long, default_value = "")]
    pub model: String,
    /// An image file (png, jpg, jpeg, tif, tiff), a folder of them (read sorted by name), or
    /// an .npy array (uint8 or float32, four dimensions).
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub input: PathBuf,
    /// Output folder (created if missing): STEM-augK.png per input file and copy K, or
    /// augmented.npy.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the augmentation noise; batch i uses seed + i. Default: drawn by the server.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Augmented copies per image.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub copies: u32,
    /// Also write params.json: every output image's transformation parameters.
    #[arg(long)]
    pub params: bool,
    /// Apply the learned transform only, not the hand-crafted base the model was learned on
    /// top of.
    #[arg(long)]
    pub learned_only: bool,
    /// Images per request (files of different sizes always go in separate requests).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Evaluation sampling (noise only, dropout off) instead of training sampling.
    #[arg(long)]
    pub eval: bool,
    /// .npy input: its dimension order (default: NHWC for uint8, NCHW for float32).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// .npy float32 input: the values are standardized with the model's mean and std (else
    /// pixels in 0..1); the output uses the same convention.
    #[arg(long)]
    pub standardized: bool,
}

/// `augmentctl train ...`.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Starts a training job and prints its id.
    Start(StartArgs),
    /// Follows a job until it finishes: exit code 0 if it SUCCEEDED, 1 otherwise.
    Watch {
        /// The job id.
        id: String,
    },
    /// Lists jobs, oldest first.
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
    },
    /// Shows one job.
    Get {
        /// The job id.
        id: String,
    },
    /// Cancels a queued or running job.
    Cancel {
        /// The job id.
        id: String,
    },
}

/// `augmentctl train start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// A preset to start from (cifar10-paper, bach-paper, fmnist-small).
    #[arg(long)]
    pub preset: Option<String>,
    /// A TOML run configuration merged over the preset.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// key=value overrides applied last (repeatable), e.g. --set epochs=3.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The training data: a name in the server's data dir.
    #[arg(long)]
    pub dataset: Option<String>,
    /// A separate test folder in the server's data dir.
    #[arg(long)]
    pub test_dataset: Option<String>,
    /// The name the augmenter is published under (default: "default").
    #[arg(long)]
    pub model_name: Option<String>,
    /// Also publish every K-th epoch.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub publish_every: u32,
    /// Do not make the published versions active.
    #[arg(long)]
    pub no_activate: bool,
    /// Follow the job after starting it (as `train watch`).
    #[arg(long)]
    pub watch: bool,
}

/// `augmentctl models ...`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Lists published versions (all, or one name's).
    List {
        /// Only this name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Shows one version: name@version, name (its active version) or "" (the default).
    Get {
        /// The model.
        model: String,
    },
    /// Makes a version the one its name resolves to (name: its latest version).
    Activate {
        /// name@version or name.
        model: String,
    },
    /// Deletes a version (name@version) or every version of a name.
    Delete {
        /// name@version or name.
        model: String,
        /// Also delete an active version.
        #[arg(long)]
        force: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "augmentctl",
            "models",
            "list",
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ])
        .expect("parse");
        let options = cli.conn.options().expect("options");
        assert_eq!(options.url, "http://127.0.0.1:9");
        assert_eq!(options.token.as_deref(), Some("t"));
        assert!(options.tls.is_none());
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "# the admin token\n\n  abc123  \n").expect("write");
        let cli = Cli::try_parse_from([
            "augmentctl",
            "--token-file",
            file.to_str().expect("utf-8"),
            "health",
        ])
        .expect("parse");
        assert_eq!(
            cli.conn.options().expect("options").token.as_deref(),
            Some("abc123")
        );
    }

    #[test]
    fn token_file_with_no_token_or_several_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (text, problem) in [
            ("# none\n\n", "holds no token"),
            ("a\nb\n", "several tokens"),
        ] {
            let file = dir.path().join("token");
            std::fs::write(&file, text).expect("write");
            let path = file.to_str().expect("utf-8");
            let cli =
                Cli::try_parse_from(["augmentctl", "--token-file", path, "health"]).expect("parse");
            let err = cli.conn.options().expect_err("refused").to_string();
            assert!(err.contains(problem) && err.contains(path), "{err}");
        }
    }

    #[test]
    fn zero_copies_is_a_usage_error() {
        let err = Cli::try_parse_from([
            "augmentctl",
            "augment",
            "--input",
            "x",
            "--out",
            "y",
            "--copies",
            "0",
        ])
        .expect_err("copies 0");
        assert_eq!(err.exit_code(), 2);
    }
}
