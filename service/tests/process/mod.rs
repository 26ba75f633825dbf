//! The real `augmentd serve` as a child process, for the tests that kill it: start it on a
//! state dir, read the address it prints, connect, and the tiny synthetic run they train.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tonic::transport::Channel;

/// Starts the server and reads its gRPC address from the first line it prints.
pub fn serve(state: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_augmentd"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--device",
            "cpu",
            "--workers",
            "1",
            "--drain-timeout-secs",
            "20",
        ])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches(',')
        .to_string();
    (child, url)
}

/// A connection to the server at `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The preset the process tests' jobs refine: a tiny learned run on synthetic data.
pub const PRESET: &str = "synthetic-smoke";

/// The jobs' configuration over [`PRESET`]: their own seed and `epochs` epochs of a few steps
/// each (the server picks the device).
pub fn config(epochs: u64) -> String {
    format!("seed = 3\nepochs = {epochs}\n")
}
