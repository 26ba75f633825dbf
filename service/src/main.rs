//! `augmentd`: the command line. `train` runs (or resumes) a training run; `augment` applies a
//! trained augmenter to image files; `serve` runs the gRPC service. Every flag can also be given as an `AUGMENTD_*` variable.
use clap::{Parser, Subcommand};

mod cli;

/// Learned data augmentation: train an augmenter by online bilevel optimization, apply it.
#[derive(Parser)]
#[command(name = "augmentd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train (or resume) a run: classifier and augmenter, per the method.
    Train(cli::train::TrainArgs),
    /// Apply a trained augmenter to images and write the augmented copies as PNG.
    Augment(cli::augment::AugmentArgs),
    /// Serve augmentation, training jobs and models over gRPC (with Prometheus metrics).
    Serve(Box<cli::serve::ServeArgs>),
    /// List the presets, or print one as TOML.
    Presets {
        /// The preset to print.
        name: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(args) => cli::train::run(args),
        Command::Augment(args) => cli::augment::run(args),
        Command::Serve(args) => cli::serve::run(*args),
        Command::Presets { name } => cli::presets(name.as_deref()),
    }
}
