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

/// Calls refused before any handler runs (no token, a wrong token, a scope too small, an
/// unknown method) are counted by method and code, and timed, like the answered ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_are_counted_with_their_code() {
    let state = tempfile::tempdir().unwrap();
    let mut config = common::config(state.path());
    config.tokens = augmentd::grpc::Tokens::new(&["aug-token".into()], &["admin-token".into()]);
    let server = common::start(config).await;
    let metrics = server.metrics_addr.unwrap();
    let anonymous = common::client(&server, None).await;
    let wrong = common::client(&server, Some("guess")).await;
    let augment = common::client(&server, Some("aug-token")).await;
    let batch = augmentd_client::ImageBatch::new(
        vec![0; 16 * 16],
        augmentd_client::DType::U8,
        augmentd_client::Layout::Nchw,
        [1, 1, 16, 16],
    )
    .unwrap();
    let options = augmentd_client::AugmentOptions::default();
    assert!(anonymous.augment("", &batch, &options).await.is_err());
    assert!(wrong.augment("", &batch, &options).await.is_err());
    assert!(wrong.list_jobs(None).await.is_err());
    assert!(augment.list_models(None).await.is_err());
    // Past the token check: no model yet, answered by the handler.
    assert!(augment.augment("", &batch, &options).await.is_err());
    // A method no service has.
    let mut channel = tonic::client::Grpc::new(
        tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    // An unknown service, and an unknown method of a known one (past its token check).
    for (path, token) in [
        ("/augmentd.v1.Nothing/Method", None),
        (
            "/augmentd.v1.Training/NoSuchMethod",
            Some("Bearer admin-token"),
        ),
    ] {
        let mut request = tonic::Request::new(proto::GetJobRequest::default());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", token.parse().unwrap());
        }
        channel.ready().await.unwrap();
        let unknown: Result<tonic::Response<proto::GetJobRequest>, tonic::Status> = channel
            .unary(
                request,
                path.parse().unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await;
        assert_eq!(unknown.unwrap_err().code(), tonic::Code::Unimplemented);
    }

    let text = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    let count = |method: &str, code: &str| {
        value(
            &text,
            &format!("augmentd_requests_total{{code=\"{code}\",method=\"{method}\"}} "),
        )
    };
    assert_eq!(count("Augment", "UNAUTHENTICATED"), Some(2.0), "{text}");
    assert_eq!(count("ListJobs", "UNAUTHENTICATED"), Some(1.0), "{text}");
    assert_eq!(
        count("ListModels", "PERMISSION_DENIED"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(count("Augment", "FAILED_PRECONDITION"), Some(1.0), "{text}");
    assert_eq!(count("unknown", "UNIMPLEMENTED"), Some(2.0), "{text}");
    let timed = "augmentd_request_duration_seconds_count{method=\"Augment\"} ";
    assert_eq!(value(&text, timed), Some(3.0), "{text}");
    // Health checks are probes, not calls of the service.
    assert!(!text.contains("method=\"Check\""), "{text}");
    server.shutdown().await.unwrap();
}
