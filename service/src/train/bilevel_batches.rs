//! The batches of a bilevel step: the training batches K at a time, and validation batches
//! cycled independently of them.
use std::path::PathBuf;
use std::sync::Arc;

use tch::Device;

use crate::data::{Batch, BatchLoader, EpochBatches, ImageSet, LoaderConfig};

use super::error::TrainError;

/// The next `k` training batches on the device, or `None` when fewer than `k` remain (the
/// last incomplete group of a K > 1 run is left for the next epoch's reshuffle).
pub fn next_group(
    batches: &mut EpochBatches,
    k: usize,
    device: Device,
) -> Result<Option<Vec<Batch>>, TrainError> {
    let mut group = Vec::with_capacity(k);
    for batch in batches.by_ref() {
        group.push(batch?.to_device(device)?);
        if group.len() == k {
            return Ok(Some(group));
        }
    }
    Ok(None)
}

/// Validation batches cycled independently of the training batches: a fresh seeded epoch of
/// the validation split each time it runs out, the first derived from the training epoch.
pub struct ValCycle {
    set: Arc<ImageSet>,
    config: LoaderConfig,
    cycle: u64,
    batches: Option<EpochBatches>,
}

impl ValCycle {
    /// The cycle of `set` batched by `config`, for training epoch `epoch`.
    pub fn new(set: Arc<ImageSet>, config: LoaderConfig, epoch: u64) -> Self {
        Self {
            set,
            config,
            cycle: epoch.wrapping_mul(1 << 20),
            batches: None,
        }
    }

    /// The next validation batch, on `device`.
    pub fn next(&mut self, device: Device) -> Result<Batch, TrainError> {
        for _ in 0..2 {
            if let Some(batch) = self.batches.as_mut().and_then(Iterator::next) {
                return Ok(batch?.to_device(device)?);
            }
            self.batches = Some(BatchLoader::epoch(
                self.set.clone(),
                &self.config,
                self.cycle,
            )?);
            self.cycle += 1;
        }
        Err(TrainError::RunDir {
            path: PathBuf::new(),
            problem: "the validation split yields no batch".into(),
        })
    }
}
