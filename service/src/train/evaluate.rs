//! Accuracy and loss of the classifier over a whole image set, in evaluation mode.
use tch::{Device, Kind, Reduction};

use crate::bilevel::ClassifierState;
use crate::data::{ImageSet, Normalization};

use super::error::TrainError;

/// Images per evaluation batch (no graph is kept, so this only bounds memory).
const EVAL_BATCH: usize = 500;

/// Mean cross-entropy and accuracy (%) of the classifier on `set`.
pub fn evaluate(
    classifier: &ClassifierState,
    set: &ImageSet,
    normalization: &Normalization,
    device: Device,
) -> Result<(f64, f64), TrainError> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let (mut loss_sum, mut correct) = (0.0, 0i64);
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = set.to_batch(chunk, normalization)?.to_device(device)?;
        let logits = classifier.eval_logits(&batch.images)?;
        let loss = logits
            .f_cross_entropy_loss::<&tch::Tensor>(&batch.labels, None, Reduction::Sum, -100, 0.0)
            .map_err(crate::nn::NnError::from)?;
        loss_sum += loss.f_double_value(&[]).map_err(crate::nn::NnError::from)?;
        let hits = logits
            .f_argmax(-1, false)
            .and_then(|p| p.f_eq_tensor(&batch.labels))
            .and_then(|h| h.f_sum(Kind::Int64))
            .and_then(|s| s.f_int64_value(&[]))
            .map_err(crate::nn::NnError::from)?;
        correct += hits;
    }
    let n = set.len().max(1) as f64;
    Ok((loss_sum / n, 100.0 * correct as f64 / n))
}
