//! `augmentd serve`: the gRPC service. Every flag is also an `AUGMENTD_*` variable; SIGTERM or
//! SIGINT drains in-flight calls, checkpoints running jobs (they resume at the next start)
//! and exits 0. The first stdout line says where it serves (scripts and tests read the
//! address from it); everything else is a log event on stderr.
use anyhow::{Context, Result};
use augmentd::grpc::{ServeConfig, ServeFlags};

use super::log::{self, LogArgs, TARGET};

/// Flags of `augmentd serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    flags: ServeFlags,
}

/// Runs `augmentd serve` until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<()> {
    log::init(args.log)?;
    let config = ServeConfig::from_flags(&args.flags)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("augmentd-rpc")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if !config.tokens.enabled() {
            tracing::warn!(
                target: TARGET,
                "no token configured: every call is allowed (set --augment-token-file / --admin-token-file)"
            );
        }
        let tls = config.tls.is_some();
        let drain = config.drain_timeout;
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
        let signal = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        };
        tracing::info!(target: TARGET, signal, drain_timeout = ?drain, "{signal}: draining");
        if let Some(stop) = stop {
            // The server may have stopped on its own already; waiting below says how.
            let _ = stop.send(());
        }
        server.wait().await?;
        tracing::info!(target: TARGET, "stopped");
        Ok(())
    })
}
