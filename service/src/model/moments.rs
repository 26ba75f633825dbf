//! Per-column mean and unbiased standard deviation, pooled from raw rows or from summaries of
//! groups (a step's mean and std over its samples) by Chan's parallel update, which stays exact
//! where the spread is tiny next to the mean: the case the collapse flag must decide.
use serde::{Deserialize, Serialize};

/// Mean and standard deviation of one transformation parameter over many samples (an epoch's
/// training samples, or the draws of a served distribution).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransformStat {
    /// The parameter (`a11`, `tx`, …, `brightness`, …).
    pub name: String,
    /// Mean over the samples.
    pub mean: f64,
    /// Unbiased standard deviation over the same samples.
    pub std: f64,
}

/// Running moments of `P` columns.
#[derive(Debug, Default, Clone)]
pub struct ColumnMoments {
    count: f64,
    mean: Vec<f64>,
    /// Sum of squared deviations from the running mean.
    m2: Vec<f64>,
}

impl ColumnMoments {
    /// Adds a group of `n` samples with these per-column means and unbiased stds.
    pub fn add_group(&mut self, n: usize, mean: &[f64], std: &[f64]) {
        if n == 0 {
            return;
        }
        if self.mean.len() != mean.len() {
            *self = Self {
                count: 0.0,
                mean: vec![0.0; mean.len()],
                m2: vec![0.0; mean.len()],
            };
        }
        let (na, nb) = (self.count, n as f64);
        let total = na + nb;
        for (j, (&mb, &sb)) in mean.iter().zip(std).enumerate() {
            let delta = mb - self.mean[j];
            let m2b = (nb - 1.0).max(0.0) * sb * sb;
            self.mean[j] += delta * nb / total;
            self.m2[j] += m2b + delta * delta * na * nb / total;
        }
        self.count = total;
    }

    /// Adds the rows of the row-major `values` ([rows, columns]), each one sample.
    pub fn add_rows(&mut self, values: &[f64], columns: usize) {
        let zeros = vec![0.0; columns];
        for row in values.chunks_exact(columns.max(1)) {
            self.add_group(1, row, &zeros);
        }
    }

    /// The samples added so far.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// The statistics of each column, named by `names` (empty when nothing was added).
    pub fn finish(&self, names: &[&str]) -> Vec<TransformStat> {
        if self.count == 0.0 {
            return Vec::new();
        }
        names
            .iter()
            .zip(self.mean.iter().zip(&self.m2))
            .map(|(name, (&mean, &m2))| {
                let var = if self.count > 1.0 {
                    (m2 / (self.count - 1.0)).max(0.0)
                } else {
                    0.0
                };
                TransformStat {
                    name: (*name).to_string(),
                    mean,
                    std: var.sqrt(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn pooled_groups_equal_the_statistics_of_all_samples() {
        let groups = [vec![1.0, 2.0, 4.0], vec![3.0, 5.0], vec![7.0]];
        let mut pooled = ColumnMoments::default();
        for g in &groups {
            let (mean, std) = if g.len() > 1 { direct(g) } else { (g[0], 0.0) };
            pooled.add_group(g.len(), &[mean], &[std]);
        }
        let all: Vec<f64> = groups.concat();
        let (mean, std) = direct(&all);
        let stat = &pooled.finish(&["x"])[0];
        assert_eq!(pooled.count(), 6);
        assert!((stat.mean - mean).abs() < 1e-12 && (stat.std - std).abs() < 1e-12);
    }

    #[test]
    fn rows_give_each_column_its_own_statistics_and_a_tiny_spread_survives() {
        // Column 0 varies by 1e-7 around 0.5: a one-pass sum of squares would lose it.
        let rows: Vec<f64> = (0..4096)
            .flat_map(|i| [0.5 + 1e-7 * f64::from(i % 2), f64::from(i)])
            .collect();
        let mut moments = ColumnMoments::default();
        moments.add_rows(&rows, 2);
        let stats = moments.finish(&["a", "b"]);
        let (mean0, std0) = direct(&rows.iter().step_by(2).copied().collect::<Vec<_>>());
        let (mean1, std1) = direct(&rows.iter().skip(1).step_by(2).copied().collect::<Vec<_>>());
        assert!((stats[0].mean - mean0).abs() < 1e-12);
        assert!((stats[0].std - std0).abs() < 1e-6 * std0, "{stats:?}");
        assert!((stats[1].mean - mean1).abs() < 1e-9 && (stats[1].std - std1).abs() < 1e-9);
        assert_eq!(ColumnMoments::default().finish(&["a"]), Vec::new());
    }
}
