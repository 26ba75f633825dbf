//! The checks the report computes from the results, never types by hand, one set per subset
//! size:
//! - **Regime**: does the best hand-crafted arm beat no augmentation by at least
//!   [`REGIME_MARGIN`] points and by two standard errors of the difference? If not,
//!   augmentation does not matter at that size and no augmenter can show value there.
//! - **Bar**: is each served arm of the default augmenter variant ahead of the best control
//!   (no augmentation, a hand-crafted policy or the prior control: random draws from the broad
//!   prior, nothing learned) by two standard errors of the difference, with none of the models
//!   it served collapsed? And by how many standard errors is it ahead or behind?
//!
//! The design is paired: every arm of a seed trains on the same subset from the same initial
//! weights, and which subset a seed draws moves every arm together (by 2–3 points at 20 images
//! per class). So the verdicts use the paired standard error of the difference, the sample
//! std of the per-seed differences over √n, which measures the noise of the comparison itself;
//! the unpaired √(s₁²/n₁ + s₂²/n₂), which counts the subset-to-subset spread as noise, is shown
//! beside it. An arm with missing seeds gives "incomplete", never a guess.
use std::fmt::Write as _;

use serde::Serialize;

use super::arms::{Role, Split};
use super::protocol::{size_label, toml_string};
use super::summary::{mean_std, ArmSummary};

/// Points by which the best hand-crafted arm must beat no augmentation for the regime to be
/// one where augmentation matters.
pub const REGIME_MARGIN: f64 = 1.0;
/// Standard errors of the difference a margin must exceed.
pub const STANDARD_ERRORS: f64 = 2.0;

/// What the numbers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every seed completed and the condition holds.
    Reached,
    /// Every seed completed and it does not.
    NotReached,
    /// A seed of an arm involved is missing.
    Incomplete,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Self::Reached => "**reached**",
            Self::NotReached => "**not reached**",
            Self::Incomplete => "incomplete (seeds missing)",
        }
    }
}

/// One arm's mean against another's at the same subset size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The arm compared.
    pub arm: String,
    /// The arm it is compared against.
    pub against: String,
    /// The arm's mean final test accuracy (%), over its `n` completed seeds.
    pub mean: Option<f64>,
    /// Its completed seeds.
    pub n: usize,
    /// The other arm's mean (%).
    pub against_mean: Option<f64>,
    /// The other arm's completed seeds.
    pub against_n: usize,
    /// `mean − against_mean` (points).
    pub difference: Option<f64>,
    /// The unpaired standard error of the difference (two seeds or more on both sides).
    pub se: Option<f64>,
    /// The paired one, over the seeds both completed (two or more).
    pub paired_se: Option<f64>,
    /// Whether every planned seed of both completed.
    pub complete: bool,
}

impl Comparison {
    /// `arm` against `against` (both planned over `seeds` seeds).
    pub fn new(arm: &ArmSummary, against: &ArmSummary, seeds: usize) -> Self {
        let difference = arm.mean.zip(against.mean).map(|(a, b)| a - b);
        let se = match (arm.std, against.std) {
            (Some(a), Some(b)) => Some((a * a / arm.n as f64 + b * b / against.n as f64).sqrt()),
            _ => None,
        };
        let differences: Vec<f64> = arm
            .runs
            .iter()
            .filter_map(|r| {
                let other = against.runs.iter().find(|o| o.seed == r.seed)?;
                Some(r.test_acc? - other.test_acc?)
            })
            .collect();
        let paired_se = match mean_std(&differences) {
            Some((_, Some(std))) => Some(std / (differences.len() as f64).sqrt()),
            _ => None,
        };
        Self {
            arm: arm.arm.name.clone(),
            against: against.arm.name.clone(),
            mean: arm.mean,
            n: arm.n,
            against_mean: against.mean,
            against_n: against.n,
            difference,
            se,
            paired_se,
            complete: arm.n == seeds && against.n == seeds,
        }
    }

    /// The difference in paired standard errors (infinite when every seed's difference is the
    /// same, non-zero one).
    pub fn standard_errors(&self) -> Option<f64> {
        let (d, se) = self.difference.zip(self.paired_se)?;
        (se > 0.0 || d != 0.0).then(|| d / se)
    }

    /// Whether the arm is ahead by at least `margin` points and [`STANDARD_ERRORS`] paired
    /// standard errors.
    pub fn ahead_by(&self, margin: f64) -> bool {
        match (self.difference, self.paired_se) {
            (Some(d), Some(se)) => d >= margin && d >= STANDARD_ERRORS * se && d > 0.0,
            _ => false,
        }
    }

    fn cells(&self) -> String {
        let mean = |m: Option<f64>, n: usize| match m {
            Some(m) => format!("{m:.2} (n = {n})"),
            None => "—".into(),
        };
        let points = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
        let z = self.standard_errors().map_or("—".into(), |z| {
            if z.is_finite() {
                format!("{z:+.1}")
            } else {
                format!("{}∞", if z > 0.0 { "+" } else { "−" })
            }
        });
        format!(
            "{} | {} | {} | {} | {} | {z}",
            mean(self.mean, self.n),
            mean(self.against_mean, self.against_n),
            self.difference.map_or("—".into(), |d| format!("{d:+.2}")),
            points(self.se),
            points(self.paired_se),
        )
    }
}

/// The regime check at one subset size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegimeCheck {
    /// Images per class (`None`: the full set).
    pub per_class: Option<usize>,
    /// The best hand-crafted arm against no augmentation.
    pub comparison: Comparison,
    /// Whether augmentation matters there.
    pub verdict: Verdict,
}

/// One served arm of the default variant against the best hand-crafted arm of its size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarCheck {
    /// Images per class.
    pub per_class: Option<usize>,
    /// The served arm against the best hand-crafted one.
    pub comparison: Comparison,
    /// The bilevel arm whose models it served.
    pub learned: String,
    /// Collapsed models of that arm, of those published.
    pub collapsed: Option<(usize, usize)>,
    /// The verdict.
    pub verdict: Verdict,
}

fn sets(arm: &ArmSummary, key: &str, value: &str) -> bool {
    let wanted = toml_string(value);
    arm.arm
        .settings
        .iter()
        .any(|s| s.key == key && s.value == wanted)
}

/// Plain arms on every image of a size, in `mode`.
fn plain_arms<'a>(
    arms: &'a [ArmSummary],
    per_class: Option<usize>,
    mode: &'a str,
) -> impl Iterator<Item = &'a ArmSummary> {
    arms.iter().filter(move |a| {
        a.arm.role == Role::Plain
            && a.arm.split == Split::All
            && a.arm.per_class == per_class
            && sets(a, "augment.mode", mode)
    })
}

/// The hand-crafted arm on every image of the size with the highest mean (none when no such
/// arm has a result).
pub fn best_handcrafted(arms: &[ArmSummary], per_class: Option<usize>) -> Option<&ArmSummary> {
    plain_arms(arms, per_class, "handcrafted")
        .filter(|a| a.mean.is_some())
        .max_by(|a, b| a.mean.unwrap_or(0.0).total_cmp(&b.mean.unwrap_or(0.0)))
}

/// The control of the bar at a size: of the plain arms on every image of the size (no
/// augmentation, the hand-crafted policies and the prior controls, `prior:<kind>`), the one
/// with the highest mean (none when no such arm has a result).
pub fn best_control(arms: &[ArmSummary], per_class: Option<usize>) -> Option<&ArmSummary> {
    arms.iter()
        .filter(|a| {
            a.arm.role == Role::Plain
                && a.arm.split == Split::All
                && a.arm.per_class == per_class
                && a.mean.is_some()
                && a.arm.settings.iter().any(|s| {
                    s.key == "augment.mode"
                        && (s.value == toml_string("none")
                            || s.value == toml_string("handcrafted")
                            || s.value.starts_with("\"prior:"))
                })
        })
        .max_by(|a, b| a.mean.unwrap_or(0.0).total_cmp(&b.mean.unwrap_or(0.0)))
}

/// The subset sizes of the arms, in order of first appearance.
pub fn sizes(arms: &[ArmSummary]) -> Vec<Option<usize>> {
    let mut sizes = Vec::new();
    for a in arms {
        if !sizes.contains(&a.arm.per_class) {
            sizes.push(a.arm.per_class);
        }
    }
    sizes
}

/// The regime check at `per_class` (none without a result for both arms).
pub fn regime_check(
    arms: &[ArmSummary],
    per_class: Option<usize>,
    seeds: usize,
) -> Option<RegimeCheck> {
    let best = best_handcrafted(arms, per_class)?;
    let none = plain_arms(arms, per_class, "none").find(|a| a.mean.is_some())?;
    let comparison = Comparison::new(best, none, seeds);
    let verdict = if !comparison.complete {
        Verdict::Incomplete
    } else if comparison.ahead_by(REGIME_MARGIN) {
        Verdict::Reached
    } else {
        Verdict::NotReached
    };
    Some(RegimeCheck {
        per_class,
        comparison,
        verdict,
    })
}

/// The bar checks at `per_class` of every served arm whose model came from a bilevel arm of
/// `variant`.
pub fn bar_checks(
    arms: &[ArmSummary],
    per_class: Option<usize>,
    variant: &str,
    seeds: usize,
) -> Vec<BarCheck> {
    let Some(base) = best_control(arms, per_class) else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    for served in arms.iter().filter(|a| a.arm.per_class == per_class) {
        let Role::Served { from } = &served.arm.role else {
            continue;
        };
        let Some(learned) = arms.iter().find(|a| &a.arm.name == from) else {
            continue;
        };
        if !sets(learned, "augment.variant", variant) {
            continue;
        }
        let comparison = Comparison::new(served, base, seeds);
        let published_all = learned
            .collapsed
            .is_some_and(|(_, published)| published == seeds);
        let verdict = if !comparison.complete || !published_all {
            Verdict::Incomplete
        } else if comparison.ahead_by(0.0) && learned.collapsed.is_some_and(|(c, _)| c == 0) {
            Verdict::Reached
        } else {
            Verdict::NotReached
        };
        checks.push(BarCheck {
            per_class,
            comparison,
            learned: learned.arm.name.clone(),
            collapsed: learned.collapsed,
            verdict,
        });
    }
    checks
}

const COMPARISON_HEADER: &str = "mean (%) | against (%) | difference | unpaired SE | \
                                 paired SE | difference / paired SE";

/// The "Regime" and "Bar" sections of the report.
pub fn bar_section(arms: &[ArmSummary], variant: &str, seeds: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Regime: does augmentation matter here?\n");
    let _ = writeln!(
        out,
        "At each subset size, the best hand-crafted arm against no augmentation: it should be \
         ahead by at least {REGIME_MARGIN} point and by {STANDARD_ERRORS} standard errors of the \
         difference. The verdict uses the paired SE (the std of the per-seed differences over \
         √n: every arm of a seed trains on the same subset from the same initial weights, so the \
         subset-to-subset spread cancels); the unpaired √(s₁²/n₁ + s₂²/n₂) is shown beside \
         it.\n"
    );
    let _ = writeln!(
        out,
        "| images per class | best hand-crafted | against | {COMPARISON_HEADER} | matters |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|---:|---:|---:|---|");
    for size in sizes(arms) {
        match regime_check(arms, size, seeds) {
            Some(check) => {
                let c = &check.comparison;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    size_label(size),
                    c.arm,
                    c.against,
                    c.cells(),
                    check.verdict.text()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "| {} | no result yet | | | | | | | | |",
                    size_label(size)
                );
            }
        }
    }
    out.push('\n');
    let _ = writeln!(out, "## Bar\n");
    let _ = writeln!(
        out,
        "With the default augmenter variant (`{variant}`), each served arm against the best \
         control of its subset size (no augmentation, a hand-crafted policy or the prior \
         control, nothing learned): reached when it is ahead by {STANDARD_ERRORS} paired \
         standard errors of the difference over all {seeds} seeds, with none of the models it \
         served collapsed. The last numeric column says by how many paired standard errors it \
         is ahead (+) or behind (−).\n"
    );
    let checks: Vec<BarCheck> = sizes(arms)
        .into_iter()
        .flat_map(|size| bar_checks(arms, size, variant, seeds))
        .collect();
    if checks.is_empty() {
        let _ = writeln!(
            out,
            "No served arm of the `{variant}` variant with a hand-crafted arm of its size has a \
             result yet.\n"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "| images per class | served arm | best control | {COMPARISON_HEADER} | \
         collapsed models | bar |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for check in &checks {
        let c = &check.comparison;
        let collapsed = match check.collapsed {
            Some((k, n)) => format!("{k} of {n}"),
            None => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {collapsed} | {} |",
            size_label(check.per_class),
            c.arm,
            c.against,
            c.cells(),
            check.verdict.text()
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::quality::results::{RunResult, Served};
    use crate::quality::test_support::{arm, run};

    fn summary(name: &str, accuracies: &[Option<f64>], collapsed: &[bool]) -> ArmSummary {
        let runs: Vec<RunResult> = accuracies
            .iter()
            .enumerate()
            .map(|(seed, acc)| {
                let mut r = run(seed as u64, *acc);
                if let Some(&c) = collapsed.get(seed) {
                    r.served = Some(Served {
                        draws: 4096,
                        collapsed: c,
                        params: Vec::new(),
                    });
                }
                r
            })
            .collect();
        ArmSummary::new(arm(name), Some(200), runs)
    }

    fn s(values: [f64; 3]) -> [Option<f64>; 3] {
        values.map(Some)
    }

    /// Size 20: none 70/71/72, crop+flip 73/74/75 (+3.0), TrivialAugment 72/73/74.
    fn arms(served: [Option<f64>; 3], collapsed: [bool; 3]) -> Vec<ArmSummary> {
        vec![
            summary("none@20", &s([70.0, 71.0, 72.0]), &[]),
            summary("crop+flip@20", &s([73.0, 74.0, 75.0]), &[]),
            summary("trivialaugment@20", &s([72.0, 73.0, 74.0]), &[]),
            summary("none@50", &s([90.0, 90.0, 90.0]), &[]),
            summary("bilevel-affine_color-narrow@20", &s([1.0; 3]), &collapsed),
            summary("served-affine_color-narrow@20", &served, &[]),
            summary(
                "bilevel-affine_color-reference@20",
                &s([1.0; 3]),
                &[false; 3],
            ),
            summary("served-affine_color-reference@20", &s([99.0; 3]), &[]),
        ]
    }

    #[test]
    fn standard_errors_of_a_difference() {
        let a = summary("crop+flip@20", &s([73.0, 74.0, 75.0]), &[]);
        let b = summary("none@20", &s([70.0, 71.5, 72.5]), &[]);
        let c = Comparison::new(&a, &b, 3);
        assert!((c.difference.unwrap() - 8.0 / 3.0).abs() < 1e-9);
        // s² = 1 and 19/12: √(1/3 + 19/36).
        let se = (1.0f64 / 3.0 + 19.0 / 36.0).sqrt();
        assert!((c.se.unwrap() - se).abs() < 1e-9);
        // Differences 3, 2.5, 2.5: std 0.2887, over √3.
        let paired = (1.0f64 / 12.0).sqrt() / 3f64.sqrt();
        assert!((c.paired_se.unwrap() - paired).abs() < 1e-9);
        assert!((c.standard_errors().unwrap() - 8.0 / 3.0 / paired).abs() < 1e-9);
        assert!(c.complete && c.ahead_by(1.0) && !c.ahead_by(3.0));
        // A margin far inside the unpaired SE but outside the paired one is ahead: the seeds'
        // subsets move both arms together.
        let a = summary("crop+flip@20", &s([71.0, 74.2, 77.0]), &[]);
        let b = summary("none@20", &s([70.0, 73.0, 76.0]), &[]);
        let c = Comparison::new(&a, &b, 3);
        assert!(c.se.unwrap() > 2.0 && c.paired_se.unwrap() < 0.1, "{c:?}");
        assert!(c.ahead_by(1.0));
        // The same differences spread wider are not.
        let a = summary("crop+flip@20", &s([70.0, 75.0, 77.6]), &[]);
        assert!(!Comparison::new(&a, &b, 3).ahead_by(1.0));
    }

    #[test]
    fn the_regime_check_takes_the_best_hand_crafted_arm_of_the_size() {
        let arms = arms([None; 3], [false; 3]);
        assert_eq!(sizes(&arms), [Some(20), Some(50)]);
        let check = regime_check(&arms, Some(20), 3).unwrap();
        assert_eq!(check.comparison.arm, "crop+flip@20");
        assert_eq!(check.comparison.against, "none@20");
        // +3.0 points at every seed: unpaired SE √(2/3) = 0.82, paired SE 0.
        assert_eq!(check.verdict, Verdict::Reached);
        assert!(
            regime_check(&arms, Some(50), 3).is_none(),
            "no hand-crafted arm at 50"
        );
        let mut close = arms.clone();
        close[1] = summary("crop+flip@20", &s([70.5, 72.5, 72.0]), &[]);
        close[2] = summary("trivialaugment@20", &s([60.0; 3]), &[]);
        let check = regime_check(&close, Some(20), 3).unwrap();
        assert_eq!(check.verdict, Verdict::NotReached, "+0.67 points");
        let section = bar_section(&arms, "narrow", 3);
        assert!(
            section.contains(
                "| 20 | crop+flip@20 | none@20 | 74.00 (n = 3) | 71.00 (n = 3) | +3.00 | 0.82 | \
                 0.00 | +∞ | **reached** |"
            ),
            "{section}"
        );
        assert!(section.contains("| 50 | no result yet |"), "{section}");
    }

    #[test]
    fn the_bar_needs_two_standard_errors_and_no_collapsed_model() {
        let verdict = |served, collapsed| {
            let arms = arms(served, collapsed);
            let checks = bar_checks(&arms, Some(20), "narrow", 3);
            assert_eq!(checks.len(), 1, "only the default variant's served arm");
            assert_eq!(checks[0].learned, "bilevel-affine_color-narrow@20");
            assert_eq!(checks[0].comparison.against, "crop+flip@20");
            checks[0].verdict
        };
        assert_eq!(verdict(s([76.0, 77.0, 78.0]), [false; 3]), Verdict::Reached);
        assert_eq!(
            verdict(s([74.0, 76.0, 75.0]), [false; 3]),
            Verdict::NotReached,
            "ahead by 1 point, 1.7 paired SE only"
        );
        assert_eq!(
            verdict(s([90.0, 91.0, 92.0]), [false, true, false]),
            Verdict::NotReached,
            "a collapsed model fails the bar whatever the accuracy"
        );
        assert_eq!(
            verdict([Some(90.0), Some(90.0), None], [false; 3]),
            Verdict::Incomplete
        );
        // The prior control counts among the controls: ahead of crop + flip, it is the bar.
        let mut with_prior = arms(s([76.0, 77.0, 78.0]), [false; 3]);
        with_prior.push(summary(
            "prior-affine_color@20",
            &s([76.5, 77.5, 78.5]),
            &[],
        ));
        let checks = bar_checks(&with_prior, Some(20), "narrow", 3);
        assert_eq!(checks[0].comparison.against, "prior-affine_color@20");
        assert_eq!(checks[0].verdict, Verdict::NotReached, "0.5 points behind");
        assert_eq!(
            best_handcrafted(&with_prior, Some(20)).unwrap().arm.name,
            "crop+flip@20",
            "the regime check still compares hand-crafted augmentation with none"
        );
        let section = bar_section(&arms(s([72.0, 73.0, 74.0]), [false; 3]), "narrow", 3);
        assert!(
            section.contains(
                "| 20 | served-affine_color-narrow@20 | crop+flip@20 | 73.00 (n = 3) | 74.00 (n = \
                 3) | -1.00 | 0.82 | 0.00 | −∞ | 0 of 3 | **not reached** |"
            ),
            "{section}"
        );
    }
}
