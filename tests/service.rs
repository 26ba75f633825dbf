//! Every RPC through the real client against a real server: augmentation (seeds, copies,
//! parameters, dtypes, layouts, streams, hot swap), models, jobs, and every bad input.
#![allow(clippy::unwrap_used)]

mod common;

use augmentd_client::proto::{self, job_event::Event, JobState};
use augmentd_client::{AugmentOptions, ClientError, DType, ImageBatch, Layout, ServingStatus};
use tokio_stream::StreamExt;
use tonic::Code;

const SIDE: usize = 16;

fn batch_u8(n: usize, seed: u64) -> ImageBatch {
    ImageBatch::new(
        common::pixels(n * 3 * SIDE * SIDE, seed),
        DType::U8,
        Layout::Nchw,
        [n, 3, SIDE, SIDE],
    )
    .unwrap()
}

fn seeded(seed: u64) -> AugmentOptions {
    AugmentOptions {
        seed: Some(seed),
        ..AugmentOptions::default()
    }
}

fn code(e: ClientError) -> (Code, String) {
    match e {
        ClientError::Rpc { code, message } => (code, message),
        other => panic!("not an RPC error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn augment_models_and_hot_swap() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;
    assert_eq!(client.health("").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        client.health("augmentd.v1.Augmenter").await.unwrap(),
        ServingStatus::Serving
    );

    // No model yet.
    let (c, m) = code(
        client
            .augment("", &batch_u8(2, 1), &seeded(1))
            .await
            .unwrap_err(),
    );
    assert_eq!(c, Code::FailedPrecondition, "{m}");

    let v1 = common::train_model(&client, "colour", 3, SIDE, 1).await;
    let v2 = common::train_model(&client, "colour", 3, SIDE, 2).await;
    assert_eq!((v1.as_str(), v2.as_str()), ("colour@1", "colour@2"));
    let listed = client.list_models(None).await.unwrap();
    assert_eq!(listed.len(), 2);
    let active = client.get_model("colour").await.unwrap();
    assert_eq!(
        (active.version, active.active, active.default),
        (2, true, true)
    );
    assert_eq!(active.channels, 3);
    assert_eq!((active.height, active.width), (SIDE as u32, SIDE as u32));
    assert_eq!(active.draws, 4096);
    assert_eq!(
        active.variant, "broad",
        "training jobs default to the broad variant"
    );
    assert!(!active.collapsed);
    assert_eq!(
        active.served.len(),
        10,
        "affine_color: 6 affine + 4 colour parameters"
    );
    assert!(active
        .served
        .iter()
        .all(|p| p.std.is_finite() && p.mean.is_finite()));
    assert_eq!(active.source_job, "job-000002");
    assert!(active.metrics.contains_key("val_acc"));

    // Determinism: same request, seed and version ⇒ same bytes; another seed differs.
    let input = batch_u8(4, 7);
    let a = client.augment("colour", &input, &seeded(5)).await.unwrap();
    let b = client.augment("", &input, &seeded(5)).await.unwrap();
    let c = client
        .augment("colour@2", &input, &seeded(6))
        .await
        .unwrap();
    assert_eq!(a.model_ref(), "colour@2");
    assert_eq!(b.model_ref(), "colour@2");
    assert_eq!(a.seed, 5);
    assert_eq!(a.batch.data(), b.batch.data());
    assert_ne!(a.batch.data(), c.batch.data());
    assert_ne!(a.batch.data(), input.data(), "the images were transformed");
    let unseeded = client
        .augment("colour", &input, &AugmentOptions::default())
        .await
        .unwrap();
    let replay = client
        .augment("colour@2", &input, &seeded(unseeded.seed))
        .await
        .unwrap();
    assert_eq!(
        unseeded.batch.data(),
        replay.batch.data(),
        "the returned seed replays"
    );

    // NHWC gives the same images as NCHW.
    let nhwc = client
        .augment("colour", &input.to_layout(Layout::Nhwc), &seeded(5))
        .await
        .unwrap();
    assert_eq!(nhwc.batch.layout(), Layout::Nhwc);
    assert_eq!(nhwc.batch.shape(), [4, SIDE, SIDE, 3]);
    assert_eq!(nhwc.batch.to_layout(Layout::Nchw).data(), a.batch.data());

    // float32 pixels in 0..1 give the same images as uint8 (rounded back to 8 bits).
    let floats: Vec<u8> = input
        .data()
        .iter()
        .flat_map(|&p| (f32::from(p) / 255.0).to_le_bytes())
        .collect();
    let float_batch = ImageBatch::new(floats, DType::F32, Layout::Nchw, input.shape()).unwrap();
    let f = client
        .augment("colour", &float_batch, &seeded(5))
        .await
        .unwrap();
    assert_eq!(f.batch.dtype(), DType::F32);
    let rounded: Vec<u8> = f
        .batch
        .to_f32_values()
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    assert_eq!(rounded, a.batch.data());
    // float16 is accepted and answered in float16.
    let halves: Vec<u8> = input
        .data()
        .iter()
        .flat_map(|&p| augmentd_client::half::f16::from_f32(f32::from(p) / 255.0).to_le_bytes())
        .collect();
    let h = client
        .augment(
            "colour",
            &ImageBatch::new(halves, DType::F16, Layout::Nchw, input.shape()).unwrap(),
            &seeded(5),
        )
        .await
        .unwrap();
    assert_eq!(
        (h.batch.dtype(), h.batch.shape()),
        (DType::F16, input.shape())
    );

    // Copies and parameters.
    let options = AugmentOptions {
        seed: Some(9),
        copies: 3,
        return_params: true,
        ..AugmentOptions::default()
    };
    let copies = client.augment("colour", &input, &options).await.unwrap();
    assert_eq!(copies.batch.shape(), [12, 3, SIDE, SIDE]);
    assert_eq!(copies.param_names.len(), 10);
    assert_eq!(
        copies.param_names[..2],
        ["a11".to_string(), "a12".to_string()]
    );
    assert_eq!(copies.params.len(), 12 * 10);
    assert_ne!(
        copies.params_row(0),
        copies.params_row(1),
        "copies draw their own transforms"
    );
    let image_bytes = 3 * SIDE * SIDE;
    assert_ne!(
        copies.batch.data()[..image_bytes],
        copies.batch.data()[image_bytes..2 * image_bytes]
    );

    // A stream answers every request, in order.
    let batches: Vec<ImageBatch> = (0..6).map(|i| batch_u8(2, 100 + i)).collect();
    let mut answers = client
        .augment_stream("colour", &seeded(3), tokio_stream::iter(batches.clone()))
        .await
        .unwrap();
    let mut count = 0;
    while let Some(answer) = answers.next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.batch.shape(), [2, 3, SIDE, SIDE]);
        count += 1;
    }
    assert_eq!(count, 6);

    // Hot swap while a stream is open: later responses name the new version, none is lost.
    client.activate_model("colour@1").await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<proto::AugmentRequest>(4);
    let mut raw = client.augmenter_client();
    let mut responses = raw
        .augment_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let request = |id: &str| proto::AugmentRequest {
        data: input.data().to_vec(),
        dtype: proto::DType::DtypeUint8 as i32,
        layout: proto::Layout::Nchw as i32,
        shape: vec![4, 3, SIDE as i64, SIDE as i64],
        seed: Some(1),
        request_id: id.into(),
        ..Default::default()
    };
    tx.send(request("first")).await.unwrap();
    let first = responses.message().await.unwrap().unwrap();
    assert_eq!(
        (first.request_id.as_str(), first.model_version),
        ("first", 1)
    );
    client.activate_model("colour@2").await.unwrap();
    for id in ["second", "third"] {
        tx.send(request(id)).await.unwrap();
    }
    drop(tx);
    let mut rest = Vec::new();
    while let Some(r) = responses.message().await.unwrap() {
        rest.push((r.request_id, r.model_version));
    }
    assert_eq!(
        rest,
        vec![("second".to_string(), 2), ("third".to_string(), 2)]
    );

    // Models: deleting the active version needs force; delete, then it is gone.
    let (c, m) = code(client.delete_model("colour@2", false).await.unwrap_err());
    assert_eq!(c, Code::FailedPrecondition, "{m}");
    assert!(m.contains("colour@2 is active"), "{m}");
    client.activate_model("colour@1").await.unwrap();
    let deleted = client.delete_model("colour@2", false).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(client.list_models(Some("colour")).await.unwrap().len(), 1);
    let (c, _) = code(client.activate_model("colour@2").await.unwrap_err());
    assert_eq!(c, Code::NotFound);
    let (c, _) = code(client.get_model("nothing").await.unwrap_err());
    assert_eq!(c, Code::NotFound);
    let (c, m) = code(client.get_model("bad name!").await.unwrap_err());
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(m.starts_with("model:"), "{m}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_names_its_field_and_the_server_goes_on() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;
    common::train_model(&client, "m", 3, SIDE, 3).await;
    let mut raw = client.augmenter_client();
    let good = || proto::AugmentRequest {
        data: common::pixels(2 * 3 * SIDE * SIDE, 1),
        dtype: proto::DType::DtypeUint8 as i32,
        layout: proto::Layout::Nchw as i32,
        shape: vec![2, 3, SIDE as i64, SIDE as i64],
        ..Default::default()
    };
    let s = SIDE as i64;
    let nan_floats: Vec<u8> = (0..3 * SIDE * SIDE)
        .flat_map(|i| if i == 5 { f32::NAN } else { 0.5f32 }.to_le_bytes())
        .collect();
    let cases: Vec<(&str, proto::AugmentRequest, Code, &str)> = vec![
        ("byte length", proto::AugmentRequest { data: vec![0; 10], ..good() }, Code::InvalidArgument, "data: 10 bytes given, expected 1536"),
        ("zero dimension", proto::AugmentRequest { shape: vec![2, 0, s, s], ..good() }, Code::InvalidArgument, "shape: dimension 1 is 0"),
        ("negative dimension", proto::AugmentRequest { shape: vec![2, 3, -16, s], ..good() }, Code::InvalidArgument, "shape: dimension 2 is -16"),
        ("rank", proto::AugmentRequest { shape: vec![2, 3, s * s], ..good() }, Code::InvalidArgument, "shape: 3 dimensions given, expected 4"),
        ("channels", proto::AugmentRequest { data: common::pixels(2 * SIDE * SIDE, 1), shape: vec![2, 1, s, s], ..good() }, Code::InvalidArgument, "shape: 1 channels (dimension 1 in this layout), the model takes 3"),
        ("image size", proto::AugmentRequest { data: vec![0; 2 * 3 * 2 * 2], shape: vec![2, 3, 2, 2], ..good() }, Code::InvalidArgument, "shape: height 2 is outside 4..=4096"),
        ("NaN", proto::AugmentRequest { data: nan_floats, dtype: proto::DType::DtypeFloat32 as i32, shape: vec![1, 3, s, s], ..good() }, Code::InvalidArgument, "data: contains NaN or infinite values"),
        ("dtype unset", proto::AugmentRequest { dtype: 0, ..good() }, Code::InvalidArgument, "dtype: not set"),
        ("dtype unknown", proto::AugmentRequest { dtype: 42, ..good() }, Code::InvalidArgument, "dtype: unknown value 42"),
        ("layout unknown", proto::AugmentRequest { layout: 7, ..good() }, Code::InvalidArgument, "layout: unknown value 7"),
        ("standardized uint8", proto::AugmentRequest { standardized: true, ..good() }, Code::InvalidArgument, "standardized:"),
        ("too many images", proto::AugmentRequest { copies: 300, ..good() }, Code::InvalidArgument, "shape: 2 images × 300 copies = 600 output images, the server allows at most 512"),
        ("too large", proto::AugmentRequest { data: vec![0; 5_000_000], shape: vec![1, 1, 1000, 5000], ..good() }, Code::InvalidArgument, "data: 5000000 bytes exceed the server's message limit of 4194304 bytes: split the batch"),
        ("unknown model", proto::AugmentRequest { model: "other".into(), ..good() }, Code::NotFound, "model 'other' not found"),
        ("unknown version", proto::AugmentRequest { model: "m@9".into(), ..good() }, Code::NotFound, "model 'm@9' not found"),
        ("bad version", proto::AugmentRequest { model: "m@x".into(), ..good() }, Code::InvalidArgument, "model: 'm@x'"),
    ];
    for (what, request, want, message) in cases {
        let status = raw.augment(request).await.unwrap_err();
        assert_eq!(status.code(), want, "{what}: {}", status.message());
        assert!(
            status.message().starts_with(message),
            "{what}: {}",
            status.message()
        );
        // The server answers a valid request right after.
        let ok = raw.augment(good()).await.unwrap().into_inner();
        assert_eq!(ok.shape, vec![2, 3, s, s], "{what}");
    }
    // A deadline the server cannot meet.
    // A small request (quick to upload) asking for much work: 512 copies of a 64×64 image.
    let mut late = tonic::Request::new(proto::AugmentRequest {
        data: common::pixels(3 * 64 * 64, 2),
        shape: vec![1, 3, 64, 64],
        copies: 512,
        ..good()
    });
    late.set_timeout(std::time::Duration::from_millis(20));
    let status = raw.augment(late).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::DeadlineExceeded,
        "{}",
        status.message()
    );
    assert!(raw.augment(good()).await.is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_start_watch_cancel_and_refuse_bad_configs() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;

    // A finished job watched late: the job, then every epoch, then its model; then the end.
    let job = client
        .start_training(proto::StartTrainingRequest {
            model_name: "late".into(),
            publish_every_epochs: 1,
            ..common::synthetic_request("small_affine", 1, SIDE, 2, 4)
        })
        .await
        .unwrap();
    assert_eq!(job.id, "job-000001");
    let live = common::watch_to_end(&client, &job.id).await;
    assert_eq!(common::final_job(&live).state(), JobState::Succeeded);
    let late = common::watch_to_end(&client, &job.id).await;
    assert!(matches!(&late[0], Event::Job(j) if j.state() == JobState::Succeeded));
    let epochs: Vec<u64> = late
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(r) => Some(r.epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, vec![0, 1]);
    let published: Vec<(u64, u64)> = late
        .iter()
        .filter_map(|e| match e {
            Event::Published(m) => Some((m.version, m.epoch)),
            _ => None,
        })
        .collect();
    assert_eq!(
        published,
        vec![(1, 0), (2, 1)],
        "epoch 0 (every epoch), then the final model once"
    );
    let live_epochs = live.iter().filter(|e| matches!(e, Event::Epoch(_))).count();
    assert_eq!(live_epochs, 2, "the live watch saw both epochs");
    let got = client.get_job(&job.id).await.unwrap();
    assert_eq!((got.epochs, got.epochs_done), (2, 2));
    assert_eq!(got.published, ["late@1", "late@2"]);
    assert!(got.config_toml.contains("mode = \"small_affine\""));
    assert_eq!(got.last_record.unwrap().epoch, 1);

    // Cancel: a running job stops at its next step; a queued one at once.
    let long = |seed| common::synthetic_request("small_affine", 1, SIDE, 500, seed);
    let running = client.start_training(long(5)).await.unwrap();
    let queued = client.start_training(long(6)).await.unwrap();
    assert_eq!(
        queued.state(),
        JobState::Queued,
        "one slot: the second job waits"
    );
    let cancelled = client.cancel_job(&queued.id).await.unwrap();
    assert_eq!(cancelled.state(), JobState::Cancelled);
    client.cancel_job(&running.id).await.unwrap();
    let end = common::final_job(&common::watch_to_end(&client, &running.id).await);
    assert_eq!(end.state(), JobState::Cancelled);
    assert!(
        end.failure_reason.contains("cancelled"),
        "{}",
        end.failure_reason
    );
    let succeeded = client.list_jobs(Some(JobState::Succeeded)).await.unwrap();
    assert_eq!(succeeded.len(), 1);
    assert_eq!(client.list_jobs(None).await.unwrap().len(), 3);
    // Cancelling a finished job changes nothing.
    assert_eq!(
        client.cancel_job(&job.id).await.unwrap().state(),
        JobState::Succeeded
    );

    // Refusals.
    let refuse = |request: proto::StartTrainingRequest| {
        let client = &client;
        async move { code(client.start_training(request).await.unwrap_err()) }
    };
    let (c, m) = refuse(proto::StartTrainingRequest {
        overrides: vec!["classifier.lr=-1".into()],
        ..common::synthetic_request("small_affine", 1, SIDE, 2, 4)
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(m.contains("classifier.lr"), "{m}");
    let (c, m) = refuse(proto::StartTrainingRequest {
        config_toml: common::synthetic_toml("small_affine", 1, SIDE, 2, 4) + "\nsurprise = 1\n",
        ..common::synthetic_request("small_affine", 1, SIDE, 2, 4)
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(m.contains("surprise"), "{m}");
    let (c, m) = refuse(proto::StartTrainingRequest {
        preset: "fmnist-small".into(),
        overrides: vec!["data.path=/etc".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(
        m.starts_with("config: data.path") || m.starts_with("data.path"),
        "{m}"
    );
    let (c, m) = refuse(proto::StartTrainingRequest {
        preset: "fmnist-small".into(),
        dataset: "fashion-mnist".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::NotFound, "no data dir: {m}");
    let (c, m) = refuse(proto::StartTrainingRequest {
        preset: "no-such-preset".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    let (c, m) = refuse(proto::StartTrainingRequest {
        overrides: vec!["data.val_ratio=0".into()],
        ..common::synthetic_request("small_affine", 1, SIDE, 2, 4)
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(m.contains("data.val_ratio") && m.contains("bilevel"), "{m}");
    let (c, _) = code(client.get_job("job-999999").await.unwrap_err());
    assert_eq!(c, Code::NotFound);
    let (c, _) = code(client.cancel_job("nope").await.unwrap_err());
    assert_eq!(c, Code::NotFound);

    // A run without a validation split: no validation figures on the wire.
    let plain = client
        .start_training(proto::StartTrainingRequest {
            overrides: vec!["data.val_ratio=0".into()],
            ..common::synthetic_request("none", 1, SIDE, 1, 4)
        })
        .await
        .unwrap();
    let events = common::watch_to_end(&client, &plain.id).await;
    let end = common::final_job(&events);
    assert_eq!(end.state(), JobState::Succeeded, "{}", end.failure_reason);
    let record = end.last_record.unwrap();
    assert_eq!((record.val_loss, record.val_acc), (None, None));
    assert!(record
        .test_acc
        .is_some_and(|acc| (0.0..=100.0).contains(&acc)));
    assert!(end.published.is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_every_service_for_grpcurl() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "augmentd.v1.Augmenter",
            "augmentd.v1.Models",
            "augmentd.v1.Training",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ]
    );
    server.shutdown().await.unwrap();
}

/// A model learned on top of crop + flip records that base, and Augment applies it under the
/// learned transform unless the request asks for the learned part only; the learned parameters
/// are the same either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_learned_on_a_base_serves_it_unless_learned_only() {
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let client = common::client(&server, None).await;
    let mut job = common::synthetic_job("based", 3, SIDE, 1, 5);
    job.overrides = vec![
        "augment.baseline=\"crop+flip\"".into(),
        "augment.crop_padding=2".into(),
    ];
    let id = client.start_training(job).await.unwrap().id;
    let last = common::final_job(&common::watch_to_end(&client, &id).await);
    assert!(last.failure_reason.is_empty(), "{}", last.failure_reason);
    let model = client.get_model("based").await.unwrap();
    assert_eq!(model.base, "crop+flip, crop padding 2");
    let batch = batch_u8(4, 9);
    let options = AugmentOptions {
        return_params: true,
        ..seeded(3)
    };
    let on_base = client.augment("based", &batch, &options).await.unwrap();
    let again = client.augment("based", &batch, &options).await.unwrap();
    let learned_only = AugmentOptions {
        learned_only: true,
        ..options.clone()
    };
    let learned = client
        .augment("based", &batch, &learned_only)
        .await
        .unwrap();
    assert_eq!(on_base.batch, again.batch, "a seed gives the same images");
    assert_eq!(
        on_base.params, learned.params,
        "the same learned parameters"
    );
    assert_ne!(on_base.batch, learned.batch, "the base moved the pixels");
}
