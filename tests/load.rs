//! Load: 16 concurrent clients against a small queue get answers or RESOURCE_EXHAUSTED with a
//! retry hint, nothing else; memory stays bounded and the server stays healthy.
#![allow(clippy::unwrap_used)]

mod common;

use augmentd_client::{AugmentOptions, ClientError, DType, ImageBatch, Layout, ServingStatus};
use tonic::Code;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_get_answers_or_resource_exhausted() {
    let state = tempfile::tempdir().unwrap();
    let mut config = common::config(state.path());
    config.engine.workers = 1.try_into().unwrap();
    config.engine.queue_depth = 2.try_into().unwrap();
    let server = common::start(config).await;
    let client = common::client(&server, None).await;
    common::train_model(&client, "load", 3, 32, 1).await;
    let batch = ImageBatch::new(
        common::pixels(64 * 3 * 32 * 32, 1),
        DType::U8,
        Layout::Nchw,
        [64, 3, 32, 32],
    )
    .unwrap();
    // One round first, so that the measurement starts with warm workers and allocator.
    client
        .augment("load", &batch, &AugmentOptions::default())
        .await
        .unwrap();
    let before = resident_bytes();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = common::client(&server, None).await;
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut exhausted) = (0, 0);
            for _ in 0..12 {
                match client
                    .augment("load", &batch, &AugmentOptions::default())
                    .await
                {
                    Ok(out) => {
                        assert_eq!(out.batch.shape(), [64, 3, 32, 32]);
                        ok += 1;
                    }
                    Err(ClientError::Rpc {
                        code: Code::ResourceExhausted,
                        message,
                    }) => {
                        assert!(message.contains("retry after"), "{message}");
                        exhausted += 1;
                    }
                    Err(other) => panic!("neither an answer nor RESOURCE_EXHAUSTED: {other}"),
                }
            }
            (ok, exhausted)
        }));
    }
    let (mut ok, mut exhausted) = (0, 0);
    for task in tasks {
        let (o, e) = task.await.unwrap();
        ok += o;
        exhausted += e;
    }
    assert_eq!(ok + exhausted, 16 * 12);
    assert!(ok > 0, "some requests were served");
    assert!(exhausted > 0, "a queue of 2 with 16 clients sheds load");
    let growth = resident_bytes().saturating_sub(before);
    assert!(growth < 512 << 20, "resident memory grew by {growth} bytes");
    assert_eq!(client.health("").await.unwrap(), ServingStatus::Serving);
    client
        .augment("load", &batch, &AugmentOptions::default())
        .await
        .unwrap();
    server.shutdown().await.unwrap();
}
