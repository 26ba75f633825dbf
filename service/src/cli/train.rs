//! `augmentd train`: runs the training loop on a worker thread and shows its progress (a bar
//! with epoch, loss, accuracies and ETA), then a summary table.
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::{Context, Result};
use augmentd::model::COLLAPSE_STD_THRESHOLD;
use augmentd::train::{EpochRecord, RunConfig, RunEvent, TrainingRun};
use indicatif::{ProgressBar, ProgressStyle};

use super::log::{self, LogArgs, TARGET};

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
    /// The augmenter network of a learned mode: `broad` (the default), `narrow`, `spread` or
    /// `reference` (the method as published); the same as `--set augment.variant=NAME`.
    #[arg(long, value_name = "NAME")]
    augmenter_variant: Option<String>,
    /// No progress bar (plain lines per epoch), for logs.
    #[arg(long, env = "AUGMENTD_QUIET")]
    quiet: bool,
    #[command(flatten)]
    log: LogArgs,
}

/// `value` with `decimals` decimals, or `-` when it was not measured (no validation split,
/// no test evaluation this epoch).
fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn summary_line(r: &EpochRecord) -> String {
    format!(
        "{:>5}  {:>10.4}  {:>8}  {:>9.2}  {:>7}  {:>8}  {:>8.5}  {:>7.1}",
        r.epoch,
        r.train_loss,
        optional(r.val_loss, 4),
        r.train_acc,
        optional(r.val_acc, 2),
        optional(r.test_acc, 2),
        r.lr,
        r.seconds
    )
}

/// Runs `augmentd train`.
pub fn run(args: TrainArgs) -> Result<()> {
    log::init(args.log)?;
    let mut sets = args.sets;
    if let Some(variant) = args.augmenter_variant {
        sets.push(format!("augment.variant={variant}"));
    }
    let config = RunConfig::load(args.preset.as_deref(), args.config.as_deref(), &sets)?;
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
                    let epoch = first_epoch - 1;
                    bar.suspend(|| tracing::info!(target: TARGET, "resuming after epoch {epoch}"));
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
                    "  acc train {:.1} val {} test {}",
                    record.train_acc,
                    optional(record.val_acc, 1),
                    optional(record.test_acc, 2)
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
                        tracing::info!(target: TARGET, "{line}");
                    } else {
                        bar.println(line);
                    }
                }
            }
            RunEvent::SkippedCheckpoint(what) => {
                bar.suspend(|| tracing::warn!(target: TARGET, "skipped checkpoint {what}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_show_a_dash_for_what_was_not_measured() {
        let record = EpochRecord {
            epoch: 2,
            train_loss: 0.5,
            val_loss: Some(0.75),
            train_acc: 81.25,
            val_acc: Some(79.5),
            test_acc: None,
            lr: 0.05,
            seconds: 12.34,
            images_per_second: 100.0,
            augmenter_grad_norm: None,
            transforms: Vec::new(),
            served: Vec::new(),
            collapsed: false,
        };
        assert_eq!(
            summary_line(&record),
            "    2      0.5000    0.7500      81.25    79.50         -   0.05000     12.3"
        );
        let no_val = EpochRecord {
            val_loss: None,
            val_acc: None,
            test_acc: Some(77.0),
            ..record
        };
        assert_eq!(
            summary_line(&no_val),
            "    2      0.5000         -      81.25        -     77.00   0.05000     12.3"
        );
    }
}
