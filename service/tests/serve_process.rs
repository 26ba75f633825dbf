//! `augmentd serve` as a process: it prints where it listens, survives a SIGKILL during a
//! training job (the job resumes by itself at the next start, no completed epoch lost), and
//! exits 0 after draining on SIGTERM.
#![allow(clippy::unwrap_used)]

mod process;

use std::io::Read;
use std::process::Command;

use augmentd_proto::v1 as pb;
use pb::job_event::Event;
use pb::training_client::TrainingClient;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use process::{channel, serve};

const EPOCHS: u64 = 30;

/// The epochs and the final state of a job, watched to its end.
async fn watch(url: &str, id: &str, stop_after_first_epoch: bool) -> (Vec<u64>, Option<pb::Job>) {
    let mut training = TrainingClient::new(channel(url).await);
    let mut events = training
        .watch_job(pb::WatchJobRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
    let (mut epochs, mut last) = (Vec::new(), None);
    while let Some(event) = events.message().await.unwrap() {
        match event.event.unwrap() {
            Event::Epoch(r) => {
                epochs.push(r.epoch);
                if stop_after_first_epoch {
                    return (epochs, None);
                }
            }
            Event::Job(j) => last = Some(j),
            _ => {}
        }
    }
    (epochs, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_resumes_its_job_and_sigterm_exits_zero() {
    let state = tempfile::tempdir().unwrap();
    let (mut first, url) = serve(state.path());
    let health = HealthClient::new(channel(&url).await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);
    let job = TrainingClient::new(channel(&url).await)
        .start_training(pb::StartTrainingRequest {
            preset: process::PRESET.into(),
            config_toml: process::config(EPOCHS),
            model_name: "crash".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (epochs, _) = watch(&url, &job.id, true).await;
    assert_eq!(epochs, vec![0]);
    // A crash: no drain, no goodbye.
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, url) = serve(state.path());
    let (epochs, last) = watch(&url, &job.id, false).await;
    let last = last.unwrap();
    assert_eq!(
        last.state(),
        pb::JobState::Succeeded,
        "{}",
        last.failure_reason
    );
    assert_eq!(
        epochs,
        (0..EPOCHS).collect::<Vec<u64>>(),
        "every epoch once, none lost"
    );
    assert_eq!(last.published, vec!["crash@1".to_string()]);

    let pid = second.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = second.wait().unwrap();
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: draining"), "{stderr}");
    assert!(stderr.contains("augmentd: stopped"), "{stderr}");
}
