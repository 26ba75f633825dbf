//! The client library and augmentctl against an in-process mock of augmentd's API (no
//! libtorch, no real server): the mock "augments" by repeating each image `copies` times,
//! returns each output's copy index as its parameter, requires `Bearer tok` on Augmenter calls
//! and replays a fixed event sequence on WatchJob.
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::Output;

use augmentd_client::proto::augmenter_server::{Augmenter, AugmenterServer};
use augmentd_client::proto::job_event::Event;
use augmentd_client::proto::models_server::{Models, ModelsServer};
use augmentd_client::proto::training_server::{Training, TrainingServer};
use augmentd_client::proto::{self as pb, JobState};
use augmentd_client::{
    AugmentOptions, Client, ClientError, ConnectOptions, ImageBatch, Layout, ServingStatus,
};
use ndarray::Array4;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct MockAugmenter;

fn check_token<T>(request: &Request<T>) -> Result<(), Status> {
    match request.metadata().get("authorization") {
        Some(v) if v == "Bearer tok" => Ok(()),
        _ => Err(Status::unauthenticated("missing or wrong bearer token")),
    }
}

fn mock_augment(r: pb::AugmentRequest) -> Result<pb::AugmentResponse, Status> {
    if r.dtype == pb::DType::DtypeUnspecified as i32 {
        return Err(Status::invalid_argument("dtype: unset"));
    }
    let copies = r.copies.max(1) as usize;
    let n = r.shape[0] as usize;
    let per = r.data.len() / n;
    let mut data = Vec::with_capacity(r.data.len() * copies);
    let mut params = Vec::new();
    for image in r.data.chunks(per) {
        for copy in 0..copies {
            data.extend_from_slice(image);
            params.push(copy as f32);
        }
    }
    let mut shape = r.shape.clone();
    shape[0] *= copies as i64;
    Ok(pb::AugmentResponse {
        data,
        dtype: r.dtype,
        layout: r.layout,
        shape,
        model_name: if r.model.is_empty() {
            "default".into()
        } else {
            r.model.clone()
        },
        model_version: 1,
        seed: r.seed.unwrap_or(42),
        param_names: if r.return_params {
            vec!["copy".into()]
        } else {
            vec![]
        },
        params: if r.return_params { params } else { vec![] },
        request_id: r.request_id,
    })
}

#[tonic::async_trait]
impl Augmenter for MockAugmenter {
    async fn augment(
        &self,
        request: Request<pb::AugmentRequest>,
    ) -> Result<Response<pb::AugmentResponse>, Status> {
        check_token(&request)?;
        mock_augment(request.into_inner()).map(Response::new)
    }

    type AugmentStreamStream = BoxStream<pb::AugmentResponse>;

    async fn augment_stream(
        &self,
        request: Request<tonic::Streaming<pb::AugmentRequest>>,
    ) -> Result<Response<Self::AugmentStreamStream>, Status> {
        check_token(&request)?;
        let stream = request.into_inner().map(|r| r.and_then(mock_augment));
        Ok(Response::new(Box::pin(stream)))
    }
}

struct MockTraining;

fn job(id: &str, state: JobState) -> pb::Job {
    pb::Job {
        id: id.into(),
        state: state as i32,
        dataset: "synthetic".into(),
        model_name: "mock".into(),
        epochs: 2,
        failure_reason: if state == JobState::Failed {
            "out of memory".into()
        } else {
            String::new()
        },
        published: if state == JobState::Succeeded {
            vec!["mock@1".into()]
        } else {
            vec![]
        },
        ..pb::Job::default()
    }
}

#[tonic::async_trait]
impl Training for MockTraining {
    async fn start_training(
        &self,
        request: Request<pb::StartTrainingRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        if r.overrides.iter().any(|o| o.starts_with("bogus")) {
            return Err(Status::invalid_argument("bogus: unknown key"));
        }
        Ok(Response::new(job("job-000001", JobState::Queued)))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request.into_inner().id;
        match id.as_str() {
            "job-000001" => Ok(Response::new(job(&id, JobState::Succeeded))),
            _ => Err(Status::not_found(format!("no job {id:?}"))),
        }
    }

    async fn list_jobs(
        &self,
        _request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        Ok(Response::new(pb::ListJobsResponse {
            jobs: vec![job("job-000001", JobState::Succeeded)],
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        Ok(Response::new(job(
            &request.into_inner().id,
            JobState::Cancelled,
        )))
    }

    type WatchJobStream = BoxStream<pb::JobEvent>;

    async fn watch_job(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = request.into_inner().id;
        let last = if id == "job-fail" {
            JobState::Failed
        } else {
            JobState::Succeeded
        };
        let events = vec![
            Event::Job(job(&id, JobState::Running)),
            Event::Step(pb::StepProgress {
                epoch: 0,
                step: 5,
                steps_per_epoch: 10,
                train_loss: 1.5,
            }),
            Event::Epoch(pb::EpochRecord {
                epoch: 0,
                train_loss: 1.2,
                val_acc: Some(50.0),
                ..Default::default()
            }),
            Event::Published(pb::ModelVersion {
                name: "mock".into(),
                version: 1,
                ..Default::default()
            }),
            Event::Job(job(&id, last)),
        ];
        let stream = tokio_stream::iter(
            events
                .into_iter()
                .map(|e| Ok(pb::JobEvent { event: Some(e) })),
        );
        Ok(Response::new(Box::pin(stream)))
    }
}

struct MockModels;

#[tonic::async_trait]
impl Models for MockModels {
    async fn list_models(
        &self,
        _request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        Ok(Response::new(pb::ListModelsResponse {
            models: vec![pb::ModelVersion {
                name: "mock".into(),
                version: 1,
                active: true,
                ..Default::default()
            }],
        }))
    }

    async fn get_model(
        &self,
        request: Request<pb::GetModelRequest>,
    ) -> Result<Response<pb::ModelVersion>, Status> {
        Err(Status::not_found(format!(
            "no model {:?}",
            request.into_inner().model
        )))
    }

    async fn activate_model(
        &self,
        _request: Request<pb::ActivateModelRequest>,
    ) -> Result<Response<pb::ModelVersion>, Status> {
        Err(Status::unimplemented("mock"))
    }

    async fn delete_model(
        &self,
        _request: Request<pb::DeleteModelRequest>,
    ) -> Result<Response<pb::DeleteModelResponse>, Status> {
        Err(Status::unimplemented("mock"))
    }
}

/// Serves the mock on a free loopback port for the rest of the test.
async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(
            "augmentd.v1.Training",
            tonic_health::ServingStatus::NotServing,
        )
        .await;
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(AugmenterServer::new(MockAugmenter))
            .add_service(TrainingServer::new(MockTraining))
            .add_service(ModelsServer::new(MockModels))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .expect("serve");
    });
    addr
}

async fn connect(addr: SocketAddr, token: Option<&str>) -> Client {
    let mut options = ConnectOptions::new(format!("http://{addr}"));
    options.token = token.map(str::to_string);
    Client::connect(options).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_calls_reach_the_server() {
    let addr = serve().await;
    let client = connect(addr, Some("tok")).await;
    assert_eq!(
        client.health("").await.expect("health"),
        ServingStatus::Serving
    );
    assert_eq!(
        client.health("augmentd.v1.Training").await.expect("health"),
        ServingStatus::NotServing
    );

    let images = Array4::from_shape_fn([2, 3, 4, 3], |(n, h, w, c)| {
        (n * 100 + h * 10 + w + c) as u8
    });
    let options = AugmentOptions {
        seed: Some(7),
        copies: 2,
        return_params: true,
        ..Default::default()
    };
    let out = client
        .augment_array_u8("cifar", &images, Layout::Nhwc, &options)
        .await
        .expect("augment");
    assert_eq!(out.batch.dim(), (4, 3, 4, 3));
    assert_eq!(
        out.batch.index_axis(ndarray::Axis(0), 3),
        images.index_axis(ndarray::Axis(0), 1)
    );
    assert_eq!((out.model_ref().as_str(), out.seed), ("cifar@1", 7));
    assert_eq!(out.params_row(1), Some(&[1.0f32][..]));

    let batch = ImageBatch::from_array(&images.mapv(|v| f32::from(v) / 255.0), Layout::Nhwc)
        .expect("batch");
    let mut results = client
        .augment_stream("", &options, tokio_stream::iter(vec![batch.clone(); 3]))
        .await
        .expect("stream");
    let mut seeds = Vec::new();
    while let Some(result) = results.next().await {
        let result = result.expect("result");
        assert_eq!(result.batch.shape(), [4, 3, 4, 3]);
        seeds.push(result.seed);
    }
    assert_eq!(seeds, [7, 8, 9]);

    let events: Vec<Event> = client
        .watch_job("job-000001")
        .await
        .expect("watch")
        .map(|e| e.expect("event"))
        .collect()
        .await;
    assert_eq!(events.len(), 5);
    assert!(matches!(&events[4], Event::Job(j) if j.state() == JobState::Succeeded));

    let err = client.get_model("nope").await.expect_err("not found");
    assert_eq!(err.to_string(), "NOT_FOUND: no model \"nope\"");

    let anonymous = connect(addr, None).await;
    let err = anonymous
        .augment("", &batch, &options)
        .await
        .expect_err("no token");
    assert!(
        matches!(
            &err,
            ClientError::Rpc {
                code: tonic::Code::Unauthenticated,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_servers_fail_at_connect() {
    // A socket bound but never listening holds the port (no other test can take it) and
    // refuses every connection, unlike a listener bound and dropped.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    let err = Client::connect(ConnectOptions::new(format!("http://{addr}")))
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("UNAVAILABLE: http://127.0.0.1:"),
        "{err}"
    );
}

async fn augmentctl(addr: SocketAddr, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_augmentctl"));
    command
        .args(args)
        .env("AUGMENTD_URL", format!("http://{addr}"))
        .env("AUGMENTD_TOKEN", "tok")
        .env_remove("AUGMENTD_TOKEN_FILE")
        .env_remove("AUGMENTD_CA_CERT");
    tokio::task::spawn_blocking(move || command.output().expect("run augmentctl"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn augmentctl_commands() {
    let addr = serve().await;

    let out = augmentctl(addr, &["health"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout).trim()),
        (Some(0), "SERVING")
    );
    let out = augmentctl(addr, &["health", "--service", "augmentd.v1.Training"]).await;
    assert_eq!(
        (out.status.code(), text(&out.stdout).trim()),
        (Some(1), "NOT_SERVING")
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    for (name, w) in [("a.png", 4), ("b.png", 6), ("c.jpg", 4)] {
        image::RgbImage::from_pixel(w, 4, image::Rgb([10, 20, 30]))
            .save(input.join(name))
            .expect("save");
    }
    let out_dir = dir.path().join("out");
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let (input_s, out_s) = (s(&input), s(&out_dir));
    let out = augmentctl(
        addr,
        &[
            "augment", "--model", "m", "--input", &input_s, "--out", &out_s, "--copies", "2",
            "--params", "--seed", "3",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for name in ["a-aug0.png", "a-aug1.png", "b-aug1.png", "c-aug0.png"] {
        assert!(out_dir.join(name).is_file(), "{name}");
    }
    assert_eq!(
        image::open(out_dir.join("b-aug1.png"))
            .expect("png")
            .into_rgb8()
            .width(),
        6
    );
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("params.json")).expect("json"))
            .expect("parse");
    assert_eq!(params["outputs"].as_array().expect("outputs").len(), 6);
    assert_eq!(params["outputs"][1]["params"]["copy"], 1.0);
    assert!(
        text(&out.stdout).contains("augmented 3 images into 6"),
        "{}",
        text(&out.stdout)
    );

    let npy = dir.path().join("x.npy");
    ndarray_npy::write_npy(&npy, &Array4::<f32>::zeros([5, 3, 2, 2])).expect("npy");
    let out = augmentctl(
        addr,
        &[
            "augment",
            "--input",
            &s(&npy),
            "--out",
            &out_s,
            "--batch",
            "2",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let back: Array4<f32> = ndarray_npy::read_npy(out_dir.join("augmented.npy")).expect("read");
    assert_eq!(back.dim(), (5, 3, 2, 2));

    let out = augmentctl(addr, &["train", "watch", "job-000001"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("job-000001: SUCCEEDED, published mock@1"),
        "{}",
        text(&out.stdout)
    );
    let out = augmentctl(addr, &["train", "watch", "job-fail"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("job-fail: FAILED: out of memory"),
        "{}",
        text(&out.stderr)
    );

    let out = augmentctl(addr, &["train", "start", "--set", "bogus=1"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "augmentctl: INVALID_ARGUMENT: bogus: unknown key"
    );

    let out = augmentctl(addr, &["models", "get", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "augmentctl: NOT_FOUND: no model \"nope\""
    );
    let out = augmentctl(addr, &["models", "list"]).await;
    assert!(
        text(&out.stdout).starts_with("NAME"),
        "{}",
        text(&out.stdout)
    );

    let out = augmentctl(addr, &["models", "frobnicate"]).await;
    assert_eq!(out.status.code(), Some(2));
}
