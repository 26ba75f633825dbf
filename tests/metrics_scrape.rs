//! `/metrics` scraped during a short training job: the training series appear and move.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use augmentd_client::proto::{self, job_event::Event};
use tokio_stream::StreamExt;

/// GET /metrics over a plain socket.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the first sample whose name and labels start with `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_series_appear_and_move() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let metrics = server.metrics_addr.unwrap();
    let client = common::client(&server, None).await;
    let job = client
        .start_training(proto::StartTrainingRequest {
            ..common::synthetic_request("affine_color", 3, 16, 200, 3)
        })
        .await
        .unwrap();
    let job_label = format!("{{job_id=\"{}\"}}", job.id);
    let mut events = client.watch_job(&job.id).await.unwrap();
    let mut epochs_seen = Vec::new();
    let mut scrapes = Vec::new();
    while epochs_seen.len() < 2 {
        if let Event::Epoch(record) = events.next().await.unwrap().unwrap() {
            epochs_seen.push(record.epoch);
            scrapes.push(
                tokio::task::spawn_blocking(move || scrape(metrics))
                    .await
                    .unwrap(),
            );
        }
    }
    let steps =
        |text: &str| value(text, &format!("augmentd_training_steps_total{job_label}")).unwrap();
    let epochs_done = |text: &str| {
        value(
            text,
            &format!("augmentd_training_epochs_completed{job_label}"),
        )
        .unwrap()
    };
    assert!(steps(&scrapes[1]) > steps(&scrapes[0]), "steps move");
    assert!(
        epochs_done(&scrapes[1]) > epochs_done(&scrapes[0]),
        "epochs move"
    );
    let last = &scrapes[1];
    for series in [
        format!(
            "augmentd_training_loss{{job_id=\"{}\",split=\"train\"}}",
            job.id
        ),
        format!(
            "augmentd_training_loss{{job_id=\"{}\",split=\"val\"}}",
            job.id
        ),
        format!(
            "augmentd_training_accuracy_percent{{job_id=\"{}\",split=\"val\"}}",
            job.id
        ),
        format!("augmentd_training_images_per_second{job_label}"),
        format!("augmentd_training_augmenter_grad_norm{job_label}"),
        format!(
            "augmentd_training_transform_std{{job_id=\"{}\",param=\"a11\"}}",
            job.id
        ),
        format!(
            "augmentd_training_transform_mean{{job_id=\"{}\",param=\"brightness\"}}",
            job.id
        ),
        format!("augmentd_training_last_checkpoint_timestamp_seconds{job_label}"),
        format!("augmentd_training_running{job_label}"),
        format!("augmentd_training_step_duration_seconds_count{job_label}"),
        "augmentd_jobs{state=\"running\"}".to_string(),
    ] {
        let v = value(last, &series).unwrap_or_else(|| panic!("{series} missing:\n{last}"));
        assert!(v.is_finite(), "{series} = {v}");
    }
    assert_eq!(value(last, "augmentd_jobs{state=\"running\"}"), Some(1.0));
    assert!(
        value(
            last,
            &format!("augmentd_training_last_checkpoint_timestamp_seconds{job_label}")
        )
        .unwrap()
            > 1.7e9
    );
    // The watch and start calls are counted by method and code.
    assert!(
        value(
            last,
            "augmentd_requests_total{code=\"OK\",method=\"StartTraining\"}"
        )
        .is_some(),
        "{last}"
    );
    client.cancel_job(&job.id).await.unwrap();
    server.shutdown().await.unwrap();
}
