//! The process's logs: `tracing` events on stderr, as text for people or as JSON lines for a
//! log collector, at the level `RUST_LOG` sets (default `info`). Stdout stays for what a
//! command answers (the serve address line, the training tables).
use std::io::IsTerminal;

use anyhow::{Context, Result};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// The target of the process's own life-cycle events, so that a text line reads
/// `INFO augmentd: …` whichever module wrote it.
pub const TARGET: &str = "augmentd";

/// How log events are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event, for people (colours when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, with the event's fields and its spans.
    Json,
}

/// The logging flags, shared by the subcommands that log.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct LogArgs {
    /// Log format on stderr: text or json. The level comes from RUST_LOG (default info,
    /// e.g. RUST_LOG=augmentd=debug).
    #[arg(long, env = "AUGMENTD_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,
}

/// Installs the process's subscriber. Call it once, first thing in a subcommand.
pub fn init(args: LogArgs) -> Result<()> {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()
        .context("RUST_LOG is not a valid log filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match args.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
