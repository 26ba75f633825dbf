//! What every end-to-end test needs: a server on 127.0.0.1:0 over a temporary state dir, a
//! client connected to it, and small synthetic training jobs that publish real models.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use augmentd::device::DeviceSpec;
use augmentd::engine::EngineConfig;
use augmentd::grpc::{ServeConfig, ServerHandle, Tokens};
use augmentd_client::proto::{self, job_event::Event, JobState};
use augmentd_client::{Client, ConnectOptions};
use tokio_stream::StreamExt;

/// A server configuration for tests: loopback, any port, CPU, small limits.
pub fn config(state_dir: &Path) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        engine: EngineConfig {
            state_dir: state_dir.to_path_buf(),
            data_dir: None,
            device: DeviceSpec::Cpu,
            workers: 2.try_into().unwrap(),
            torch_threads: None,
            queue_depth: 16.try_into().unwrap(),
            max_batch_images: 512.try_into().unwrap(),
            job_slots: 1.try_into().unwrap(),
        },
        max_message_bytes: 4 << 20,
        request_timeout: None,
        drain_timeout: Duration::from_secs(20),
        concurrency_per_connection: 64.try_into().unwrap(),
        tls: None,
        tokens: Tokens::default(),
    }
}

/// Starts a server.
pub async fn start(config: ServeConfig) -> ServerHandle {
    augmentd::grpc::start(config).await.expect("server starts")
}

/// A plain-text client of `server`, optionally with a token.
pub async fn client(server: &ServerHandle, token: Option<&str>) -> Client {
    let mut options = ConnectOptions::new(format!("http://{}", server.grpc_addr));
    if let Some(token) = token {
        options = options.with_token(token);
    }
    Client::connect(options).await.expect("client connects")
}

/// The preset of every test job: generated images, small-cnn, seconds per run.
pub const PRESET: &str = "synthetic-smoke";

/// A synthetic run configuration over [`PRESET`]: `channels`×`side`², 4 classes, small-cnn.
pub fn synthetic_toml(mode: &str, channels: usize, side: usize, epochs: u64, seed: u64) -> String {
    format!(
        r#"
seed = {seed}
epochs = {epochs}
data.synthetic = {{ classes = 4, per_class = 24, channels = {channels}, side = {side} }}
augment.mode = "{mode}"
"#
    )
}

/// A StartTraining request of a synthetic run in `mode` (see [`synthetic_toml`]).
pub fn synthetic_request(
    mode: &str,
    channels: usize,
    side: usize,
    epochs: u64,
    seed: u64,
) -> proto::StartTrainingRequest {
    proto::StartTrainingRequest {
        preset: PRESET.into(),
        config_toml: synthetic_toml(mode, channels, side, epochs, seed),
        ..Default::default()
    }
}

/// A StartTraining request of a synthetic run publishing under `name`.
pub fn synthetic_job(
    name: &str,
    channels: usize,
    side: usize,
    epochs: u64,
    seed: u64,
) -> proto::StartTrainingRequest {
    proto::StartTrainingRequest {
        model_name: name.into(),
        ..synthetic_request("affine_color", channels, side, epochs, seed)
    }
}

/// Every event of a job's watch until it ends.
pub async fn watch_to_end(client: &Client, id: &str) -> Vec<Event> {
    let mut events = client.watch_job(id).await.expect("watch");
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        seen.push(event.expect("event"));
    }
    seen
}

/// The final job of a watch.
pub fn final_job(events: &[Event]) -> proto::Job {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Job(j) => Some(j.clone()),
            _ => None,
        })
        .expect("a job event")
}

/// Trains a synthetic job to the end and returns the published version (`name@v`).
pub async fn train_model(
    client: &Client,
    name: &str,
    channels: usize,
    side: usize,
    seed: u64,
) -> String {
    let job = client
        .start_training(synthetic_job(name, channels, side, 1, seed))
        .await
        .expect("start");
    let events = watch_to_end(client, &job.id).await;
    let last = final_job(&events);
    assert_eq!(
        last.state(),
        JobState::Succeeded,
        "job failed: {}",
        last.failure_reason
    );
    last.published.last().cloned().expect("a published version")
}

/// The repository's test TLS material.
pub fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls")
}

/// Deterministic pixels.
pub fn pixels(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
