//! [`EpochSnapshot`]: what a training job reports to the metrics at the end of an epoch.
use crate::train::EpochRecord;

/// What one finished epoch of a job reports: [`EpochRecord`]'s figures plus the collapse
/// verdict.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpochSnapshot {
    /// The epoch just finished, 0-based as in the run's records.
    pub epoch: u64,
    /// Mean training loss of the epoch's steps.
    pub train_loss: f64,
    /// Loss on the validation split after the epoch, when the run has one.
    pub val_loss: Option<f64>,
    /// Accuracy (%) on the training split.
    pub train_acc: f64,
    /// Accuracy (%) on the validation split, when the run has one.
    pub val_acc: Option<f64>,
    /// Accuracy (%) on the test set, when it was evaluated after this epoch.
    pub test_acc: Option<f64>,
    /// Training images per second during the epoch's steps.
    pub images_per_second: f64,
    /// Mean L2 norm of the augmenter's hypergradient (learned augmenters only).
    pub augmenter_grad_norm: Option<f64>,
    /// `(parameter, mean, std)` of every transformation parameter (learned augmenters only).
    pub transforms: Vec<(String, f64, f64)>,
    /// Whether the augmenter collapsed during the epoch.
    pub collapsed: bool,
}

impl EpochSnapshot {
    /// The snapshot of a run's epoch record.
    pub fn from_record(record: &EpochRecord) -> Self {
        Self {
            epoch: record.epoch,
            train_loss: record.train_loss,
            val_loss: record.val_loss,
            train_acc: record.train_acc,
            val_acc: record.val_acc,
            test_acc: record.test_acc,
            images_per_second: record.images_per_second,
            augmenter_grad_norm: record.augmenter_grad_norm,
            transforms: record
                .transforms
                .iter()
                .map(|t| (t.name.clone(), t.mean, t.std))
                .collect(),
            collapsed: record.collapsed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sample_snapshot;
    use super::*;

    #[test]
    fn snapshot_from_record_copies_every_figure() {
        let record = EpochRecord {
            epoch: 2,
            train_loss: 0.75,
            val_loss: Some(0.875),
            train_acc: 81.5,
            val_acc: Some(78.25),
            test_acc: Some(77.0),
            lr: 0.1,
            seconds: 9.0,
            images_per_second: 1234.5,
            augmenter_grad_norm: Some(0.125),
            transforms: vec![
                crate::train::TransformStat {
                    name: "tx".into(),
                    mean: 0.5,
                    std: 0.25,
                },
                crate::train::TransformStat {
                    name: "brightness".into(),
                    mean: -0.5,
                    std: 1.5,
                },
            ],
            served: Vec::new(),
            collapsed: true,
        };
        assert_eq!(EpochSnapshot::from_record(&record), sample_snapshot());
    }
}
