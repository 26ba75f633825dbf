//! The [`Metrics`] methods a training job calls: per step, per epoch, per checkpoint, when it
//! starts and stops, and when it is deleted.
use std::collections::BTreeSet;

use super::training::{JOB_STATES, SPLITS};
use super::{lock, remove_series, Metrics};
use crate::model::TransformStat;
use crate::train::EpochRecord;

/// `u64` to `i64`, saturating (an epoch count never gets near the limit).
fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Records one training step of `job`: counts it in `augmentd_training_steps_total`,
    /// observes `seconds` in `augmentd_training_step_duration_seconds`, adds `images` to
    /// `augmentd_training_images_total`, and sets `augmentd_training_loss{split="train"}` (even
    /// to NaN or Inf, which alerts look for) and `augmentd_training_epoch`.
    pub fn job_step(&self, job: &str, epoch: u64, train_loss: f64, images: usize, seconds: f64) {
        let t = &self.training;
        t.steps.with_label_values(&[job]).inc();
        t.step_duration.with_label_values(&[job]).observe(seconds);
        t.images
            .with_label_values(&[job])
            .inc_by(u64::try_from(images).unwrap_or(u64::MAX));
        t.loss.with_label_values(&[job, "train"]).set(train_loss);
        t.epoch.with_label_values(&[job]).set(saturating_i64(epoch));
    }

    /// Records a finished epoch of `job`: losses, accuracies (`split="val"` series absent
    /// when the run has no validation split; `split="test"` holding the last evaluation, absent
    /// until the first and when there is no test set), throughput, the augmenter's gradient
    /// norm and transform statistics (series absent when the record has none), the collapse
    /// flag, and `augmentd_training_epochs_completed` = `record.epoch + 1`.
    pub fn job_epoch(&self, job: &str, record: &EpochRecord) {
        let t = &self.training;
        t.loss
            .with_label_values(&[job, "train"])
            .set(record.train_loss);
        t.accuracy
            .with_label_values(&[job, "train"])
            .set(record.train_acc);
        match (record.val_loss, record.val_acc) {
            (Some(loss), Some(acc)) => {
                t.loss.with_label_values(&[job, "val"]).set(loss);
                t.accuracy.with_label_values(&[job, "val"]).set(acc);
            }
            _ => {
                remove_series(&t.loss, &[job, "val"]);
                remove_series(&t.accuracy, &[job, "val"]);
            }
        }
        // An epoch that skipped the test set (`output.test_every`) leaves the last
        // evaluation standing rather than making the series flicker in and out.
        if let Some(acc) = record.test_acc {
            t.accuracy.with_label_values(&[job, "test"]).set(acc);
        }
        t.images_per_second
            .with_label_values(&[job])
            .set(record.images_per_second);
        match record.augmenter_grad_norm {
            Some(norm) => t.grad_norm.with_label_values(&[job]).set(norm),
            None => remove_series(&t.grad_norm, &[job]),
        }
        self.set_transforms(job, &record.transforms);
        t.collapsed
            .with_label_values(&[job])
            .set(i64::from(record.collapsed));
        t.epochs_completed
            .with_label_values(&[job])
            .set(saturating_i64(record.epoch.saturating_add(1)));
    }

    /// Sets the transform mean and std series of `job` to `transforms`, removing those of
    /// parameters it no longer reports.
    fn set_transforms(&self, job: &str, transforms: &[TransformStat]) {
        let t = &self.training;
        let mut params = lock(&t.params);
        let now: BTreeSet<String> = transforms.iter().map(|s| s.name.clone()).collect();
        for s in transforms {
            let param = s.name.as_str();
            t.transform_mean
                .with_label_values(&[job, param])
                .set(s.mean);
            t.transform_std.with_label_values(&[job, param]).set(s.std);
        }
        if let Some(before) = params.get(job) {
            for gone in before.difference(&now) {
                remove_series(&t.transform_mean, &[job, gone]);
                remove_series(&t.transform_std, &[job, gone]);
            }
        }
        if now.is_empty() {
            params.remove(job);
        } else {
            params.insert(job.to_owned(), now);
        }
    }

    /// Sets `augmentd_training_last_checkpoint_timestamp_seconds` of `job`.
    pub fn job_checkpoint(&self, job: &str, unix_seconds: f64) {
        self.training
            .last_checkpoint
            .with_label_values(&[job])
            .set(unix_seconds);
    }

    /// Sets `augmentd_jobs{state}` from `(state, count)` pairs; the five known states
    /// (queued, running, succeeded, failed, cancelled) missing from `counts` are set to 0.
    pub fn set_jobs_by_state(&self, counts: &[(&str, i64)]) {
        let jobs = &self.training.jobs;
        for state in JOB_STATES {
            if !counts.iter().any(|(s, _)| *s == state) {
                jobs.with_label_values(&[state]).set(0);
            }
        }
        for (state, count) in counts {
            jobs.with_label_values(&[*state]).set(*count);
        }
    }

    /// Sets `augmentd_training_running` of `job` to 1 while its loop runs, 0 once it stops.
    pub fn job_running(&self, job: &str, running: bool) {
        self.training
            .running
            .with_label_values(&[job])
            .set(i64::from(running));
    }

    /// Removes every series of `job` (for jobs deleted from the store, so a long-lived server
    /// does not accumulate one set of series per job ever run).
    pub fn remove_job(&self, job: &str) {
        let t = &self.training;
        remove_series(&t.steps, &[job]);
        remove_series(&t.step_duration, &[job]);
        remove_series(&t.images, &[job]);
        for split in SPLITS {
            remove_series(&t.loss, &[job, split]);
            remove_series(&t.accuracy, &[job, split]);
        }
        for gauge in [&t.images_per_second, &t.grad_norm, &t.last_checkpoint] {
            remove_series(gauge, &[job]);
        }
        for gauge in [&t.epoch, &t.collapsed, &t.epochs_completed, &t.running] {
            remove_series(gauge, &[job]);
        }
        self.set_transforms(job, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample_record as record, series, stat, value};
    use super::*;

    const JOB: &str = "job-000001";

    #[test]
    fn steps_count_time_images_loss_and_epoch() {
        let m = Metrics::new();
        m.job_step(JOB, 1, 2.5, 128, 0.02);
        m.job_step(JOB, 1, 2.25, 128, 0.3);
        m.job_step("job-000002", 0, 1.0, 64, 0.004);
        let t = m.encode();
        let job = [("job_id", JOB)];
        assert_eq!(value(&t, "augmentd_training_steps_total", &job), Some(2.0));
        assert_eq!(
            value(&t, "augmentd_training_images_total", &job),
            Some(256.0)
        );
        let train = [("job_id", JOB), ("split", "train")];
        assert_eq!(value(&t, "augmentd_training_loss", &train), Some(2.25));
        assert_eq!(value(&t, "augmentd_training_epoch", &job), Some(1.0));
        let count = value(&t, "augmentd_training_step_duration_seconds_count", &job);
        assert_eq!(count, Some(2.0));
        let sum = value(&t, "augmentd_training_step_duration_seconds_sum", &job);
        assert!((sum.expect("sum") - 0.32).abs() < 1e-12);
        let bucket = |le| {
            let labels = [("job_id", JOB), ("le", le)];
            value(
                &t,
                "augmentd_training_step_duration_seconds_bucket",
                &labels,
            )
        };
        assert_eq!(bucket("0.025"), Some(1.0));
        assert_eq!(bucket("0.25"), Some(1.0));
        assert_eq!(bucket("0.5"), Some(2.0));
        assert_eq!(bucket("60"), Some(2.0));
        let other = [("job_id", "job-000002")];
        assert_eq!(
            value(&t, "augmentd_training_steps_total", &other),
            Some(1.0)
        );
        assert_eq!(series(&t, "augmentd_training_steps_total").len(), 2);
    }

    #[test]
    fn non_finite_step_loss_is_exposed() {
        let m = Metrics::new();
        let train = [("job_id", JOB), ("split", "train")];
        m.job_step(JOB, 0, f64::NAN, 1, 0.01);
        let loss = value(&m.encode(), "augmentd_training_loss", &train).expect("loss");
        assert!(loss.is_nan());
        m.job_step(JOB, 0, f64::INFINITY, 1, 0.01);
        let loss = value(&m.encode(), "augmentd_training_loss", &train).expect("loss");
        assert_eq!(loss, f64::INFINITY);
    }

    #[test]
    fn epoch_sets_every_epoch_series() {
        let m = Metrics::new();
        m.job_epoch(JOB, &record());
        let t = m.encode();
        let job = [("job_id", JOB)];
        let split = |s| [("job_id", JOB), ("split", s)];
        assert_eq!(
            value(&t, "augmentd_training_loss", &split("train")),
            Some(0.75)
        );
        assert_eq!(
            value(&t, "augmentd_training_loss", &split("val")),
            Some(0.875)
        );
        let acc = "augmentd_training_accuracy_percent";
        assert_eq!(value(&t, acc, &split("train")), Some(81.5));
        assert_eq!(value(&t, acc, &split("val")), Some(78.25));
        assert_eq!(value(&t, acc, &split("test")), Some(77.0));
        let ips = value(&t, "augmentd_training_images_per_second", &job);
        assert_eq!(ips, Some(1234.5));
        let norm = value(&t, "augmentd_training_augmenter_grad_norm", &job);
        assert_eq!(norm, Some(0.125));
        let param = |p| [("job_id", JOB), ("param", p)];
        let mean = "augmentd_training_transform_mean";
        let std = "augmentd_training_transform_std";
        assert_eq!(value(&t, mean, &param("tx")), Some(0.5));
        assert_eq!(value(&t, std, &param("tx")), Some(0.25));
        assert_eq!(value(&t, mean, &param("brightness")), Some(-0.5));
        assert_eq!(value(&t, std, &param("brightness")), Some(1.5));
        assert_eq!(value(&t, "augmentd_training_collapsed", &job), Some(1.0));
        let done = value(&t, "augmentd_training_epochs_completed", &job);
        assert_eq!(done, Some(3.0));
    }

    #[test]
    fn epoch_without_optional_figures_drops_their_series() {
        let m = Metrics::new();
        m.job_epoch(JOB, &record());
        let fixed = EpochRecord {
            epoch: 3,
            test_acc: None,
            augmenter_grad_norm: None,
            transforms: vec![stat("tx", 0.0, 0.0)],
            collapsed: false,
            ..record()
        };
        m.job_epoch(JOB, &fixed);
        let t = m.encode();
        let split = |s| [("job_id", JOB), ("split", s)];
        let acc = "augmentd_training_accuracy_percent";
        assert_eq!(series(&t, acc).len(), 3);
        // An epoch without a test evaluation keeps the last one.
        assert_eq!(value(&t, acc, &split("test")), Some(77.0));
        assert!(series(&t, "augmentd_training_augmenter_grad_norm").is_empty());
        assert_eq!(series(&t, "augmentd_training_transform_mean").len(), 1);
        assert_eq!(series(&t, "augmentd_training_transform_std").len(), 1);
        let job = [("job_id", JOB)];
        assert_eq!(value(&t, "augmentd_training_collapsed", &job), Some(0.0));
        let done = value(&t, "augmentd_training_epochs_completed", &job);
        assert_eq!(done, Some(4.0));
    }

    #[test]
    fn a_run_without_validation_exports_no_val_series() {
        let m = Metrics::new();
        let no_val = EpochRecord {
            val_loss: None,
            val_acc: None,
            test_acc: None,
            ..record()
        };
        m.job_epoch(JOB, &no_val);
        let t = m.encode();
        let split = |s| [("job_id", JOB), ("split", s)];
        let acc = "augmentd_training_accuracy_percent";
        assert_eq!(series(&t, acc).len(), 1, "{t}");
        assert_eq!(value(&t, acc, &split("train")), Some(81.5));
        assert_eq!(series(&t, "augmentd_training_loss").len(), 1, "{t}");
        assert_eq!(
            value(&t, "augmentd_training_loss", &split("train")),
            Some(0.75)
        );
        // Its next epoch is tested: the test series appears, still no validation one.
        m.job_epoch(
            JOB,
            &EpochRecord {
                epoch: 3,
                test_acc: Some(70.5),
                ..no_val
            },
        );
        let t = m.encode();
        assert_eq!(value(&t, acc, &split("test")), Some(70.5));
        assert_eq!(value(&t, acc, &split("val")), None);
        assert_eq!(series(&t, acc).len(), 2);
    }

    #[test]
    fn checkpoint_running_and_job_states() {
        let m = Metrics::new();
        let t = m.encode();
        for state in JOB_STATES {
            assert_eq!(value(&t, "augmentd_jobs", &[("state", state)]), Some(0.0));
        }
        m.job_checkpoint(JOB, 1_700_000_000.5);
        m.job_running(JOB, true);
        m.set_jobs_by_state(&[("running", 1), ("succeeded", 4)]);
        let t = m.encode();
        let job = [("job_id", JOB)];
        let ts = value(
            &t,
            "augmentd_training_last_checkpoint_timestamp_seconds",
            &job,
        );
        assert_eq!(ts, Some(1_700_000_000.5));
        assert_eq!(value(&t, "augmentd_training_running", &job), Some(1.0));
        assert_eq!(
            value(&t, "augmentd_jobs", &[("state", "running")]),
            Some(1.0)
        );
        assert_eq!(
            value(&t, "augmentd_jobs", &[("state", "succeeded")]),
            Some(4.0)
        );
        m.job_running(JOB, false);
        m.set_jobs_by_state(&[("succeeded", 5)]);
        let t = m.encode();
        assert_eq!(value(&t, "augmentd_training_running", &job), Some(0.0));
        assert_eq!(
            value(&t, "augmentd_jobs", &[("state", "running")]),
            Some(0.0)
        );
        assert_eq!(
            value(&t, "augmentd_jobs", &[("state", "succeeded")]),
            Some(5.0)
        );
        assert_eq!(series(&t, "augmentd_jobs").len(), JOB_STATES.len());
    }

    #[test]
    fn remove_job_drops_only_that_jobs_series() {
        let m = Metrics::new();
        for job in [JOB, "job-000002"] {
            m.job_step(job, 2, 1.0, 8, 0.01);
            m.job_epoch(job, &record());
            m.job_checkpoint(job, 1.0);
            m.job_running(job, false);
        }
        m.remove_job(JOB);
        let t = m.encode();
        let leftover: Vec<&str> = t
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(JOB))
            .collect();
        assert!(leftover.is_empty(), "{leftover:?}");
        let other = [("job_id", "job-000002")];
        assert_eq!(
            value(&t, "augmentd_training_steps_total", &other),
            Some(1.0)
        );
        assert_eq!(series(&t, "augmentd_training_transform_mean").len(), 2);
    }
}
