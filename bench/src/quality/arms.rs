//! The arms of the quality protocol, as one table of data ([`ARMS`]): adding an arm is one
//! line, adding an augmenter variant is a `--variants` value. A template whose name holds
//! `{V}` is expanded for every variant and one holding `{K}` for every learned kind; then the
//! selected arms are crossed with the seeds into runs, each `served` run after the `bilevel`
//! run of the same seed whose model it serves.
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::protocol::{toml_float, Setting};

/// The learned augmenters compared (the `{K}` of a template).
pub const LEARNED_KINDS: [&str; 2] = ["small_affine", "affine_color"];
/// The augmenter variants compared by default (the `{V}` of a template; `--variants`).
pub const DEFAULT_VARIANTS: [&str; 3] = ["reference", "spread", "narrow"];
/// Share of each class held out for validation by the arms that have a validation split.
pub const VAL_RATIO: f64 = 0.2;

/// Which images an arm trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// 20 % of each class held out for validation (the bilevel step needs it).
    WithValidation,
    /// Every image for training, no validation split.
    All,
}

impl Split {
    /// The `data.val_ratio` of the split.
    pub fn val_ratio(self) -> f64 {
        match self {
            Self::WithValidation => VAL_RATIO,
            Self::All => 0.0,
        }
    }
}

/// What an arm's runs are, in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleTemplate {
    /// A classifier trained alone (no augmenter).
    Plain,
    /// Classifier and augmenter trained by the bilevel step; publishes a model.
    Learned,
    /// A classifier trained on batches augmented by the model of arm `from` (same seed).
    Served {
        /// The template name of the arm whose model is served.
        from: &'static str,
    },
}

/// What an arm's runs are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Role {
    /// A classifier trained alone.
    Plain,
    /// Bilevel training; the run directory holds a published model.
    Learned,
    /// Trained on batches augmented by the model of arm `from`.
    Served {
        /// The arm whose model is served.
        from: String,
    },
}

/// One line of the arm table.
#[derive(Debug, Clone, Copy)]
pub struct ArmTemplate {
    /// The arm's name; `{K}` and `{V}` stand for the learned kind and the variant.
    pub name: &'static str,
    /// The training images.
    pub split: Split,
    /// The augmentation, in words, for the report.
    pub augmentation: &'static str,
    /// What its runs are.
    pub role: RoleTemplate,
    /// String-valued configuration keys (`{K}`, `{V}` substituted); `data.val_ratio` comes
    /// from `split`, `augment.model` from `role`.
    pub settings: &'static [(&'static str, &'static str)],
    /// Keys whose values are TOML literals (numbers), written as they are.
    pub literals: &'static [(&'static str, &'static str)],
}

/// The arm table of the protocol.
pub const ARMS: &[ArmTemplate] = &[
    ArmTemplate {
        name: "none-1600",
        split: Split::WithValidation,
        augmentation: "none",
        role: RoleTemplate::Plain,
        settings: &[("augment.mode", "none"), ("augment.baseline", "none")],
        literals: &[],
    },
    ArmTemplate {
        name: "handcrafted-1600",
        split: Split::WithValidation,
        augmentation: "hand-crafted crop (pad 2) + flip",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "handcrafted"),
            ("augment.baseline", "crop+flip"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "none-2000",
        split: Split::All,
        augmentation: "none",
        role: RoleTemplate::Plain,
        settings: &[("augment.mode", "none"), ("augment.baseline", "none")],
        literals: &[],
    },
    ArmTemplate {
        name: "handcrafted-2000",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "handcrafted"),
            ("augment.baseline", "crop+flip"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "bilevel-{K}-{V}",
        split: Split::WithValidation,
        augmentation: "learned {K} ({V}), bilevel",
        role: RoleTemplate::Learned,
        settings: &[
            ("augment.mode", "{K}"),
            ("augment.baseline", "none"),
            ("augment.variant", "{V}"),
        ],
        literals: &[],
    },
    ArmTemplate {
        name: "served-{K}-{V}",
        split: Split::All,
        augmentation: "served bilevel-{K}-{V} model, frozen",
        role: RoleTemplate::Served {
            from: "bilevel-{K}-{V}",
        },
        settings: &[("augment.mode", "served"), ("augment.baseline", "none")],
        literals: &[],
    },
];

/// An arm with its placeholders filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    /// Its name (`bilevel-affine_color-reference`).
    pub name: String,
    /// Its training images.
    pub split: Split,
    /// The augmentation, in words.
    pub augmentation: String,
    /// What its runs are.
    pub role: Role,
    /// The keys it sets in every run (`data.val_ratio` included).
    pub settings: Vec<Setting>,
}

fn fill(text: &str, kind: &str, variant: &str) -> String {
    text.replace("{K}", kind).replace("{V}", variant)
}

/// Every arm of `table`, templates expanded over `variants` (outer) and [`LEARNED_KINDS`].
pub fn expand(table: &[ArmTemplate], variants: &[String]) -> Vec<Arm> {
    let mut arms = Vec::new();
    for template in table {
        let variants: Vec<&str> = if template.name.contains("{V}") {
            variants.iter().map(String::as_str).collect()
        } else {
            vec![""]
        };
        let kinds: &[&str] = if template.name.contains("{K}") {
            &LEARNED_KINDS
        } else {
            &[""]
        };
        for variant in &variants {
            for kind in kinds {
                let mut settings = vec![Setting::literal(
                    "data.val_ratio",
                    toml_float(template.split.val_ratio()),
                )];
                settings.extend(
                    template
                        .settings
                        .iter()
                        .map(|(key, value)| Setting::string(key, &fill(value, kind, variant))),
                );
                settings.extend(
                    template
                        .literals
                        .iter()
                        .map(|(key, value)| Setting::literal(key, *value)),
                );
                arms.push(Arm {
                    name: fill(template.name, kind, variant),
                    split: template.split,
                    augmentation: fill(template.augmentation, kind, variant),
                    role: match template.role {
                        RoleTemplate::Plain => Role::Plain,
                        RoleTemplate::Learned => Role::Learned,
                        RoleTemplate::Served { from } => Role::Served {
                            from: fill(from, kind, variant),
                        },
                    },
                    settings,
                });
            }
        }
    }
    arms
}

/// The arms matching `patterns` (a name or the beginning of names each; all when empty) and
/// the arms whose models they serve, in table order.
pub fn select(arms: Vec<Arm>, patterns: &[String]) -> Result<Vec<Arm>, String> {
    if patterns.is_empty() {
        return Ok(arms);
    }
    let mut chosen: Vec<bool> = vec![false; arms.len()];
    for pattern in patterns {
        let mut any = false;
        for (i, arm) in arms.iter().enumerate() {
            if arm.name.starts_with(pattern.as_str()) {
                chosen[i] = true;
                any = true;
            }
        }
        if !any {
            let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
            return Err(format!(
                "no arm is named '{pattern}' or starts with it; the arms are {}",
                names.join(", ")
            ));
        }
    }
    for i in 0..arms.len() {
        if let (true, Role::Served { from }) = (chosen[i], &arms[i].role) {
            let source = arms.iter().position(|a| &a.name == from);
            match source {
                Some(j) => chosen[j] = true,
                None => return Err(format!("arm {} serves unknown arm {from}", arms[i].name)),
            }
        }
    }
    Ok(arms
        .into_iter()
        .zip(chosen)
        .filter_map(|(arm, keep)| keep.then_some(arm))
        .collect())
}

/// One training run: an arm at a seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRun {
    /// Index of its arm.
    pub arm: usize,
    /// The seed.
    pub seed: u64,
    /// Its run directory.
    pub dir: PathBuf,
    /// Its own keys (seed, the arm's, the served model), given with `--set`.
    pub settings: Vec<Setting>,
    /// The run that must succeed first (the bilevel run whose model a served run uses).
    pub after: Option<usize>,
}

/// The run directory of `arm` at `seed`.
pub fn run_dir(runs_dir: &Path, arm: &str, seed: u64) -> PathBuf {
    runs_dir.join(arm).join(format!("seed-{seed}"))
}

/// Every run of `arms` at `seeds`, seed by seed (so that a stopped benchmark has whole seeds),
/// arms in table order within a seed.
pub fn plan(arms: &[Arm], seeds: &[u64], runs_dir: &Path) -> Vec<PlannedRun> {
    let mut runs: Vec<PlannedRun> = Vec::new();
    for &seed in seeds {
        for (index, arm) in arms.iter().enumerate() {
            let mut settings = vec![Setting::literal("seed", seed.to_string())];
            settings.extend(arm.settings.iter().cloned());
            let mut after = None;
            if let Role::Served { from } = &arm.role {
                let model = run_dir(runs_dir, from, seed);
                settings.push(Setting::string(
                    "augment.model",
                    &model.display().to_string(),
                ));
                after = runs
                    .iter()
                    .position(|r| r.seed == seed && arms[r.arm].name == *from);
            }
            runs.push(PlannedRun {
                arm: index,
                seed,
                dir: run_dir(runs_dir, &arm.name, seed),
                settings,
                after,
            });
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(arms: &[Arm]) -> Vec<&str> {
        arms.iter().map(|a| a.name.as_str()).collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn templates_expand_over_variants_and_kinds() {
        let all = expand(ARMS, &strings(&DEFAULT_VARIANTS));
        assert_eq!(all.len(), 4 + 4 * DEFAULT_VARIANTS.len());
        let arms = expand(ARMS, &strings(&["reference", "spread"]));
        assert_eq!(
            names(&arms),
            [
                "none-1600",
                "handcrafted-1600",
                "none-2000",
                "handcrafted-2000",
                "bilevel-small_affine-reference",
                "bilevel-affine_color-reference",
                "bilevel-small_affine-spread",
                "bilevel-affine_color-spread",
                "served-small_affine-reference",
                "served-affine_color-reference",
                "served-small_affine-spread",
                "served-affine_color-spread",
            ]
        );
        let bilevel = &arms[5];
        let assignments: Vec<String> = bilevel.settings.iter().map(|s| s.assignment()).collect();
        assert_eq!(
            assignments,
            [
                "data.val_ratio=0.2",
                "augment.mode=\"affine_color\"",
                "augment.baseline=\"none\"",
                "augment.variant=\"reference\"",
            ]
        );
        assert_eq!(bilevel.role, Role::Learned);
        assert_eq!(
            arms[9].role,
            Role::Served {
                from: "bilevel-affine_color-reference".into()
            }
        );
        assert_eq!(arms[9].settings[0].assignment(), "data.val_ratio=0.0");
        let one = expand(ARMS, &strings(&["wide"]));
        assert_eq!(one.len(), 8);
        assert_eq!(one[4].name, "bilevel-small_affine-wide");
    }

    #[test]
    fn selection_takes_prefixes_and_the_served_models_arms() {
        let arms = expand(ARMS, &strings(&["reference", "spread"]));
        let picked = select(
            arms.clone(),
            &strings(&["none", "served-affine_color-spread"]),
        );
        assert_eq!(
            names(&picked.unwrap()),
            [
                "none-1600",
                "none-2000",
                "bilevel-affine_color-spread",
                "served-affine_color-spread"
            ]
        );
        assert_eq!(select(arms.clone(), &[]).unwrap().len(), 12);
        let err = select(arms, &strings(&["bogus"])).unwrap_err();
        assert!(
            err.contains("'bogus'") && err.contains("none-1600"),
            "{err}"
        );
    }

    #[test]
    fn served_runs_wait_for_their_bilevel_run_of_the_same_seed() {
        let arms = expand(ARMS, &strings(&["reference"]));
        let arms = select(arms, &strings(&["none-1600", "served-affine_color"])).unwrap();
        let runs = plan(&arms, &[0, 1], Path::new("/runs"));
        let shown: Vec<(String, u64, Option<usize>)> = runs
            .iter()
            .map(|r| (arms[r.arm].name.clone(), r.seed, r.after))
            .collect();
        let expected = [
            ("none-1600", 0, None),
            ("bilevel-affine_color-reference", 0, None),
            ("served-affine_color-reference", 0, Some(1)),
            ("none-1600", 1, None),
            ("bilevel-affine_color-reference", 1, None),
            ("served-affine_color-reference", 1, Some(4)),
        ];
        let expected: Vec<(String, u64, Option<usize>)> = expected
            .iter()
            .map(|(n, s, a)| (n.to_string(), *s, *a))
            .collect();
        assert_eq!(shown, expected);
        let served = &runs[5];
        assert_eq!(
            served.dir,
            Path::new("/runs/served-affine_color-reference/seed-1")
        );
        assert_eq!(served.settings[0].assignment(), "seed=1");
        assert_eq!(
            served.settings.last().unwrap().assignment(),
            "augment.model=\"/runs/bilevel-affine_color-reference/seed-1\""
        );
    }
}
