//! Prometheus metrics for augmentd: one [`Metrics`] registry for the serving path and the
//! training jobs, rendered in the text exposition format and served on its own port by
//! [`serve_metrics`].
//!
//! Every family is named `augmentd_…`, uses base units (`_seconds`) and, for counters, ends in
//! `_total`, so the exposition passes `promtool check metrics`. The Linux process collector
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`, …) is registered as well.
//! The registry is private to each [`Metrics`], never the crate's global default, so tests and
//! several servers in one process do not share series.
mod error;
mod http;
mod jobs;
mod serving;
#[cfg(test)]
mod test_support;
mod training;

use std::sync::{Mutex, MutexGuard, PoisonError};

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{Registry, TextEncoder};

pub use error::MetricsError;
pub use http::serve_metrics;
pub use serving::InflightGuard;

/// The service's metric families in their own registry; share it as `Arc<Metrics>`.
///
/// Every method is cheap (atomic updates, and a short mutex for the few that replace a label
/// set) and never blocks on a scrape.
pub struct Metrics {
    registry: Registry,
    serving: serving::ServingMetrics,
    training: training::TrainingMetrics,
}

impl Metrics {
    /// Creates and registers every family.
    ///
    /// # Panics
    ///
    /// Never in practice: the names, labels and buckets are constants that [`Metrics::try_new`]
    /// registers into a fresh registry, and the unit test `try_new_builds_every_family` proves
    /// they are accepted. Use [`Metrics::try_new`] to get the error instead.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(metrics) => metrics,
            Err(e) => panic!("the constant metric definitions were refused: {e}"),
        }
    }

    /// Creates and registers every family, returning the prometheus crate's refusal if any.
    pub fn try_new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let serving = serving::ServingMetrics::register(&registry)?;
        let training = training::TrainingMetrics::register(&registry)?;
        register_process_collector(&registry)?;
        Ok(Self {
            registry,
            serving,
            training,
        })
    }

    /// The current value of every series in the text exposition format
    /// (`text/plain; version=0.0.4`).
    ///
    /// An encoding failure (not expected: every family gathered has a name and a sample)
    /// yields a `#` comment line naming the error, which scrapers skip; use
    /// [`Metrics::try_encode`] to get the error.
    pub fn encode(&self) -> String {
        self.try_encode()
            .unwrap_or_else(|e| format!("# augmentd: {e}\n"))
    }

    /// The text exposition, or why it could not be rendered.
    pub fn try_encode(&self) -> Result<String, MetricsError> {
        let mut text = String::new();
        TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut text)
            .map_err(MetricsError::Encode)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers `built` (a freshly constructed metric, or the error constructing it) under `name`
/// and hands back the handle the methods update.
fn register<C>(
    registry: &Registry,
    name: &'static str,
    built: prometheus::Result<C>,
) -> Result<C, MetricsError>
where
    C: Collector + Clone + 'static,
{
    let metric = built.map_err(|source| MetricsError::Register { name, source })?;
    registry
        .register(Box::new(metric.clone()))
        .map_err(|source| MetricsError::Register { name, source })?;
    Ok(metric)
}

/// Removes one labelled series; a series that was never set is already gone.
fn remove_series<T: MetricVecBuilder>(vec: &MetricVec<T>, labels: &[&str]) {
    // The only error is "no such series", which is the state wanted.
    let _ = vec.remove_label_values(labels);
}

/// Locks a label-bookkeeping mutex; a panic elsewhere while it was held leaves plain data
/// that is still usable, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Process metrics (resident memory, CPU seconds, open fds, threads) from `/proc`.
#[cfg(target_os = "linux")]
fn register_process_collector(registry: &Registry) -> Result<(), MetricsError> {
    let collector = prometheus::process_collector::ProcessCollector::for_self();
    registry
        .register(Box::new(collector))
        .map_err(|source| MetricsError::Register {
            name: "process_*",
            source,
        })
}

/// No `/proc` to read: no process metrics.
#[cfg(not(target_os = "linux"))]
fn register_process_collector(_registry: &Registry) -> Result<(), MetricsError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::test_support::{families, value};
    use super::*;

    #[test]
    fn try_new_builds_every_family() {
        let metrics = Metrics::try_new().expect("constant definitions are valid");
        let text = metrics.try_encode().expect("encodes");
        // Unlabelled families are present from the start, at zero.
        assert_eq!(
            value(&text, "augmentd_images_augmented_total", &[]),
            Some(0.0)
        );
        assert_eq!(value(&text, "augmentd_inflight_requests", &[]), Some(0.0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_collector_reports_resident_memory() {
        let text = Metrics::new().encode();
        let rss = value(&text, "process_resident_memory_bytes", &[]).expect("rss series");
        assert!(rss > 0.0, "rss {rss}");
    }

    #[test]
    fn two_registries_do_not_share_series() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.add_images_augmented(3);
        assert_eq!(
            value(&a.encode(), "augmentd_images_augmented_total", &[]),
            Some(3.0)
        );
        assert_eq!(
            value(&b.encode(), "augmentd_images_augmented_total", &[]),
            Some(0.0)
        );
    }

    /// The checks `promtool check metrics` makes, on an exposition where every family has a
    /// series: help text everywhere, `_total` exactly on counters, units on histograms,
    /// `_info` gauges, the `augmentd_` prefix.
    #[test]
    fn exposition_follows_the_naming_rules() {
        let m = Metrics::new();
        m.observe_request("Augment", tonic::Code::Ok, 0.01);
        m.set_queue_depth(1);
        m.set_queue_capacity(8);
        m.set_active_model("m", 1);
        m.set_model_collapsed("m", 1, false);
        m.job_step("job-000001", 0, 1.0, 32, 0.1);
        m.job_epoch(
            "job-000001",
            &crate::train::EpochRecord {
                epoch: 0,
                train_loss: 1.0,
                val_loss: Some(1.0),
                train_acc: 50.0,
                val_acc: Some(50.0),
                test_acc: Some(50.0),
                lr: 0.1,
                seconds: 1.0,
                images_per_second: 100.0,
                augmenter_grad_norm: Some(0.1),
                transforms: vec![crate::model::TransformStat {
                    name: "tx".into(),
                    mean: 0.0,
                    std: 0.1,
                }],
                served: Vec::new(),
                collapsed: false,
            },
        );
        m.job_checkpoint("job-000001", 1.0);
        m.set_jobs_by_state(&[("running", 1)]);
        m.job_running("job-000001", true);
        let text = m.encode();
        let fams = families(&text);
        let ours = fams.iter().filter(|f| f.name.starts_with("augmentd_"));
        assert_eq!(ours.count(), 23, "{fams:?}");
        for fam in &fams {
            assert!(!fam.help.trim().is_empty(), "{} has no help", fam.name);
            assert_eq!(
                fam.kind == "counter",
                fam.name.ends_with("_total"),
                "{} is a {} ",
                fam.name,
                fam.kind
            );
            if fam.kind == "histogram" {
                assert!(fam.name.ends_with("_seconds"), "{} has no unit", fam.name);
            }
            if fam.name.ends_with("_info") {
                assert_eq!(fam.kind, "gauge", "{}", fam.name);
            }
            assert!(
                fam.name.starts_with("augmentd_") || fam.name.starts_with("process_"),
                "{}",
                fam.name
            );
        }
    }
}
