//! The bar, checked on the results: with the default augmenter variant, does each
//! served arm reach the best hand-crafted arm trained on every image, and is none of the
//! models it served collapsed? The verdict is computed, never asserted: an arm with missing
//! seeds gives "incomplete", not a guess.
use std::fmt::Write as _;

use serde::Serialize;

use super::arms::{Role, Split};
use super::protocol::toml_string;
use super::summary::ArmSummary;

/// What the numbers say about one served arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every seed completed, the mean reaches the baseline's and no served model collapsed.
    Reached,
    /// Every seed completed and the mean is below the baseline's or a model collapsed.
    NotReached,
    /// A seed of the served arm, its bilevel arm or the baseline is missing.
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

/// One served arm of the default variant against the best hand-crafted baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarCheck {
    /// The served arm.
    pub served: String,
    /// Its mean final test accuracy (%).
    pub served_mean: Option<f64>,
    /// Completed seeds of the served arm.
    pub served_n: usize,
    /// The bilevel arm whose models it served.
    pub learned: String,
    /// Collapsed models of that arm, of those published.
    pub collapsed: Option<(usize, usize)>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The baseline: the hand-crafted arm trained on every image with the highest mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// Its name.
    pub name: String,
    /// Its mean final test accuracy (%).
    pub mean: f64,
    /// Whether every seed completed.
    pub complete: bool,
}

/// The best hand-crafted arm on every image (none when no such arm has a result).
pub fn baseline(arms: &[ArmSummary], seeds: usize) -> Option<Baseline> {
    arms.iter()
        .filter(|a| {
            a.arm.role == Role::Plain
                && a.arm.split == Split::All
                && a.arm
                    .settings
                    .iter()
                    .any(|s| s.key == "augment.mode" && s.value == toml_string("handcrafted"))
        })
        .filter_map(|a| {
            a.mean.map(|mean| Baseline {
                name: a.arm.name.clone(),
                mean,
                complete: a.n == seeds,
            })
        })
        .max_by(|a, b| a.mean.total_cmp(&b.mean))
}

/// The checks against `base` of every served arm whose model came from a bilevel arm of
/// `variant`.
pub fn bar_checks(
    arms: &[ArmSummary],
    base: &Baseline,
    variant: &str,
    seeds: usize,
) -> Vec<BarCheck> {
    let wanted = toml_string(variant);
    let mut checks = Vec::new();
    for served in arms {
        let Role::Served { from } = &served.arm.role else {
            continue;
        };
        let Some(learned) = arms.iter().find(|a| &a.arm.name == from) else {
            continue;
        };
        let of_variant = learned
            .arm
            .settings
            .iter()
            .any(|s| s.key == "augment.variant" && s.value == wanted);
        if !of_variant {
            continue;
        }
        let complete = served.n == seeds
            && learned
                .collapsed
                .is_some_and(|(_, published)| published == seeds)
            && base.complete;
        let verdict = match served.mean {
            Some(mean) if complete => {
                let none_collapsed = learned.collapsed.is_some_and(|(c, _)| c == 0);
                if mean >= base.mean && none_collapsed {
                    Verdict::Reached
                } else {
                    Verdict::NotReached
                }
            }
            _ => Verdict::Incomplete,
        };
        checks.push(BarCheck {
            served: served.arm.name.clone(),
            served_mean: served.mean,
            served_n: served.n,
            learned: learned.arm.name.clone(),
            collapsed: learned.collapsed,
            verdict,
        });
    }
    checks
}

/// The "Bar" section of the report.
pub fn bar_section(arms: &[ArmSummary], variant: &str, seeds: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Bar\n");
    let _ = writeln!(
        out,
        "With the default augmenter variant (`{variant}`), each served arm should reach the best \
         hand-crafted arm trained on every image, over all {seeds} seeds, with none of the \
         models it served collapsed.\n"
    );
    let Some(base) = baseline(arms, seeds) else {
        let _ = writeln!(
            out,
            "No hand-crafted arm on every image has a result yet.\n"
        );
        return out;
    };
    let checks = bar_checks(arms, &base, variant, seeds);
    if checks.is_empty() {
        let _ = writeln!(
            out,
            "No served arm of the `{variant}` variant was run (`--variants`).\n"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "| served arm | test accuracy (%) | best hand-crafted, `{}` (%) | collapsed models | bar |",
        base.name
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    for c in &checks {
        let mean = match c.served_mean {
            Some(m) => format!("{m:.2} (n = {})", c.served_n),
            None => "—".into(),
        };
        let collapsed = match c.collapsed {
            Some((k, n)) => format!("{k} of {n}"),
            None => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {mean} | {:.2} | {collapsed} | {} |",
            c.served,
            base.mean,
            c.verdict.text()
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
        ArmSummary::new(arm(name), Some(2000), runs)
    }

    fn arms(served: [Option<f64>; 3], collapsed: [bool; 3]) -> Vec<ArmSummary> {
        let all = [Some(83.0), Some(83.5), Some(84.0)];
        vec![
            summary("handcrafted-1600", &[Some(90.0); 3], &[]),
            summary("handcrafted-2000", &all, &[]),
            summary("none-2000", &[Some(95.0); 3], &[]),
            summary("bilevel-affine_color-narrow", &all, &collapsed),
            summary("served-affine_color-narrow", &served, &[]),
            summary("bilevel-affine_color-spread", &all, &[false; 3]),
            summary("served-affine_color-spread", &[Some(99.0); 3], &[]),
        ]
    }

    #[test]
    fn the_baseline_is_the_best_hand_crafted_arm_on_every_image() {
        let b = baseline(&arms([None; 3], [false; 3]), 3).unwrap();
        assert_eq!(
            b.name, "handcrafted-2000",
            "not the 1,600 one, nor no augmentation"
        );
        assert!((b.mean - 83.5).abs() < 1e-9 && b.complete);
    }

    #[test]
    fn the_verdict_follows_the_numbers() {
        let verdict = |served, collapsed| {
            let arms = arms(served, collapsed);
            let base = baseline(&arms, 3).unwrap();
            let checks = bar_checks(&arms, &base, "narrow", 3);
            assert_eq!(checks.len(), 1, "only the default variant's served arm");
            assert_eq!(checks[0].learned, "bilevel-affine_color-narrow");
            checks[0].verdict
        };
        let s = |v: f64| Some(v);
        assert_eq!(verdict([s(83.5); 3], [false; 3]), Verdict::Reached);
        assert_eq!(
            verdict([s(83.5), s(83.5), s(83.4)], [false; 3]),
            Verdict::NotReached
        );
        assert_eq!(
            verdict([s(90.0); 3], [false, true, false]),
            Verdict::NotReached,
            "a collapsed model fails the bar whatever the accuracy"
        );
        assert_eq!(
            verdict([s(90.0), s(90.0), None], [false; 3]),
            Verdict::Incomplete
        );
        let section = bar_section(&arms([s(84.0); 3], [false; 3]), "narrow", 3);
        assert!(
            section.contains(
                "| served-affine_color-narrow | 84.00 (n = 3) | 83.50 | 0 of 3 | **reached** |"
            ),
            "{section}"
        );
    }
}
