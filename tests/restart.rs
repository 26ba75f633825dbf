//! Restart: a server stopped during a training job and started again on the same state dir
//! resumes the job from its last checkpoint (no completed epoch lost); finished jobs and
//! models are still listed. A second server on a state dir in use refuses to start.
#![allow(clippy::unwrap_used)]

mod common;

use augmentd_client::proto::{self, job_event::Event, JobState};
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_resumes_its_job_after_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;
    let finished = common::train_model(&client, "before", 1, 16, 1).await;
    assert_eq!(finished, "before@1");

    let job = client
        .start_training(proto::StartTrainingRequest {
            model_name: "resumed".into(),
            ..common::synthetic_request("small_affine", 1, 16, 40, 2)
        })
        .await
        .unwrap();
    // Stop the server as soon as the job has checkpointed its first epoch.
    let mut events = client.watch_job(&job.id).await.unwrap();
    let first_record = loop {
        match events.next().await.unwrap().unwrap() {
            Event::Epoch(record) => break record,
            _ => continue,
        }
    };
    assert_eq!(first_record.epoch, 0);
    drop(events);
    server.shutdown().await.unwrap();
    let stored =
        std::fs::read_to_string(state.path().join("jobs").join(&job.id).join("job.json")).unwrap();
    assert!(stored.contains("\"state\": \"running\""), "{stored}");

    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;
    let events = common::watch_to_end(&client, &job.id).await;
    let last = common::final_job(&events);
    assert_eq!(last.state(), JobState::Succeeded, "{}", last.failure_reason);
    let records: Vec<proto::EpochRecord> = events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let epochs: Vec<u64> = records.iter().map(|r| r.epoch).collect();
    assert_eq!(
        epochs,
        (0..40).collect::<Vec<u64>>(),
        "every epoch once, none lost"
    );
    assert_eq!(
        records[0], first_record,
        "epoch 0 is the one trained before the restart"
    );
    let stderr_free = std::fs::read_to_string(
        state
            .path()
            .join("jobs")
            .join(&job.id)
            .join("run/records.jsonl"),
    )
    .unwrap();
    assert_eq!(stderr_free.lines().count(), 40);

    let jobs = client.list_jobs(Some(JobState::Succeeded)).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let models: Vec<String> = client
        .list_models(None)
        .await
        .unwrap()
        .iter()
        .map(augmentd_client::model_ref)
        .collect();
    assert_eq!(
        models,
        vec!["before@1".to_string(), "resumed@1".to_string()]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_state_dir_in_use_refuses_to_start() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let refused = augmentd::grpc::start(common::config(state.path()))
        .await
        .err()
        .expect("a second server on the same state dir is refused")
        .to_string();
    assert!(
        refused.contains("is in use by another augmentd process")
            && refused.contains(&state.path().display().to_string()),
        "{refused}"
    );
    // The first server is unharmed, and once it stops the state dir can be opened again.
    let client = common::client(&server, None).await;
    assert!(client.list_jobs(None).await.unwrap().is_empty());
    server.shutdown().await.unwrap();
    let again = common::start(common::config(state.path())).await;
    again.shutdown().await.unwrap();
}
