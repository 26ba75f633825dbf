//! `augmentctl train ...`: start, watch (a progress bar of steps and a line per epoch), list,
//! get and cancel training jobs.
use std::process::ExitCode;

use anyhow::Context;
use augmentd_client::proto::job_event::Event;
use augmentd_client::proto::{EpochRecord, Job, JobState, StartTrainingRequest};
use augmentd_client::{is_finished, model_ref, parse_state, state_name, Client};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_stream::StreamExt;

use crate::cli::{StartArgs, TrainCommand};
use crate::table::{percent, render, utc};

/// Runs `augmentctl train ...`.
pub async fn run(client: &Client, command: TrainCommand) -> anyhow::Result<ExitCode> {
    match command {
        TrainCommand::Start(args) => start(client, args).await,
        TrainCommand::Watch { id } => watch(client, &id).await,
        TrainCommand::List { state } => {
            let state = state.as_deref().map(parse_state).transpose()?;
            let jobs = client.list_jobs(state).await?;
            println!("{}", jobs_table(&jobs));
            Ok(ExitCode::SUCCESS)
        }
        TrainCommand::Get { id } => {
            print!("{}", job_details(&client.get_job(&id).await?));
            Ok(ExitCode::SUCCESS)
        }
        TrainCommand::Cancel { id } => {
            let job = client.cancel_job(&id).await?;
            println!("{}: {}", job.id, state_name(job.state()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn start(client: &Client, args: StartArgs) -> anyhow::Result<ExitCode> {
    let config_toml = match &args.config {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => String::new(),
    };
    let request = StartTrainingRequest {
        preset: args.preset.unwrap_or_default(),
        config_toml,
        overrides: args.overrides,
        dataset: args.dataset.unwrap_or_default(),
        test_dataset: args.test_dataset.unwrap_or_default(),
        model_name: args.model_name.unwrap_or_default(),
        publish_every_epochs: args.publish_every,
        activate: args.no_activate.then_some(false),
    };
    let job = client.start_training(request).await?;
    println!("{}", job.id);
    if args.watch {
        watch(client, &job.id).await
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// One line per finished epoch.
fn epoch_line(record: &EpochRecord, epochs: u64) -> String {
    format!(
        "epoch {}/{epochs}  train loss {:.4}  val loss {}  acc train {:.1} val {} test {}  {:.0} img/s  {:.1} s",
        record.epoch + 1,
        record.train_loss,
        record
            .val_loss
            .map_or_else(|| "-".to_string(), |v| format!("{v:.4}")),
        record.train_acc,
        percent(record.val_acc),
        percent(record.test_acc),
        record.images_per_second,
        record.seconds
    )
}

/// Prints a line above the progress bar, or plainly when the bar is not drawn (output is not
/// a terminal): indicatif drops lines printed through a hidden bar.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

/// Follows a job; exit code 0 when it SUCCEEDED, 1 otherwise.
async fn watch(client: &Client, id: &str) -> anyhow::Result<ExitCode> {
    let mut events = client.watch_job(id).await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut last: Option<Job> = None;
    let mut epochs = 0;
    while let Some(event) = events.next().await {
        match event? {
            Event::Job(job) => {
                if last.as_ref().map(Job::state) != Some(job.state()) {
                    say(&bar, format!("{}: {}", job.id, state_name(job.state())));
                }
                epochs = job.epochs;
                last = Some(job);
            }
            Event::Epoch(record) => say(&bar, epoch_line(&record, epochs)),
            Event::Step(step) => {
                bar.set_length(step.steps_per_epoch);
                bar.set_position(step.step);
                bar.set_prefix(format!("{}/{epochs}", step.epoch + 1));
                bar.set_message(format!("loss {:.4}", step.train_loss));
            }
            Event::Published(model) => say(&bar, format!("published {}", model_ref(&model))),
        }
    }
    bar.finish_and_clear();
    let job = match last {
        Some(job) if is_finished(job.state()) => job,
        _ => client.get_job(id).await?,
    };
    Ok(match job.state() {
        JobState::Succeeded => {
            if job.published.is_empty() {
                println!("{}: SUCCEEDED", job.id);
            } else {
                println!(
                    "{}: SUCCEEDED, published {}",
                    job.id,
                    job.published.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        state @ (JobState::Failed | JobState::Cancelled) => {
            eprintln!("{}: {}: {}", job.id, state_name(state), job.failure_reason);
            ExitCode::FAILURE
        }
        state => {
            eprintln!(
                "augmentctl: the watch of {} ended while the job is {}",
                job.id,
                state_name(state)
            );
            ExitCode::FAILURE
        }
    })
}

fn jobs_table(jobs: &[Job]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                job.id.clone(),
                state_name(job.state()).to_string(),
                job.dataset.clone(),
                job.model_name.clone(),
                format!("{}/{}", job.epochs_done, job.epochs),
                percent(job.last_record.as_ref().and_then(|r| r.val_acc)),
                utc(job.created_unix_ms),
            ]
        })
        .collect();
    render(
        &[
            "ID",
            "STATE",
            "DATASET",
            "MODEL",
            "EPOCHS",
            "VAL_ACC",
            "CREATED (UTC)",
        ],
        &rows,
    )
}

fn job_details(job: &Job) -> String {
    let mut text = format!(
        "id:        {}\nstate:     {}\n",
        job.id,
        state_name(job.state())
    );
    if !job.failure_reason.is_empty() {
        text += &format!("reason:    {}\n", job.failure_reason);
    }
    text += &format!(
        "dataset:   {}\nmodel:     {}\nepochs:    {}/{}\ncreated:   {}\nstarted:   {}\nfinished:  {}\n",
        job.dataset,
        job.model_name,
        job.epochs_done,
        job.epochs,
        utc(job.created_unix_ms),
        utc(job.started_unix_ms),
        utc(job.finished_unix_ms)
    );
    if !job.published.is_empty() {
        text += &format!("published: {}\n", job.published.join(", "));
    }
    if let Some(record) = &job.last_record {
        text += &format!("last:      {}\n", epoch_line(record, job.epochs));
    }
    if !job.config_toml.is_empty() {
        text += "config:\n";
        for line in job.config_toml.lines() {
            text += &format!("  {line}\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_lines_read_well() {
        let record = EpochRecord {
            epoch: 2,
            train_loss: 0.5,
            val_loss: Some(0.75),
            train_acc: 81.25,
            val_acc: Some(79.5),
            test_acc: None,
            images_per_second: 1234.4,
            seconds: 12.34,
            ..EpochRecord::default()
        };
        assert_eq!(
            epoch_line(&record, 10),
            "epoch 3/10  train loss 0.5000  val loss 0.7500  acc train 81.2 val 79.5 test -  1234 img/s  12.3 s"
        );
        // A run without a validation split (data.val_ratio = 0), tested this epoch.
        let no_val = EpochRecord {
            val_loss: None,
            val_acc: None,
            test_acc: Some(77.25),
            ..record
        };
        assert_eq!(
            epoch_line(&no_val, 10),
            "epoch 3/10  train loss 0.5000  val loss -  acc train 81.2 val - test 77.2  1234 img/s  12.3 s"
        );
    }

    #[test]
    fn job_tables_list_every_job() {
        let job = Job {
            id: "job-000001".into(),
            state: JobState::Running as i32,
            dataset: "synthetic".into(),
            model_name: "default".into(),
            epochs: 3,
            epochs_done: 1,
            ..Job::default()
        };
        let text = jobs_table(std::slice::from_ref(&job));
        assert!(
            text.lines()
                .nth(1)
                .expect("row")
                .starts_with("job-000001  RUNNING"),
            "{text}"
        );
        let details = job_details(&job);
        assert!(details.contains("epochs:    1/3"), "{details}");
    }
}
