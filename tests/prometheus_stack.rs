//! The monitoring files against a live server and a real Prometheus: a server in process with a
//! published model, a few augment calls and a training job; its `/metrics` passes `promtool
//! check metrics`; a `prometheus` process scraping it every second with
//! deploy/prometheus/rules.yml loaded sees the job's series move, evaluates every rule without
//! error and fires no alert; and every metric that deploy/grafana/augmentd.json and the rules
//! name is one the server exports (or a recording rule of rules.yml). Needs `prometheus` and
//! `promtool` (`make setup`; or AUGMENTD_PROMETHEUS / AUGMENTD_PROMTOOL).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/prometheus.rs"]
mod prometheus;
#[path = "common/promql.rs"]
mod promql;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augmentd_client::proto;
use augmentd_client::{AugmentOptions, DType, ImageBatch, Layout};
use prometheus::{http_get, poll, Prometheus, Series};
use serde_json::Value;
use tokio_stream::StreamExt;

/// How long Prometheus may take to show what the test waits for.
const TIMEOUT: Duration = Duration::from_secs(40);

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A 16×16 RGB uint8 batch of `n` images.
fn batch(n: usize, seed: u64) -> ImageBatch {
    let pixels = common::pixels(n * 3 * 16 * 16, seed);
    ImageBatch::new(pixels, DType::U8, Layout::Nchw, [n, 3, 16, 16]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_rules_and_dashboard_against_a_live_server() {
    let prometheus_bin = prometheus::binary("prometheus", "AUGMENTD_PROMETHEUS");
    let promtool_bin = prometheus::binary("promtool", "AUGMENTD_PROMTOOL");
    let state = tempfile::tempdir().unwrap();
    let server = common::start(common::config(state.path())).await;
    let metrics = server.metrics_addr.unwrap();
    let client = common::client(&server, None).await;

    // A published model (the model series), Augment and AugmentStream calls (their latency
    // series, with the method names the rules select), then a job that trains for a while.
    let model = common::train_model(&client, "monitored", 3, 16, 5).await;
    let options = AugmentOptions {
        seed: Some(1),
        ..AugmentOptions::default()
    };
    client
        .augment(&model, &batch(4, 1), &options)
        .await
        .unwrap();
    let batches = tokio_stream::iter([batch(2, 2), batch(2, 3)]);
    let stream = client.augment_stream(&model, &options, batches).await;
    let answers: Vec<_> = stream.unwrap().collect().await;
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let job = client
        .start_training(proto::StartTrainingRequest {
            ..common::synthetic_request("affine_color", 3, 16, 200, 7)
        })
        .await
        .unwrap();

    let job_id = job.id.clone();
    let checks = tokio::task::spawn_blocking(move || {
        check_stack(&prometheus_bin, &promtool_bin, metrics, &job_id);
    })
    .await;
    client.cancel_job(&job.id).await.unwrap();
    server.shutdown().await.unwrap();
    if let Err(failure) = checks {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Everything that runs against Prometheus and the scrape, on a blocking thread.
fn check_stack(prometheus_bin: &Path, promtool_bin: &Path, metrics: SocketAddr, job_id: &str) {
    let rules_file = repo().join("deploy/prometheus/rules.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n\
         scrape_configs:\n  - job_name: augmentd\n    static_configs:\n      - targets: [\"{metrics}\"]\n",
        rules = rules_file.display()
    );
    let prom = Prometheus::start(prometheus_bin, &config);
    training_series_move(&prom, job_id);
    training_series_carry_job_id(&prom, job_id);

    let scrape = scrape(metrics);
    promtool_accepts(promtool_bin, &scrape);
    let recorded = rules_evaluate_cleanly(&prom);
    let exported = promql::exported_series(&scrape);
    names_are_exported(&prom, &exported, &recorded);
    dashboard_queries_answer(&prom, job_id);
}

/// The job's steps and completed epochs, as Prometheus has them now.
fn progress(prom: &Prometheus, job_id: &str) -> Result<(f64, f64), String> {
    let value = |metric: &str| -> Result<f64, String> {
        let found = prom.query(&format!("{metric}{{job_id=\"{job_id}\"}}"));
        match found.as_slice() {
            [one] => Ok(one.value()),
            other => Err(format!("{metric}: {other:?}")),
        }
    };
    Ok((
        value("augmentd_training_steps_total")?,
        value("augmentd_training_epochs_completed")?,
    ))
}

/// (b) Steps and completed epochs increase between two queries, and a range query since the
/// first shows them rising, never going down.
fn training_series_move(prom: &Prometheus, job_id: &str) {
    let start = unix_now();
    let (steps, epochs) = poll("the job's series in Prometheus", TIMEOUT, || {
        progress(prom, job_id)
    });
    poll("steps and completed epochs to increase", TIMEOUT, || {
        let (later_steps, later_epochs) = progress(prom, job_id)?;
        if later_steps > steps && later_epochs > epochs {
            Ok(())
        } else {
            Err(format!(
                "steps {steps} -> {later_steps}, epochs {epochs} -> {later_epochs}"
            ))
        }
    });
    for metric in [
        "augmentd_training_steps_total",
        "augmentd_training_epochs_completed",
    ] {
        let query = format!("{metric}{{job_id=\"{job_id}\"}}");
        poll(&format!("{metric}: a rising range"), TIMEOUT, || {
            let range = prom.query_range(&query, start, unix_now(), 1.0);
            let [series] = range.as_slice() else {
                return Err(format!("one series expected, got {range:?}"));
            };
            let values: Vec<f64> = series.values.iter().map(|p| p.1).collect();
            assert!(
                values.windows(2).all(|w| w[0] <= w[1]),
                "{metric}: {values:?}"
            );
            if values.len() >= 3 && values.last() > values.first() {
                Ok(())
            } else {
                Err(format!("{values:?}"))
            }
        });
    }
}

/// (b) Loss, accuracy and transform statistics reach Prometheus with the `job_id` label (and
/// the scrape job's `job` label beside it, untouched).
fn training_series_carry_job_id(prom: &Prometheus, job_id: &str) {
    let of_job = |metric: &str| -> Vec<Series> {
        let found = prom.query(&format!("{metric}{{job_id=\"{job_id}\"}}"));
        for series in &found {
            assert_eq!(series.label("job"), "augmentd", "{metric}: {series:?}");
            assert!(series.value().is_finite(), "{metric}: {series:?}");
        }
        found
    };
    let labels = |found: &[Series], label: &str| -> BTreeSet<String> {
        found.iter().map(|s| s.label(label).to_owned()).collect()
    };
    let set = |values: &[&str]| {
        values
            .iter()
            .map(|v| (*v).to_owned())
            .collect::<BTreeSet<_>>()
    };

    let loss = of_job("augmentd_training_loss");
    assert_eq!(labels(&loss, "split"), set(&["train", "val"]), "{loss:?}");
    let accuracy = of_job("augmentd_training_accuracy_percent");
    assert_eq!(
        labels(&accuracy, "split"),
        set(&["train", "val", "test"]),
        "{accuracy:?}"
    );
    assert!(accuracy.iter().all(|s| (0.0..=100.0).contains(&s.value())));
    // affine_color: the six affine entries, then brightness, shift, saturation, hue.
    let params = set(&[
        "a11",
        "a12",
        "tx",
        "a21",
        "a22",
        "ty",
        "brightness",
        "shift",
        "saturation",
        "hue",
    ]);
    for metric in [
        "augmentd_training_transform_mean",
        "augmentd_training_transform_std",
    ] {
        let found = of_job(metric);
        assert_eq!(labels(&found, "param"), params, "{metric}: {found:?}");
    }
    let running = of_job("augmentd_training_running");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].value(), 1.0);
}

/// GET /metrics from the server.
fn scrape(metrics: SocketAddr) -> String {
    let (status, body) = http_get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// (a) `promtool check metrics` succeeds on the exposition and has nothing to say.
fn promtool_accepts(promtool: &Path, exposition: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}",
        output.status
    );
}

/// Every rule of rules.yml is loaded and evaluated without error, no alert is pending or
/// firing for this healthy server, the latency objective is recorded, and the p99 rule finds
/// both augment methods. Returns the recording rules' names.
fn rules_evaluate_cleanly(prom: &Prometheus) -> BTreeSet<String> {
    let rules_file = std::fs::read_to_string(repo().join("deploy/prometheus/rules.yml")).unwrap();
    let in_file = rules_file
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("- alert:") || l.starts_with("- record:"))
        .count();
    let rules = poll("every rule evaluated", TIMEOUT, || {
        let groups = prom.api("/api/v1/rules")["groups"].clone();
        let rules: Vec<Value> = groups
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let unhealthy: Vec<String> = rules
            .iter()
            .filter(|r| r["health"] != "ok")
            .map(|r| format!("{} {} {}", r["name"], r["health"], r["lastError"]))
            .collect();
        if rules.len() == in_file && unhealthy.is_empty() {
            Ok(rules)
        } else {
            Err(format!(
                "{} of {in_file} rules loaded, not ok: {unhealthy:?}",
                rules.len()
            ))
        }
    });
    let alerts = prom.api("/api/v1/alerts")["alerts"].clone();
    assert_eq!(
        alerts,
        Value::Array(Vec::new()),
        "alerts on a healthy server"
    );

    let objective = prom.query("augmentd:augment_latency_p99_objective_seconds");
    assert_eq!(objective.len(), 1, "{objective:?}");
    assert_eq!(objective[0].value(), 0.5);
    poll(
        "p99 recorded for Augment and AugmentStream",
        TIMEOUT,
        || {
            let p99 = prom.query("augmentd:augment_request_duration_seconds:p99_rate5m");
            let methods: BTreeSet<&str> = p99.iter().map(|s| s.label("method")).collect();
            if methods == BTreeSet::from(["Augment", "AugmentStream"]) {
                Ok(())
            } else {
                Err(format!("{p99:?}"))
            }
        },
    );

    rules
        .iter()
        .filter(|r| r["type"] == "recording")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The loaded rules' expressions, as Prometheus has parsed them.
fn rule_queries(prom: &Prometheus) -> Vec<(String, String)> {
    let groups = prom.api("/api/v1/rules")["groups"].clone();
    groups
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            let name = r["name"].as_str().unwrap().to_owned();
            (
                format!("rule {name}"),
                r["query"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// deploy/grafana/augmentd.json, parsed.
fn dashboard() -> Value {
    let path = repo().join("deploy/grafana/augmentd.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    let mut pending: Vec<Value> = dashboard["panels"].as_array().cloned().unwrap_or_default();
    while let Some(panel) = pending.pop() {
        pending.extend(panel["panels"].as_array().cloned().unwrap_or_default());
        all.push(panel);
    }
    all
}

/// `(panel title, expr)` of every panel target, and the metric of every
/// `label_values(metric, label)` template variable.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default();
            let expr = target["expr"].as_str().unwrap_or_default();
            queries.push((format!("panel {title:?}"), expr.to_owned()));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let definition = variable["definition"].as_str().unwrap_or_default();
        if let Some(args) = definition.strip_prefix("label_values(") {
            let metric = args.split(',').next().unwrap_or_default().trim();
            let name = variable["name"].as_str().unwrap_or_default();
            queries.push((format!("variable {name}"), metric.to_owned()));
        }
    }
    queries
}

/// (c) Every metric the rules and the dashboard read is in the live scrape, or is a recording
/// rule of rules.yml; and every expression but a constant names at least one metric (so
/// nothing passes by having been misread as empty).
fn names_are_exported(prom: &Prometheus, exported: &BTreeSet<String>, recorded: &BTreeSet<String>) {
    let mut queries = rule_queries(prom);
    queries.extend(dashboard_queries(&dashboard()));
    assert!(queries.len() > 30, "{queries:?}");
    let mut problems = Vec::new();
    for (source, expr) in &queries {
        // A constant (the latency objective, `vector(0.5)`) is the one query without a metric.
        let constant = expr.starts_with("vector(");
        if promql::metric_names(expr).is_empty() && !constant {
            problems.push(format!("{source}: no metric found in {expr:?}"));
        }
        for name in promql::unknown_names(expr, exported, recorded) {
            problems.push(format!("{source}: {name} is not exported (in {expr:?})"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nexported: {exported:?}\nrecorded: {recorded:?}",
        problems.join("\n")
    );
}

/// Every dashboard query is valid PromQL once Grafana's variables are filled in, and returns
/// series for this server and job; only the server-side error ratio may be empty (no call
/// failed).
fn dashboard_queries_answer(prom: &Prometheus, job_id: &str) {
    for (source, expr) in dashboard_queries(&dashboard()) {
        let filled = expr
            .replace("$__rate_interval", "15s")
            .replace("$job_id", job_id);
        let found = prom.query(&filled);
        if !expr.contains("augmentd:requests_server_error:ratio_rate5m") {
            assert!(!found.is_empty(), "{source}: no series for {filled}");
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The dashboard is templated on a Prometheus data source and on `job_id`, every panel and
/// query uses the data source variable, and the panels the issue lists are there.
#[test]
fn dashboard_is_templated_and_complete() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(variable("datasource")["type"], "datasource");
    assert_eq!(variable("datasource")["query"], "prometheus");
    let job_id = variable("job_id");
    assert_eq!(job_id["type"], "query");
    assert_eq!(
        job_id["definition"],
        "label_values(augmentd_training_steps_total, job_id)"
    );
    let uses_variable = |v: &Value| v["type"] == "prometheus" && v["uid"] == "${datasource}";
    assert!(uses_variable(&job_id["datasource"]));
    for panel in panels(&dashboard) {
        if panel["type"] == "row" {
            continue;
        }
        assert!(uses_variable(&panel["datasource"]), "{}", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            assert!(uses_variable(&target["datasource"]), "{}", panel["title"]);
            let expr = target["expr"].as_str().unwrap();
            if expr.contains("augmentd_training_") {
                assert!(expr.contains("job_id=~\"$job_id\""), "{expr}");
            }
        }
    }
    let named: BTreeSet<String> = dashboard_queries(&dashboard)
        .iter()
        .flat_map(|(_, expr)| promql::metric_names(expr))
        .collect();
    for wanted in [
        "augmentd_training_loss",
        "augmentd_training_accuracy_percent",
        "augmentd_training_transform_mean",
        "augmentd_training_transform_std",
        "augmentd_training_images_per_second",
        "augmentd_training_epoch",
        "augmentd_training_epochs_completed",
        "augmentd_training_step_duration_seconds_bucket",
        "augmentd_training_augmenter_grad_norm",
        "augmentd_training_collapsed",
        "augmentd_requests_total",
        "augmentd_request_duration_seconds_bucket",
        "augmentd_augment_queue_depth",
        "augmentd_augment_queue_capacity",
        "augmentd_inflight_requests",
        "augmentd_images_augmented_total",
        "augmentd_active_model_info",
    ] {
        assert!(named.contains(wanted), "no panel reads {wanted}: {named:?}");
    }
}

/// The extractor keeps metric names and drops everything else PromQL and Grafana put around
/// them.
#[test]
fn extractor_finds_exactly_the_metric_names() {
    let expr = r#"histogram_quantile(0.99, sum by (le, method) (rate(augmentd_request_duration_seconds_bucket{method=~"Augment|AugmentStream", x="a{b}[c]"}[$__rate_interval])))
        > on (instance) group_left (version) augmentd:objective_seconds offset 10m
        unless ignoring (split) time() - max_over_time(augmentd_training_loss{job_id=~"$job_id"}[30m:1m]) < bool 1e-3
        or sum without (code) (augmentd_requests_total) * 0x1F + Inf - ${datasource}"#;
    assert_eq!(
        promql::metric_names(expr),
        [
            "augmentd_request_duration_seconds_bucket",
            "augmentd:objective_seconds",
            "augmentd_training_loss",
            "augmentd_requests_total",
        ]
    );
    assert!(promql::metric_names("vector(0.5)").is_empty());
}

/// A misspelt metric, a histogram named without its series suffix and an undefined recording
/// rule are all reported: the dashboard and rules check can fail.
#[test]
fn extractor_reports_a_misspelt_metric() {
    let exposition = "\
# HELP augmentd_training_steps_total Steps.
# TYPE augmentd_training_steps_total counter
augmentd_training_steps_total{job_id=\"job-000001\"} 3
# HELP augmentd_request_duration_seconds Latency.
# TYPE augmentd_request_duration_seconds histogram
augmentd_request_duration_seconds_bucket{method=\"Augment\",le=\"+Inf\"} 1
augmentd_request_duration_seconds_sum{method=\"Augment\"} 0.1
augmentd_request_duration_seconds_count{method=\"Augment\"} 1
";
    let exported = promql::exported_series(exposition);
    let recorded = BTreeSet::from(["augmentd:defined".to_owned()]);
    let unknown = |expr: &str| promql::unknown_names(expr, &exported, &recorded);
    assert!(unknown("rate(augmentd_training_steps_total[5m])").is_empty());
    assert!(unknown("rate(augmentd_request_duration_seconds_count[5m])").is_empty());
    assert!(unknown("augmentd:defined > 1").is_empty());
    assert_eq!(
        unknown("rate(augmentd_training_step_total{job_id=~\"$job_id\"}[5m])"),
        ["augmentd_training_step_total"]
    );
    assert_eq!(
        unknown("augmentd_request_duration_seconds > 0"),
        ["augmentd_request_duration_seconds"]
    );
    assert_eq!(
        unknown("augmentd:undefined > augmentd:defined"),
        ["augmentd:undefined"]
    );
}
