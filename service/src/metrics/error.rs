//! The metrics module's error type: a metric that could not be created or registered, or an
//! exposition that could not be encoded.

/// Why the registry could not be built or rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The prometheus crate refused a metric definition (bad name, label or buckets) or its
    /// registration (a name registered twice).
    #[error("registering metric {name}: {source}")]
    Register {
        /// The metric family's name.
        name: &'static str,
        /// What the prometheus crate said.
        source: prometheus::Error,
    },
    /// Rendering the gathered families in the text exposition format failed.
    #[error("encoding the metrics exposition: {0}")]
    Encode(#[source] prometheus::Error),
}
