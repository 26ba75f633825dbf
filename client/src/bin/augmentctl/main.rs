//! `augmentctl`: the command line client of augmentd (health, augment, train, models). Errors
//! are printed as `augmentctl: <CODE>: <message>` with exit code 1; usage errors exit with 2.
mod augment_cmd;
mod cli;
mod models_cmd;
mod table;
mod train_cmd;

use std::process::ExitCode;

use augmentd_client::{Client, ServingStatus};
use clap::Parser;

use crate::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("augmentctl: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, skipping causes that repeat the text before them.
fn describe(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let client = Client::connect(cli.conn.options()?).await?;
    match cli.command {
        Command::Health { service } => {
            let status = client.health(&service).await?;
            println!("{}", status.as_str_name());
            Ok(if status == ServingStatus::Serving {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Augment(args) => augment_cmd::run(&client, args).await,
        Command::Train(command) => train_cmd::run(&client, command).await,
        Command::Models(command) => models_cmd::run(&client, command).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_once() {
        let err: anyhow::Error = augmentd_client::ClientError::Rpc {
            code: tonic::Code::NotFound,
            message: "no job \"job-9\"".into(),
        }
        .into();
        assert_eq!(describe(&err), "NOT_FOUND: no job \"job-9\"");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::new(io).context("cannot read run.toml");
        assert_eq!(describe(&err), "cannot read run.toml: No such file");
    }
}
