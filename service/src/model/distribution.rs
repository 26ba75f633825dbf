//! The distribution of transformations a model serves, and the collapse flag of ALGORITHM.md
//! ("Serving the learned augmenter"): an augmenter whose every transformation parameter barely
//! varies applies one fixed transform to every image, whatever the noise.
use serde::{Deserialize, Serialize};

use super::moments::TransformStat;

/// Draws behind a published model's served distribution.
pub const SERVED_DRAWS: usize = 4096;

/// A transformation parameter whose standard deviation is below this does not vary.
pub const COLLAPSE_STD_THRESHOLD: f64 = 1e-3;

/// Mean and standard deviation of every transformation parameter over many draws.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServedDistribution {
    /// One entry per transformation parameter, named as in the training records.
    pub params: Vec<TransformStat>,
    /// Draws the statistics are over.
    pub draws: usize,
    /// Every parameter's std is below `threshold`: the model serves one fixed transform.
    pub collapsed: bool,
    /// The threshold `collapsed` was decided with ([`COLLAPSE_STD_THRESHOLD`]).
    pub threshold: f64,
}

/// Whether every parameter's std is below [`COLLAPSE_STD_THRESHOLD`]; no statistics (no
/// augmenter) is not a collapse.
pub fn is_collapsed(stats: &[TransformStat]) -> bool {
    !stats.is_empty() && stats.iter().all(|s| s.std < COLLAPSE_STD_THRESHOLD)
}
