//! `augmentd train`: runs the training loop on a worker thread and shows its progress (a bar
//! with epoch, loss, accuracies and ETA), then a summary table.
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::{Context, Result};
use augmentd::train::{EpochRecord, RunConfig, RunEvent, TrainingRun, COLLAPSE_STD_THRESHOLD};
use indicatif::{ProgressBar, ProgressStyle};

/// Flags of `augmentd train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// A named configuration: cifar10-paper, bach-paper, fmnist-small.
    #[arg(long, env = "AUGMENTD_PRESET")]
    preset: Option<String>,
    /// A TOML configuration file (applied over the preset).
    #[arg(long, env = "AUGMENTD_CONFIG")]
    config: Option<PathBuf>,
    /// Override one key, e.g. `--set classifier.lr=0.05` (repeatable; applied last).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// The run directory: records, pictures, checkpoints, the trained augmenter. An existing
    /// run there is resumed.
    #[arg(long, env = "AUGMENTD_RUN_DIR")]
    run_dir: PathBuf,
    /// No progress bar (plain lines per epoch), for logs.
    #[arg(long, env = "AUGMENTD_QUIET")]
    quiet: bool,
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2}"))
}

fn summary_line(r: &EpochRecord) -> String {
    format!(
        "{:>5}  {:>10.4}  {:>8.4}  {:>9.2}  {:>7.2}  {:>8}  {:>8.5}  {:>7.1}",
        r.epoch,
        r.train_loss,
        r.val_loss,
        r.train_acc,
        r.val_acc,
        percent(r.test_acc),
        r.lr,
        r.seconds
    )
}

/// Runs `augmentd train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let config = RunConfig::load(args.preset.as_deref(), args.config.as_deref(), &args.sets)?;
    let run = TrainingRun::new(config, &args.run_dir)?;
    let (sender, events) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("augmentd-train".into())
        .spawn(move || run.run(Some(&sender)))
        .context("cannot start the training thread")?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut epochs = 0;
    let mut last = String::new();
    for event in events {
        match event {
            RunEvent::Started {
                first_epoch,
                epochs: total,
                steps_per_epoch,
            } => {
                epochs = total;
                if first_epoch > 0 {
                    eprintln!("resuming after epoch {}", first_epoch - 1);
                }
                bar.set_length(steps_per_epoch as u64 * total.saturating_sub(first_epoch));
                bar.set_prefix(format!("{first_epoch}/{total}"));
            }
            RunEvent::Step {
                epoch,
                train_loss,
                images,
                seconds,
                ..
            } => {
                bar.set_prefix(format!("{}/{epochs}", epoch + 1));
                let rate = images as f64 / seconds.max(1e-9);
                bar.set_message(format!("loss {train_loss:.3}  {rate:.0} img/s{last}"));
                bar.inc(1);
            }
            RunEvent::Epoch(record) => {
                last = format!(
                    "  acc train {:.1} val {:.1} test {}",
                    record.train_acc,
                    record.val_acc,
                    percent(record.test_acc)
                );
                if args.quiet {
                    println!("{}", summary_line(&record));
                }
            }
            RunEvent::ModelSaved {
                epoch,
                path,
                final_model,
            } => {
                // Periodic models only: the final one is in the summary.
                if !final_model {
                    let line = format!("model of epoch {epoch}: {}", path.display());
                    if args.quiet {
                        eprintln!("{line}");
                    } else {
                        bar.println(line);
                    }
                }
            }
            RunEvent::SkippedCheckpoint(what) => {
                let warning = format!("warning: skipped checkpoint {what}");
                if args.quiet {
                    eprintln!("{warning}");
                } else {
                    bar.println(warning);
                }
            }
        }
    }
    bar.finish_and_clear();
    let summary = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))??;
    println!("epoch  train loss  val loss  train acc  val acc  test acc        lr      sec");
    for record in &summary.records {
        println!("{}", summary_line(record));
    }
    println!("run directory: {}", summary.dir.display());
    println!("  records.jsonl, accuracy.png, grids/, checkpoints/");
    if let Some(model) = &summary.model {
        println!("  trained augmenter: {}", model.display());
    }
    // A published augmenter is judged by what it serves; the records pool each epoch's
    // transforms while the augmenter was still moving, so they can miss a collapse.
    match &summary.served {
        Some(served) if served.collapsed => println!(
            "  warning: the trained augmenter is collapsed as served: over {} draws every \
             transformation parameter's std is below {}, so it applies one fixed transform",
            served.draws, served.threshold
        ),
        Some(_) => {}
        None => {
            if let Some(last) = summary.records.last().filter(|r| r.collapsed) {
                println!(
                    "  warning: the augmenter collapsed (every transformation parameter's std \
                     below {COLLAPSE_STD_THRESHOLD} in epoch {}): it applies one fixed transform",
                    last.epoch
                );
            }
        }
    }
    Ok(())
}
