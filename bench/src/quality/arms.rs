//! The arms of the quality protocol, as tables of data per budget ([`SMALL_ARMS`],
//! [`CPU_2000_ARMS`]): adding an arm is one entry, adding an augmenter variant is a
//! `--variants` value. A template whose name holds `{S}` is expanded for every subset size of
//! the protocol, one holding `{V}` for every variant and one holding `{K}` for every learned
//! kind; then the selected arms are crossed with the seeds into runs, each `served` run after
//! the `bilevel` run of the same seed whose model it serves.
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::protocol::{size_label, toml_float, training_images, Budget, Protocol, Setting};

/// The augmenter variants the `cpu-2000` budget compares by default (the `{V}` of a
/// template; `--variants`).
pub const DEFAULT_VARIANTS: [&str; 3] = ["reference", "spread", "narrow"];
/// The augmenter variants the `small` and `gpu` budgets compare by default: the broad prior
/// with its regulariser (issue 15) and the identity start (issue 13's default).
pub const SMALL_VARIANTS: [&str; 2] = ["broad", "narrow"];
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

/// The arm table of the `small` budget, expanded over its subset sizes (`{S}`): no
/// augmentation, the hand-crafted policies a user would pick today, and the learned arms.
/// TrivialAugment and RandAugment go on top of crop + flip, as their papers run them.
pub const SMALL_ARMS: &[ArmTemplate] = &[
    ArmTemplate {
        name: "none@{S}",
        split: Split::All,
        augmentation: "none",
        role: RoleTemplate::Plain,
        settings: &[("augment.mode", "none"), ("augment.baseline", "none")],
        literals: &[],
    },
    ArmTemplate {
        name: "crop+flip@{S}",
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
        name: "crop+flip+erasing@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + random erasing",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "handcrafted"),
            ("augment.baseline", "crop+flip+erasing"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "trivialaugment@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + TrivialAugmentWide",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "handcrafted"),
            ("augment.baseline", "crop+flip+trivialaugment"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "randaugment@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9)",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "handcrafted"),
            ("augment.baseline", "crop+flip+randaugment"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "prior-{K}@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + random draws from the broad prior q₀ \
                       of {K}, nothing learned",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "prior:{K}"),
            ("augment.baseline", "crop+flip"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "bilevel-{K}-{V}@{S}",
        split: Split::WithValidation,
        augmentation: "hand-crafted crop (pad 2) + flip + learned {K} ({V}), bilevel",
        role: RoleTemplate::Learned,
        settings: &[
            ("augment.mode", "{K}"),
            ("augment.baseline", "crop+flip"),
            ("augment.variant", "{V}"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "served-{K}-{V}@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + served bilevel-{K}-{V}@{S} model, frozen",
        role: RoleTemplate::Served {
            from: "bilevel-{K}-{V}@{S}",
        },
        settings: &[
            ("augment.mode", "served"),
            ("augment.baseline", "crop+flip"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    // The learned transform with nothing pulling it toward its start (β = 0): where does the
    // hypergradient alone take it?
    ArmTemplate {
        name: "bilevel-{K}-{V}-no-kl@{S}",
        split: Split::WithValidation,
        augmentation: "hand-crafted crop (pad 2) + flip + learned {K} ({V}), bilevel, β = 0",
        role: RoleTemplate::Learned,
        settings: &[
            ("augment.mode", "{K}"),
            ("augment.baseline", "crop+flip"),
            ("augment.variant", "{V}"),
        ],
        literals: &[("augment.crop_padding", "2"), ("augment.prior_kl", "0.0")],
    },
    ArmTemplate {
        name: "served-{K}-{V}-no-kl@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + served bilevel-{K}-{V}-no-kl@{S} \
                       model, frozen",
        role: RoleTemplate::Served {
            from: "bilevel-{K}-{V}-no-kl@{S}",
        },
        settings: &[
            ("augment.mode", "served"),
            ("augment.baseline", "crop+flip"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    // The learned transform on top of the regime's best hand-crafted policy (RandAugment on
    // crop + flip), against the prior's draws on the same base: does learning add to the best
    // a user picks today?
    ArmTemplate {
        name: "prior-{K}-on-randaugment@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9) + random \
                       draws from the broad prior q₀ of {K}, nothing learned",
        role: RoleTemplate::Plain,
        settings: &[
            ("augment.mode", "prior:{K}"),
            ("augment.baseline", "crop+flip+randaugment"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "bilevel-{K}-{V}-on-randaugment@{S}",
        split: Split::WithValidation,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9) + learned {K} \
                       ({V}), bilevel",
        role: RoleTemplate::Learned,
        settings: &[
            ("augment.mode", "{K}"),
            ("augment.baseline", "crop+flip+randaugment"),
            ("augment.variant", "{V}"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    ArmTemplate {
        name: "served-{K}-{V}-on-randaugment@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9) + served \
                       bilevel-{K}-{V}-on-randaugment@{S} model, frozen",
        role: RoleTemplate::Served {
            from: "bilevel-{K}-{V}-on-randaugment@{S}",
        },
        settings: &[
            ("augment.mode", "served"),
            ("augment.baseline", "crop+flip+randaugment"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
    // The same with TeachAugment's adversarial term (α = 1, fixed beforehand, not tuned: the
    // weight at which the term is the sum of the target's and the teacher's losses).
    ArmTemplate {
        name: "bilevel-{K}-{V}-teach-on-randaugment@{S}",
        split: Split::WithValidation,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9) + learned {K} \
                       ({V}), bilevel + TeachAugment's adversarial term (α 1)",
        role: RoleTemplate::Learned,
        settings: &[
            ("augment.mode", "{K}"),
            ("augment.baseline", "crop+flip+randaugment"),
            ("augment.variant", "{V}"),
        ],
        literals: &[
            ("augment.crop_padding", "2"),
            ("augment.adversarial", "1.0"),
        ],
    },
    ArmTemplate {
        name: "served-{K}-{V}-teach-on-randaugment@{S}",
        split: Split::All,
        augmentation: "hand-crafted crop (pad 2) + flip + RandAugment (N 2, M 9) + served \
                       bilevel-{K}-{V}-teach-on-randaugment@{S} model, frozen",
        role: RoleTemplate::Served {
            from: "bilevel-{K}-{V}-teach-on-randaugment@{S}",
        },
        settings: &[
            ("augment.mode", "served"),
            ("augment.baseline", "crop+flip+randaugment"),
        ],
        literals: &[("augment.crop_padding", "2")],
    },
];

/// The augmenter optimizer of a variant's bilevel arms, where it differs from the protocol's
/// (`augment.lr` 0.2, momentum 0.9, weight decay 0.01, as the method publishes): `broad` has
/// no weight decay (its regulariser is the KL toward q₀).
pub const VARIANT_OPTIMIZERS: &[(&str, &[(&str, &str)])] =
    &[("broad", &[("augment.weight_decay", "0.0")])];

/// The keys [`VARIANT_OPTIMIZERS`] sets for `variant`.
pub fn variant_optimizer(variant: &str) -> &'static [(&'static str, &'static str)] {
    VARIANT_OPTIMIZERS
        .iter()
        .find(|(name, _)| *name == variant)
        .map_or(&[], |(_, keys)| keys)
}

/// The arm table of the `cpu-2000` budget (issue 6's protocol, one subset size; the names
/// count its images) and of the `gpu` budget.
pub const CPU_2000_ARMS: &[ArmTemplate] = &[
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
    /// Its name (`bilevel-affine_color-reference@20`).
    pub name: String,
    /// Its training images.
    pub split: Split,
    /// Its class-balanced subset, images per class (`None`: the full training set).
    pub per_class: Option<usize>,
    /// The augmentation, in words.
    pub augmentation: String,
    /// What its runs are.
    pub role: Role,
    /// Epochs of each of its runs.
    pub epochs: u64,
    /// The keys it sets in every run (subset, split, length and its own).
    pub settings: Vec<Setting>,
}

fn fill(text: &str, kind: &str, variant: &str, size: &str) -> String {
    text.replace("{K}", kind)
        .replace("{V}", variant)
        .replace("{S}", size)
}

/// The arm table of a budget.
pub fn table(budget: Budget) -> &'static [ArmTemplate] {
    match budget {
        Budget::Small | Budget::Gpu => SMALL_ARMS,
        Budget::Cpu2000 => CPU_2000_ARMS,
    }
}

/// The variants a budget compares unless `--variants` says otherwise.
pub fn default_variants(budget: Budget) -> &'static [&'static str] {
    match budget {
        Budget::Small | Budget::Gpu => &SMALL_VARIANTS,
        Budget::Cpu2000 => &DEFAULT_VARIANTS,
    }
}

/// Every arm of `table` for `protocol`: templates expanded over its subset sizes (outer, only
/// for templates whose name holds `{S}`; the others take the first size), then `variants` and
/// the protocol's learned kinds.
pub fn expand(table: &[ArmTemplate], variants: &[String], protocol: &Protocol) -> Vec<Arm> {
    let mut arms = Vec::new();
    for (index, &per_class) in protocol.sizes.iter().enumerate() {
        for template in table {
            if index > 0 && !template.name.contains("{S}") {
                continue;
            }
            let size = size_label(per_class);
            let variants: Vec<&str> = if template.name.contains("{V}") {
                variants.iter().map(String::as_str).collect()
            } else {
                vec![""]
            };
            let kinds: Vec<&str> = if template.name.contains("{K}") {
                protocol.kinds.iter().map(String::as_str).collect()
            } else {
                vec![""]
            };
            for variant in &variants {
                for kind in &kinds {
                    let images = training_images(per_class, template.split.val_ratio());
                    let mut settings = Vec::new();
                    if let Some(n) = per_class {
                        settings.push(Setting::literal("data.per_class", n.to_string()));
                    }
                    settings.push(Setting::literal(
                        "data.val_ratio",
                        toml_float(template.split.val_ratio()),
                    ));
                    settings.extend(protocol.length_settings(images));
                    settings.extend(template.settings.iter().map(|(key, value)| {
                        Setting::string(key, &fill(value, kind, variant, &size))
                    }));
                    settings.extend(
                        template
                            .literals
                            .iter()
                            .map(|(key, value)| Setting::literal(key, *value)),
                    );
                    if template.role == RoleTemplate::Learned {
                        settings.extend(
                            variant_optimizer(variant)
                                .iter()
                                .map(|(key, value)| Setting::literal(key, *value)),
                        );
                    }
                    arms.push(Arm {
                        name: fill(template.name, kind, variant, &size),
                        split: template.split,
                        per_class,
                        augmentation: fill(template.augmentation, kind, variant, &size),
                        role: match template.role {
                            RoleTemplate::Plain => Role::Plain,
                            RoleTemplate::Learned => Role::Learned,
                            RoleTemplate::Served { from } => Role::Served {
                                from: fill(from, kind, variant, &size),
                            },
                        },
                        epochs: protocol.epochs_for(images),
                        settings,
                    });
                }
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
    /// Its epochs (its arm's).
    pub epochs: u64,
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
                epochs: arm.epochs,
            });
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::quality::protocol::{Length, LEARNED_KINDS};

    fn names(arms: &[Arm]) -> Vec<&str> {
        arms.iter().map(|a| a.name.as_str()).collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn cpu_2000(variants: &[&str]) -> Vec<Arm> {
        expand(
            CPU_2000_ARMS,
            &strings(variants),
            &Budget::Cpu2000.protocol(),
        )
    }

    #[test]
    fn templates_expand_over_variants_and_kinds() {
        let all = cpu_2000(&DEFAULT_VARIANTS);
        assert_eq!(all.len(), 4 + 4 * DEFAULT_VARIANTS.len());
        let arms = cpu_2000(&["reference", "spread"]);
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
                "data.per_class=200",
                "data.val_ratio=0.2",
                "epochs=60",
                "classifier.schedule={ kind = \"step\", milestones = [18, 36, 48], factor = 0.2 }",
                "output.test_every=60",
                "augment.mode=\"affine_color\"",
                "augment.baseline=\"none\"",
                "augment.variant=\"reference\"",
            ]
        );
        assert_eq!(bilevel.role, Role::Learned);
        assert_eq!((bilevel.per_class, bilevel.epochs), (Some(200), 60));
        assert_eq!(
            arms[9].role,
            Role::Served {
                from: "bilevel-affine_color-reference".into()
            }
        );
        assert_eq!(arms[9].settings[1].assignment(), "data.val_ratio=0.0");
        let one = cpu_2000(&["wide"]);
        assert_eq!(one.len(), 8);
        assert_eq!(one[4].name, "bilevel-small_affine-wide");
    }

    #[test]
    fn the_small_budget_expands_over_sizes_with_epochs_from_its_step_budget() {
        let mut protocol = Budget::Small.protocol();
        protocol.length = Length::Steps(2000);
        let budget = expand(SMALL_ARMS, &strings(&["broad", "narrow"]), &protocol);
        assert_eq!(
            names(&budget[5..10]),
            [
                "prior-affine_color@20",
                "bilevel-affine_color-broad@20",
                "bilevel-affine_color-narrow@20",
                "served-affine_color-broad@20",
                "served-affine_color-narrow@20",
            ],
            "the budget's one learned kind, two variants"
        );
        // Only broad's bilevel arm drops the augmenter's weight decay; every learned and
        // served arm keeps crop + flip underneath.
        let no_decay = Setting::literal("augment.weight_decay", "0.0");
        assert!(budget[6].settings.contains(&no_decay));
        assert!(!budget[7].settings.contains(&no_decay));
        assert!(!budget[8].settings.contains(&no_decay));
        for arm in &budget[5..10] {
            assert!(
                arm.settings
                    .contains(&Setting::string("augment.baseline", "crop+flip")),
                "{}",
                arm.name
            );
        }
        assert!(budget[5]
            .settings
            .contains(&Setting::string("augment.mode", "prior:affine_color")));
        assert_eq!(budget[5].role, Role::Plain);
        protocol.kinds = LEARNED_KINDS.map(String::from).to_vec();
        let arms = expand(SMALL_ARMS, &strings(&["narrow"]), &protocol);
        // Per size: 5 hand-crafted-or-none arms, then per kind a prior, a bilevel and a served
        // arm on crop + flip, the bilevel and served arms without the KL, the first three on
        // RandAugment, and a bilevel and a served arm with the adversarial term on RandAugment.
        assert_eq!(arms.len(), 2 * (5 + 10 * 2));
        assert_eq!(
            names(&arms[..11]),
            [
                "none@20",
                "crop+flip@20",
                "crop+flip+erasing@20",
                "trivialaugment@20",
                "randaugment@20",
                "prior-small_affine@20",
                "prior-affine_color@20",
                "bilevel-small_affine-narrow@20",
                "bilevel-affine_color-narrow@20",
                "served-small_affine-narrow@20",
                "served-affine_color-narrow@20",
            ]
        );
        assert_eq!(
            arms[20].name,
            "served-affine_color-narrow-on-randaugment@20"
        );
        assert_eq!(arms[14].name, "served-affine_color-narrow-no-kl@20");
        assert_eq!(
            arms[24].name,
            "served-affine_color-narrow-teach-on-randaugment@20"
        );
        assert!(arms[22]
            .settings
            .contains(&Setting::literal("augment.adversarial", "1.0")));
        assert_eq!(arms[25].name, "none@50");
        // 200 images: 7 steps an epoch; the bilevel arm's 160: 5.
        assert_eq!((arms[0].per_class, arms[0].epochs), (Some(20), 286));
        assert_eq!(arms[8].epochs, 400);
        assert_eq!(
            arms[10].role,
            Role::Served {
                from: "bilevel-affine_color-narrow@20".into()
            }
        );
        let ta = &arms[3];
        assert!(ta.settings.contains(&Setting::string(
            "augment.baseline",
            "crop+flip+trivialaugment"
        )));
        assert!(ta.settings.contains(&Setting::literal("epochs", "286")));
        assert_eq!(arms[25].epochs, 125, "500 images: 16 steps an epoch");
        assert!(arms[18].settings.contains(&Setting::string(
            "augment.baseline",
            "crop+flip+randaugment"
        )));
        assert_eq!(table(Budget::Gpu).len(), SMALL_ARMS.len());
        assert_eq!(default_variants(Budget::Small), ["broad", "narrow"]);
    }

    #[test]
    fn selection_takes_prefixes_and_the_served_models_arms() {
        let arms = cpu_2000(&["reference", "spread"]);
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
        let arms = cpu_2000(&["reference"]);
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
