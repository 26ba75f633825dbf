//! Publication is idempotent across a crash: a server killed with SIGKILL the moment WatchJob
//! reports a job's publication, then started again on the same state dir, finishes the job
//! without publishing its model a second time. Exactly one version exists, it names the job
//! and the epoch, and the job lists it.
#![allow(clippy::unwrap_used)]

mod process;

use std::path::Path;

use augmentd_proto::v1 as pb;
use pb::job_event::Event;
use pb::models_client::ModelsClient;
use pb::training_client::TrainingClient;

use process::{channel, config, serve};

const EPOCHS: u64 = 2;

/// Watches job `id` until `stop` says so (or the stream ends); the events seen.
async fn watch_until(url: &str, id: &str, stop: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut events = TrainingClient::new(channel(url).await)
        .watch_job(pb::WatchJobRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(event) = events.message().await.unwrap() {
        let event = event.event.unwrap();
        let done = stop(&event);
        seen.push(event);
        if done {
            break;
        }
    }
    seen
}

/// Puts the job's record back as it was before the publication reached it: still running,
/// nothing published. The kill may land before or after the server writes those changes;
/// rewriting them makes every run of this test take the path where it landed before.
fn as_before_the_publication(state: &Path, id: &str) {
    let path = state.join("jobs").join(id).join("job.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["state"] = "running".into();
    record["published"] = serde_json::json!([]);
    record["finished_unix_ms"] = 0.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_after_a_publication_does_not_publish_it_again() {
    let state = tempfile::tempdir().unwrap();
    let (mut first, url) = serve(state.path());
    let job = TrainingClient::new(channel(&url).await)
        .start_training(pb::StartTrainingRequest {
            preset: process::PRESET.into(),
            config_toml: config(EPOCHS),
            model_name: "once".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let seen = watch_until(&url, &job.id, |e| matches!(e, Event::Published(_))).await;
    // A crash the moment the publication is reported: no drain, no goodbye.
    first.kill().unwrap();
    first.wait().unwrap();
    let Some(Event::Published(published)) = seen.last() else {
        panic!("the job ended without publishing: {seen:?}");
    };
    assert_eq!((published.name.as_str(), published.version), ("once", 1));
    as_before_the_publication(state.path(), &job.id);

    let (mut second, url) = serve(state.path());
    let events = watch_until(
        &url,
        &job.id,
        |e| matches!(e, Event::Job(j) if j.state() != pb::JobState::Running && j.state() != pb::JobState::Queued),
    )
    .await;
    let Some(Event::Job(last)) = events.last() else {
        panic!("the watch ended without the job's end: {events:?}");
    };
    assert_eq!(
        last.state(),
        pb::JobState::Succeeded,
        "{}",
        last.failure_reason
    );
    assert_eq!(last.published, vec!["once@1".to_string()]);
    let told: Vec<(String, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Published(v) => Some((v.name.clone(), v.version)),
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![("once".to_string(), 1)], "told once: {events:?}");

    let models = ModelsClient::new(channel(&url).await)
        .list_models(pb::ListModelsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .models;
    assert_eq!(models.len(), 1, "one version: {models:?}");
    let model = &models[0];
    assert_eq!((model.name.as_str(), model.version), ("once", 1));
    assert_eq!(model.source_job, job.id);
    assert_eq!(model.epoch, EPOCHS - 1);
    assert!(model.active && model.default, "{model:?}");
    let job_after = TrainingClient::new(channel(&url).await)
        .get_job(pb::GetJobRequest { id: job.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job_after.published, vec!["once@1".to_string()]);

    second.kill().unwrap();
    second.wait().unwrap();
}
