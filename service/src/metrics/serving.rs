//! Serving-path families: requests by method and status code, their latency, images
//! augmented, the augment queue, in-flight requests and the models being served.
use std::sync::Mutex;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::{lock, register, remove_series, Metrics, MetricsError};

/// Request latency buckets: 0.5 ms (a cache-warm small batch) to 30 s (a large batch on a
/// loaded CPU, near the longest deadline a client sets).
const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The serving-path handles, registered in the [`Metrics`] registry.
pub(super) struct ServingMetrics {
    requests: IntCounterVec,
    request_duration: HistogramVec,
    images_augmented: IntCounter,
    queue_depth: IntGauge,
    queue_capacity: IntGauge,
    inflight: IntGauge,
    active_model: IntGaugeVec,
    /// The label values of `active_model`'s one series, so a change replaces it.
    active_labels: Mutex<Option<(String, String)>>,
    model_collapsed: IntGaugeVec,
}

impl ServingMetrics {
    /// Creates the serving families and registers them in `registry`.
    pub(super) fn register(registry: &Registry) -> Result<Self, MetricsError> {
        Ok(Self {
            requests: register(
                registry,
                "augmentd_requests_total",
                IntCounterVec::new(
                    Opts::new(
                        "augmentd_requests_total",
                        "gRPC requests finished, by method and canonical status code.",
                    ),
                    &["method", "code"],
                ),
            )?,
            request_duration: register(
                registry,
                "augmentd_request_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new(
                        "augmentd_request_duration_seconds",
                        "Time from receiving a gRPC request to its response, by method.",
                    )
                    .buckets(REQUEST_BUCKETS.to_vec()),
                    &["method"],
                ),
            )?,
            images_augmented: register(
                registry,
                "augmentd_images_augmented_total",
                IntCounter::new(
                    "augmentd_images_augmented_total",
                    "Images returned augmented by Augment and AugmentStream.",
                ),
            )?,
            queue_depth: register(
                registry,
                "augmentd_augment_queue_depth",
                IntGauge::new(
                    "augmentd_augment_queue_depth",
                    "Augment requests waiting in the engine queue.",
                ),
            )?,
            queue_capacity: register(
                registry,
                "augmentd_augment_queue_capacity",
                IntGauge::new(
                    "augmentd_augment_queue_capacity",
                    "Capacity of the augment queue; a full queue answers RESOURCE_EXHAUSTED.",
                ),
            )?,
            inflight: register(
                registry,
                "augmentd_inflight_requests",
                IntGauge::new(
                    "augmentd_inflight_requests",
                    "Augment requests (unary calls and stream messages) being handled right now.",
                ),
            )?,
            active_model: register(
                registry,
                "augmentd_active_model_info",
                IntGaugeVec::new(
                    Opts::new(
                        "augmentd_active_model_info",
                        "The augmenter model version Augment serves (always 1; absent when none).",
                    ),
                    &["name", "version"],
                ),
            )?,
            active_labels: Mutex::new(None),
            model_collapsed: register(
                registry,
                "augmentd_model_collapsed",
                IntGaugeVec::new(
                    Opts::new(
                        "augmentd_model_collapsed",
                        "1 if a published model version's augmenter collapsed (transforms \
                         near identity or degenerate), else 0.",
                    ),
                    &["name", "version"],
                ),
            )?,
        })
    }
}

impl Metrics {
    /// Counts a finished request in `augmentd_requests_total{method,code}` (the canonical
    /// code name, e.g. `OK`, `INVALID_ARGUMENT`) and observes its latency in
    /// `augmentd_request_duration_seconds{method}`.
    pub fn observe_request(&self, method: &str, code: tonic::Code, seconds: f64) {
        let s = &self.serving;
        s.requests
            .with_label_values(&[method, augmentd_proto::code_name(code)])
            .inc();
        s.request_duration
            .with_label_values(&[method])
            .observe(seconds);
    }

    /// Adds `n` to `augmentd_images_augmented_total`.
    pub fn add_images_augmented(&self, n: u64) {
        self.serving.images_augmented.inc_by(n);
    }

    /// Sets `augmentd_augment_queue_depth`.
    pub fn set_queue_depth(&self, depth: i64) {
        self.serving.queue_depth.set(depth);
    }

    /// Sets `augmentd_augment_queue_capacity`.
    pub fn set_queue_capacity(&self, cap: i64) {
        self.serving.queue_capacity.set(cap);
    }

    /// Counts a request in `augmentd_inflight_requests` until the returned guard drops.
    pub fn inflight(&self) -> InflightGuard {
        let gauge = self.serving.inflight.clone();
        gauge.inc();
        InflightGuard { gauge }
    }

    /// Makes `augmentd_active_model_info{name,version}` say 1 for this model, replacing the
    /// previous model's series so exactly one remains. Call it for the default model too.
    pub fn set_active_model(&self, name: &str, version: u64) {
        let labels = (name.to_owned(), version.to_string());
        let mut active = lock(&self.serving.active_labels);
        // The new series is set before the old one goes, so a scrape in between sees two
        // series for an instant rather than none.
        self.serving
            .active_model
            .with_label_values(&[labels.0.as_str(), labels.1.as_str()])
            .set(1);
        if let Some(old) = active.take().filter(|old| *old != labels) {
            remove_series(
                &self.serving.active_model,
                &[old.0.as_str(), old.1.as_str()],
            );
        }
        *active = Some(labels);
    }

    /// Removes the `augmentd_active_model_info` series: no model is served.
    pub fn clear_active_model(&self) {
        let mut active = lock(&self.serving.active_labels);
        if let Some(old) = active.take() {
            remove_series(
                &self.serving.active_model,
                &[old.0.as_str(), old.1.as_str()],
            );
        }
    }

    /// Sets `augmentd_model_collapsed{name,version}` to 1 if `collapsed`, else 0.
    pub fn set_model_collapsed(&self, name: &str, version: u64, collapsed: bool) {
        let version = version.to_string();
        self.serving
            .model_collapsed
            .with_label_values(&[name, version.as_str()])
            .set(i64::from(collapsed));
    }

    /// Drops the `augmentd_model_collapsed` series of a deleted model version. The active
    /// model series is left alone: change it with [`Metrics::set_active_model`] or
    /// [`Metrics::clear_active_model`].
    pub fn remove_model(&self, name: &str, version: u64) {
        let version = version.to_string();
        remove_series(&self.serving.model_collapsed, &[name, version.as_str()]);
    }
}

/// Holds one count in `augmentd_inflight_requests`; dropping it takes the count back.
#[must_use = "the request counts as in flight only while the guard lives"]
#[derive(Debug)]
pub struct InflightGuard {
    gauge: IntGauge,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{series, value};
    use super::*;

    #[test]
    fn requests_are_counted_by_method_and_code_with_latency() {
        let m = Metrics::new();
        m.observe_request("Augment", tonic::Code::Ok, 0.002);
        m.observe_request("Augment", tonic::Code::Ok, 0.2);
        m.observe_request("Augment", tonic::Code::InvalidArgument, 0.0001);
        let t = m.encode();
        let ok = [("method", "Augment"), ("code", "OK")];
        let bad = [("method", "Augment"), ("code", "INVALID_ARGUMENT")];
        assert_eq!(value(&t, "augmentd_requests_total", &ok), Some(2.0));
        assert_eq!(value(&t, "augmentd_requests_total", &bad), Some(1.0));
        assert_eq!(series(&t, "augmentd_requests_total").len(), 2);
        let method = [("method", "Augment")];
        let count = value(&t, "augmentd_request_duration_seconds_count", &method);
        assert_eq!(count, Some(3.0));
        let sum = value(&t, "augmentd_request_duration_seconds_sum", &method).expect("sum");
        assert!((sum - 0.2021).abs() < 1e-12, "{sum}");
        let bucket = |le| {
            value(
                &t,
                "augmentd_request_duration_seconds_bucket",
                &[("method", "Augment"), ("le", le)],
            )
        };
        assert_eq!(bucket("0.0005"), Some(1.0));
        assert_eq!(bucket("0.0025"), Some(2.0));
        assert_eq!(bucket("0.1"), Some(2.0));
        assert_eq!(bucket("0.25"), Some(3.0));
        assert_eq!(bucket("30"), Some(3.0));
        assert_eq!(bucket("+Inf"), Some(3.0));
        assert_eq!(
            series(&t, "augmentd_request_duration_seconds_bucket").len(),
            REQUEST_BUCKETS.len() + 1
        );
    }

    #[test]
    fn every_code_has_its_canonical_name() {
        let names: Vec<&str> = (0..=16)
            .map(|i| augmentd_proto::code_name(tonic::Code::from(i)))
            .collect();
        assert_eq!(names[0], "OK");
        assert_eq!(names[4], "DEADLINE_EXCEEDED");
        assert_eq!(names[8], "RESOURCE_EXHAUSTED");
        assert_eq!(names[16], "UNAUTHENTICATED");
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 17);
    }

    #[test]
    fn images_and_queue_gauges() {
        let m = Metrics::new();
        m.add_images_augmented(5);
        m.add_images_augmented(7);
        m.set_queue_depth(3);
        m.set_queue_capacity(64);
        let t = m.encode();
        assert_eq!(
            value(&t, "augmentd_images_augmented_total", &[]),
            Some(12.0)
        );
        assert_eq!(value(&t, "augmentd_augment_queue_depth", &[]), Some(3.0));
        assert_eq!(
            value(&t, "augmentd_augment_queue_capacity", &[]),
            Some(64.0)
        );
        m.set_queue_depth(0);
        assert_eq!(
            value(&m.encode(), "augmentd_augment_queue_depth", &[]),
            Some(0.0)
        );
    }

    #[test]
    fn inflight_guard_counts_until_dropped() {
        let m = Metrics::new();
        let a = m.inflight();
        let b = m.inflight();
        assert_eq!(
            value(&m.encode(), "augmentd_inflight_requests", &[]),
            Some(2.0)
        );
        drop(a);
        assert_eq!(
            value(&m.encode(), "augmentd_inflight_requests", &[]),
            Some(1.0)
        );
        drop(b);
        assert_eq!(
            value(&m.encode(), "augmentd_inflight_requests", &[]),
            Some(0.0)
        );
    }

    #[test]
    fn active_model_keeps_exactly_one_series() {
        let m = Metrics::new();
        assert!(series(&m.encode(), "augmentd_active_model_info").is_empty());
        m.set_active_model("default", 0);
        m.set_active_model("cifar", 3);
        let t = m.encode();
        let all = series(&t, "augmentd_active_model_info");
        assert_eq!(all.len(), 1, "{all:?}");
        let labels = [("name", "cifar"), ("version", "3")];
        assert_eq!(value(&t, "augmentd_active_model_info", &labels), Some(1.0));
        // Setting the same model again keeps its series.
        m.set_active_model("cifar", 3);
        let t = m.encode();
        assert_eq!(series(&t, "augmentd_active_model_info").len(), 1);
        assert_eq!(value(&t, "augmentd_active_model_info", &labels), Some(1.0));
        m.clear_active_model();
        assert!(series(&m.encode(), "augmentd_active_model_info").is_empty());
        m.clear_active_model();
        m.set_active_model("cifar", 4);
        let all = series(&m.encode(), "augmentd_active_model_info");
        assert_eq!(all.len(), 1, "{all:?}");
    }

    #[test]
    fn model_collapse_flags_and_removal() {
        let m = Metrics::new();
        m.set_model_collapsed("cifar", 1, false);
        m.set_model_collapsed("cifar", 2, true);
        let t = m.encode();
        let v1 = [("name", "cifar"), ("version", "1")];
        let v2 = [("name", "cifar"), ("version", "2")];
        assert_eq!(value(&t, "augmentd_model_collapsed", &v1), Some(0.0));
        assert_eq!(value(&t, "augmentd_model_collapsed", &v2), Some(1.0));
        m.remove_model("cifar", 2);
        m.remove_model("never-published", 9);
        let t = m.encode();
        assert_eq!(series(&t, "augmentd_model_collapsed").len(), 1);
        assert_eq!(value(&t, "augmentd_model_collapsed", &v1), Some(0.0));
    }
}
