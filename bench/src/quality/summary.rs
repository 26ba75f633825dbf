//! Aggregation over seeds: the mean and sample standard deviation of an arm's final test
//! accuracies, how many of its published models collapsed, and its served distribution
//! averaged over seeds. Only runs that completed count; nothing is filled in for the others.
use serde::Serialize;

use super::arms::{Arm, Role};
use super::results::{ParamStat, RunResult};

/// Mean and sample standard deviation (n − 1 denominator; `None` below two values).
pub fn mean_std(values: &[f64]) -> Option<(f64, Option<f64>)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() >= 2).then(|| {
        let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        (squares / (n - 1.0)).sqrt()
    });
    Some((mean, std))
}

/// One arm over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmSummary {
    /// The arm.
    #[serde(flatten)]
    pub arm: Arm,
    /// Training images of each of its runs (`None` when a setting could not be read).
    pub training_images: Option<usize>,
    /// Its runs, one per seed, in seed order.
    pub runs: Vec<RunResult>,
    /// Runs with a final test accuracy.
    pub n: usize,
    /// Mean final test accuracy (%) over those runs.
    pub mean: Option<f64>,
    /// Their sample standard deviation (two runs or more).
    pub std: Option<f64>,
    /// Published models that serve one fixed transform, of those with a served distribution.
    pub collapsed: Option<(usize, usize)>,
    /// Smallest and largest served std over every parameter and seed.
    pub served_std_range: Option<(f64, f64)>,
    /// The served distribution averaged over seeds: per parameter, the mean of the means and
    /// the mean of the stds.
    pub served_mean: Vec<ParamStat>,
    /// Wall-clock seconds of its runs' processes, over every invocation, added up.
    pub process_seconds: f64,
    /// Those seconds times each process's threads, added up.
    pub core_seconds: f64,
    /// Of the process seconds, the time spent in SGD steps (from the records' throughput),
    /// over the runs with a recorded process time; the rest is start-up, evaluation,
    /// checkpoints and pictures.
    pub step_seconds: f64,
}

impl ArmSummary {
    /// Aggregates the runs of `arm`.
    pub fn new(arm: Arm, training_images: Option<usize>, runs: Vec<RunResult>) -> Self {
        let accuracies: Vec<f64> = runs.iter().filter_map(|r| r.test_acc).collect();
        let (mean, std) = match mean_std(&accuracies) {
            Some((mean, std)) => (Some(mean), std),
            None => (None, None),
        };
        let served: Vec<_> = runs.iter().filter_map(|r| r.served.as_ref()).collect();
        let learned = arm.role == Role::Learned;
        let collapsed = (learned && !served.is_empty())
            .then(|| (served.iter().filter(|s| s.collapsed).count(), served.len()));
        let stds = served.iter().flat_map(|s| s.params.iter().map(|p| p.std));
        let served_std_range = stds.fold(None, |range: Option<(f64, f64)>, std| {
            Some(range.map_or((std, std), |(lo, hi)| (lo.min(std), hi.max(std))))
        });
        let mut served_mean: Vec<ParamStat> = Vec::new();
        if let Some(first) = served.first() {
            for (i, param) in first.params.iter().enumerate() {
                let same: Vec<&ParamStat> = served
                    .iter()
                    .filter_map(|s| s.params.get(i).filter(|p| p.name == param.name))
                    .collect();
                let n = same.len() as f64;
                served_mean.push(ParamStat {
                    name: param.name.clone(),
                    mean: same.iter().map(|p| p.mean).sum::<f64>() / n,
                    std: same.iter().map(|p| p.std).sum::<f64>() / n,
                });
            }
        }
        let timed = runs.iter().filter(|r| r.process_seconds > 0.0);
        let step_seconds = training_images.map_or(0.0, |images| {
            timed
                .clone()
                .map(|r| images as f64 * r.seconds_per_image)
                .sum()
        });
        Self {
            process_seconds: timed.clone().map(|r| r.process_seconds).sum(),
            core_seconds: timed.map(|r| r.core_seconds).sum(),
            step_seconds,
            n: accuracies.len(),
            mean,
            std,
            collapsed,
            served_std_range,
            served_mean,
            training_images,
            runs,
            arm,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::quality::results::{RunStatus, Served};
    use crate::quality::test_support::{arm, run};

    #[test]
    fn mean_and_sample_standard_deviation() {
        assert_eq!(mean_std(&[]), None);
        assert_eq!(mean_std(&[80.0]), Some((80.0, None)));
        let (mean, std) = mean_std(&[80.0, 82.0, 84.0]).unwrap();
        assert!((mean - 82.0).abs() < 1e-12);
        assert!(
            (std.unwrap() - 2.0).abs() < 1e-12,
            "n − 1 in the denominator"
        );
    }

    #[test]
    fn only_completed_runs_count_and_served_distributions_average() {
        let served = |collapsed: bool, std: f64| Served {
            params: vec![
                ParamStat {
                    name: "a11".into(),
                    mean: 1.0,
                    std,
                },
                ParamStat {
                    name: "tx".into(),
                    mean: 0.1,
                    std: std / 2.0,
                },
            ],
            draws: 4096,
            collapsed,
        };
        let mut runs = vec![run(0, Some(70.0)), run(1, Some(74.0)), run(2, None)];
        runs[2].status = RunStatus::Incomplete;
        runs[0].served = Some(served(false, 0.2));
        runs[1].served = Some(served(true, 0.0004));
        let summary = ArmSummary::new(arm("bilevel-affine_color-reference"), Some(1600), runs);
        assert_eq!(summary.n, 2);
        assert_eq!(summary.mean, Some(72.0));
        assert!((summary.std.unwrap() - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(summary.collapsed, Some((1, 2)));
        assert_eq!(summary.served_std_range, Some((0.0002, 0.2)));
        assert_eq!(summary.served_mean[0].name, "a11");
        assert!((summary.served_mean[0].std - 0.1002).abs() < 1e-12);
        assert!((summary.served_mean[1].mean - 0.1).abs() < 1e-12);
        // Two timed runs of 120 s, 0.05 s per image over their epochs, 1,600 images.
        assert_eq!(
            (summary.process_seconds, summary.core_seconds),
            (240.0, 240.0)
        );
        assert!((summary.step_seconds - 160.0).abs() < 1e-9);

        let none = ArmSummary::new(arm("none-1600"), Some(1600), vec![run(0, None)]);
        assert_eq!(
            (none.n, none.mean, none.std, none.collapsed),
            (0, None, None, None)
        );
    }
}
