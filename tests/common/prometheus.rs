//! A real Prometheus server for tests: finds the `prometheus` and `promtool` binaries, runs
//! Prometheus on an ephemeral 127.0.0.1 port over a temporary directory (killed on drop, so a
//! failed assert does not leak it), and reads its HTTP API: instant and range queries, rules,
//! alerts. Plus plain HTTP GETs, and polling with a deadline.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long Prometheus may take to open its storage and answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between two attempts of [`poll`].
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The path of a tool: `$env_var` if set, else `name` on PATH. Panics naming `make setup`
/// (which installs Debian's prometheus package) when neither is there: these tests never skip.
pub fn binary(name: &str, env_var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env_var}={} is not a file: point it at {name}, or unset it and run `make setup`",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH and {env_var} is not set: run `make setup` (it installs \
             Debian's prometheus package, with promtool), or point {env_var} at the binary"
        )
    })
}

/// Calls `attempt` every 200 ms until it returns `Ok` or `timeout` passes; then panics with
/// `what` and the last `Err` (what was seen instead).
pub fn poll<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// `GET target` (path and query) from `addr` as HTTP/1.0, so the body arrives whole and
/// unchunked; returns the status code and the body.
pub fn http_get(addr: SocketAddr, target: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// `text` percent-encoded for a URL query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One series of a query result: its labels (with `__name__` when the expression keeps it)
/// and its value (instant queries) or values (range queries) in time order.
#[derive(Debug, Clone)]
pub struct Series {
    /// Label names to values.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)` pairs; one for an instant query.
    pub values: Vec<(f64, f64)>,
}

impl Series {
    /// The value of an instant query's series.
    pub fn value(&self) -> f64 {
        self.values.last().map_or(f64::NAN, |v| v.1)
    }

    /// The value of label `name`, or "".
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// A Prometheus server process with its configuration and storage in a temporary directory.
pub struct Prometheus {
    child: Child,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    log: PathBuf,
    /// Configuration, storage and log; removed after the process is killed (fields drop
    /// after `Drop::drop`).
    dir: Option<tempfile::TempDir>,
}

impl Prometheus {
    /// Starts `binary` with `config` (prometheus.yml text) on a free 127.0.0.1 port and waits
    /// until it is ready. A port taken between choosing and binding is retried with another.
    pub fn start(binary: &Path, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut failure = String::new();
        for attempt in 0..5 {
            let addr = free_port();
            let log = dir.path().join(format!("prometheus-{attempt}.log"));
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            // From here the guard kills the process whatever happens.
            let mut prometheus = Prometheus {
                child,
                addr,
                log,
                dir: None,
            };
            match prometheus.wait_ready() {
                Ok(()) => {
                    prometheus.dir = Some(dir);
                    return prometheus;
                }
                Err(log) if log.contains("address already in use") => failure = log,
                Err(log) => panic!("prometheus did not start:\n{log}"),
            }
        }
        panic!("prometheus found no free port in 5 attempts:\n{failure}")
    }

    /// Waits for `/-/ready`; the log if the process exits first or the wait times out.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if matches!(http_get(self.addr, "/-/ready"), Ok((200, _))) {
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Err(format!(
            "not ready after {READY_TIMEOUT:?}:\n{}",
            self.log()
        ))
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `data` of a successful API answer at `target`; panics on anything else.
    pub fn api(&self, target: &str) -> Value {
        let (status, body) = http_get(self.addr, target)
            .unwrap_or_else(|e| panic!("GET {target} from prometheus: {e}"));
        let json: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {target}: {status}, not JSON ({e}): {body}"));
        assert_eq!(
            (status, json["status"].as_str()),
            (200, Some("success")),
            "GET {target}: {body}"
        );
        json["data"].clone()
    }

    /// The series of the instant query `promql`, evaluated now.
    pub fn query(&self, promql: &str) -> Vec<Series> {
        let data = self.api(&format!("/api/v1/query?query={}", url_encode(promql)));
        series_of(&data)
    }

    /// The series of the range query `promql` from `start` to `end` (Unix seconds), one
    /// point per `step_seconds`.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_seconds: f64,
    ) -> Vec<Series> {
        let data = self.api(&format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step_seconds}",
            url_encode(promql)
        ));
        series_of(&data)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 127.0.0.1 port that was free a moment ago (bound, then released).
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The series of a query's `data` (vector or matrix).
fn series_of(data: &Value) -> Vec<Series> {
    let results = data["result"].as_array().cloned().unwrap_or_default();
    results
        .iter()
        .map(|result| {
            let labels = result["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let points = match result.get("values") {
                Some(values) => values.as_array().cloned().unwrap_or_default(),
                None => vec![result["value"].clone()],
            };
            let values = points.iter().map(point).collect();
            Series { labels, values }
        })
        .collect()
}

/// `[unix seconds, "value"]` as numbers ("NaN", "+Inf" included).
fn point(pair: &Value) -> (f64, f64) {
    let time = pair[0].as_f64().unwrap_or(f64::NAN);
    let value = pair[1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    (time, value)
}
