//! Security: token scopes, TLS (and client certificates), and dataset names that try to leave
//! the data dir.
#![allow(clippy::unwrap_used)]

mod common;

use augmentd::grpc::{TlsFiles, Tokens};
use augmentd_client::proto;
use augmentd_client::{
    AugmentOptions, Client, ClientError, ConnectOptions, DType, ImageBatch, Layout, ServingStatus,
    TlsOptions,
};
use tonic::Code;

fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> Code {
    match result {
        Err(ClientError::Rpc { code, .. }) => code,
        other => panic!("not an RPC error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_by_scope() {
    let state = tempfile::tempdir().unwrap();
    let mut config = common::config(state.path());
    config.tokens = Tokens::new(&["aug-token".into()], &["admin-token".into()]);
    let server = common::start(config).await;
    let anonymous = common::client(&server, None).await;
    let wrong = common::client(&server, Some("guess")).await;
    let augment = common::client(&server, Some("aug-token")).await;
    let admin = common::client(&server, Some("admin-token")).await;
    let batch = ImageBatch::new(vec![0; 16 * 16], DType::U8, Layout::Nchw, [1, 1, 16, 16]).unwrap();
    let options = AugmentOptions::default();

    // Health is open.
    assert_eq!(anonymous.health("").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        code(anonymous.augment("", &batch, &options).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(wrong.augment("", &batch, &options).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(anonymous.list_models(None).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(augment.list_models(None).await),
        Code::PermissionDenied
    );
    assert_eq!(code(augment.list_jobs(None).await), Code::PermissionDenied);
    // Past the check: there is simply no model yet.
    assert_eq!(
        code(augment.augment("", &batch, &options).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code(admin.augment("", &batch, &options).await),
        Code::FailedPrecondition
    );
    assert!(admin.list_models(None).await.unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_client_certificates() {
    let tls = common::tls_dir();
    let state = tempfile::tempdir().unwrap();
    let mut config = common::config(state.path());
    config.tls = Some(TlsFiles {
        cert: tls.join("server.pem"),
        key: tls.join("server.key"),
        client_ca: Some(tls.join("ca.pem")),
    });
    let server = common::start(config).await;
    let url = format!("https://localhost:{}", server.grpc_addr.port());
    let with_cert = TlsOptions {
        ca_cert_pem: Some(tls.join("ca.pem")),
        client_cert_pem: Some(tls.join("client.pem")),
        client_key_pem: Some(tls.join("client.key")),
        domain: Some("localhost".into()),
    };
    let client = Client::connect(ConnectOptions::new(url.clone()).with_tls(with_cert))
        .await
        .unwrap();
    assert_eq!(client.health("").await.unwrap(), ServingStatus::Serving);
    assert!(client.list_models(None).await.unwrap().is_empty());

    // Without a client certificate the handshake is refused.
    let without_cert = TlsOptions {
        ca_cert_pem: Some(tls.join("ca.pem")),
        domain: Some("localhost".into()),
        ..TlsOptions::default()
    };
    let refused =
        match Client::connect(ConnectOptions::new(url.clone()).with_tls(without_cert)).await {
            Err(_) => true,
            Ok(c) => c.health("").await.is_err(),
        };
    assert!(
        refused,
        "a client without a certificate must not get through"
    );
    // Plain text against a TLS port fails too.
    let plain = match Client::connect(ConnectOptions::new(format!(
        "http://127.0.0.1:{}",
        server.grpc_addr.port()
    )))
    .await
    {
        Err(_) => true,
        Ok(c) => c.health("").await.is_err(),
    };
    assert!(plain, "plain text must not reach a TLS server");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_names_stay_inside_the_data_dir() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("inside")).unwrap();
    std::fs::create_dir_all(root.path().join("outside")).unwrap();
    std::os::unix::fs::symlink(root.path().join("outside"), data.join("escape")).unwrap();
    let mut config = common::config(&root.path().join("state"));
    config.engine.data_dir = Some(data.clone());
    let server = common::start(config).await;
    let client = common::client(&server, None).await;
    let start = |dataset: &str| proto::StartTrainingRequest {
        preset: "fmnist-small".into(),
        dataset: dataset.into(),
        ..Default::default()
    };
    for (name, want) in [
        ("../outside", Code::PermissionDenied),
        ("inside/../../outside", Code::PermissionDenied),
        ("/etc", Code::PermissionDenied),
        ("escape", Code::PermissionDenied),
        ("missing", Code::NotFound),
        ("", Code::InvalidArgument),
    ] {
        let result = client.start_training(start(name)).await;
        assert_eq!(code(result), want, "dataset '{name}'");
    }
    assert!(
        client.list_jobs(None).await.unwrap().is_empty(),
        "nothing refused was queued"
    );
    server.shutdown().await.unwrap();
}
