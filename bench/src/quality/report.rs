//! The report: everything known about the arms and their runs ([`Report`], also written as
//! JSON so the Markdown can be checked), rendered as Markdown — provenance, the protocol, the
//! results table, the figure, and a section per arm. Runs that are missing, unfinished or
//! failed are shown as such; no number is ever filled in for them.
use std::fmt::Write;

use serde::Serialize;

use super::arms::Role;
use super::bar::bar_section;
use super::meta::{format_duration, Meta};
use super::protocol::{
    settings_toml, Length, Milestones, Protocol, Setting, CLASSES, STEP_BUDGET_MILESTONES,
};
use super::results::{RunResult, RunStatus};
use super::summary::ArmSummary;

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Where it came from.
    pub meta: Meta,
    /// The protocol's knobs.
    pub protocol: Protocol,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The augmenter variants.
    pub variants: Vec<String>,
    /// The default variant of `augmentd train`, the one the bar is checked for.
    pub default_variant: String,
    /// The configuration every run shares (`protocol.toml`).
    pub shared_settings: Vec<Setting>,
    /// `--set` values given to every run after its own.
    pub extra_settings: Vec<Setting>,
    /// The arms, in table order.
    pub arms: Vec<ArmSummary>,
    /// File name of the figure, beside the Markdown.
    pub figure: String,
    /// How the protocol was chosen (Markdown written from pilot runs), when the budget has
    /// one.
    pub pilot: Option<String>,
}

/// `1,600`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What became of a run, in a few words (its accuracy when it has one).
pub fn run_cell(run: &RunResult, epochs: u64) -> String {
    match (&run.status, run.test_acc) {
        (RunStatus::Complete, Some(acc)) => format!("{acc:.2}"),
        (RunStatus::Complete, None) => "no test accuracy".into(),
        (RunStatus::Incomplete, _) => format!("incomplete ({}/{epochs} epochs)", run.epochs_done),
        (RunStatus::Missing, _) => "missing".into(),
        (RunStatus::Failed { .. }, _) => "failed".into(),
        (RunStatus::Skipped { .. }, _) => "skipped".into(),
        (RunStatus::Unreadable { .. }, _) => "unreadable".into(),
    }
}

/// A served std: three decimals, or two significant digits below the collapse threshold
/// (1e-3), where three decimals would read as zero.
pub fn std_text(std: f64) -> String {
    if std == 0.0 {
        "0".into()
    } else if std.abs() < 1e-3 {
        format!("{std:.1e}")
    } else {
        format!("{std:.3}")
    }
}

fn accuracy_cell(arm: &ArmSummary, seeds: usize) -> String {
    let Some(mean) = arm.mean else {
        return "no complete run".into();
    };
    let spread = arm.std.map_or(String::new(), |s| format!(" ± {s:.2}"));
    let partial = if arm.n < seeds {
        format!(" (n = {})", arm.n)
    } else {
        String::new()
    };
    format!("{mean:.2}{spread}{partial}")
}

/// The results table (Markdown).
pub fn results_table(arms: &[ArmSummary], seeds: usize) -> String {
    let mut t = String::from(
        "| arm | training images | augmentation | test accuracy (%) | per seed | \
         collapsed models | served std range |\n|---|---:|---|---:|---|---:|---|\n",
    );
    for arm in arms {
        let per_seed: Vec<String> = arm
            .runs
            .iter()
            .map(|r| format!("{}: {}", r.seed, run_cell(r, arm.arm.epochs)))
            .collect();
        let learned = arm.arm.role == Role::Learned;
        let collapsed = match arm.collapsed {
            Some((k, n)) => format!("{k} of {n}"),
            None if learned => "no model".into(),
            None => "—".into(),
        };
        let range = match arm.served_std_range {
            Some((lo, hi)) if learned => format!("{}–{}", std_text(lo), std_text(hi)),
            _ if learned => "no model".into(),
            _ => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {collapsed} | {range} |",
            arm.arm.name,
            arm.training_images.map_or("?".into(), thousands),
            arm.arm.augmentation,
            accuracy_cell(arm, seeds),
            per_seed.join(" · ")
        );
    }
    t
}

fn join<T: ToString>(items: &[T], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

fn protocol_section(r: &Report, out: &mut String) {
    let p = &r.protocol;
    let sizes: Vec<String> = p
        .sizes
        .iter()
        .map(|size| match size {
            Some(n) => format!("{n} images per class ({} images)", thousands(n * CLASSES)),
            None => "the full training set".into(),
        })
        .collect();
    let test = match p.test_every {
        Some(k) => format!("every {k} epochs and after the last"),
        None => "after the last epoch only".into(),
    };
    let _ = writeln!(out, "## Protocol\n");
    let _ = writeln!(
        out,
        "- Data: Fashion-MNIST (Debian's `dataset-fashion-mnist`); class-balanced subsets of \
         {}, drawn per seed (every arm of a seed trains on the same subset); test accuracy on \
         all 10,000 test images, evaluated {test}.",
        sizes.join(" and ")
    );
    let length = match p.length {
        Length::Epochs(e) => format!("{e} epochs"),
        Length::Steps(steps) => format!(
            "a budget of {} SGD steps (each arm runs the whole epochs that reach it on its own \
             training images; the table's arm sections give them)",
            thousands(steps as usize)
        ),
    };
    let milestones = match p.milestones {
        Milestones::Reference => "the reference's 60/120/160 of 201 epochs, scaled".to_string(),
        Milestones::Fractions => {
            let percents: Vec<String> = STEP_BUDGET_MILESTONES
                .iter()
                .map(|f| format!("{:.0}", f * 100.0))
                .collect();
            format!("at {} % of the epochs", percents.join("/"))
        }
    };
    let _ = writeln!(
        out,
        "- Classifier `{}`, batch {}, {length}; SGD lr {}, momentum 0.9, weight decay 5e-4, \
         ×0.2 {milestones}; device `{}`.",
        p.arch, p.batch_size, p.lr, p.device
    );
    let _ = writeln!(
        out,
        "- Learned augmenters (`bilevel-K-V…`, kind K of {}, variant V): SGD lr 0.2, momentum \
         0.9, weight decay 0.01 (0 for `broad`, which has its KL toward the prior q₀ instead, \
         β 0.05, and scales its hypergradient by η₀/η), on top of the hand-crafted base its \
         augmentation names (none in the `cpu-2000` budget); `…-teach-…` arms add TeachAugment's adversarial term with α = 1, fixed \
         beforehand. `served-K-V…` trains a fresh classifier by plain SGD on batches augmented \
         by the same base and then the frozen model that `bilevel-K-V…` published for the \
         same seed, as the Augment RPC serves it. `prior-K…` arms apply the base and random \
         draws from `broad`'s prior q₀ with nothing learned: the control that tells whether \
         the hypergradient adds anything.",
        join(&p.kinds, ", ")
    );
    let _ = writeln!(
        out,
        "- `bilevel-*` arms (and `*-1600` ones) hold out 20 % of each class for validation \
         (the bilevel step's validation batches); every other arm trains on every image of \
         its subset. The table gives the real counts."
    );
    let _ = writeln!(
        out,
        "- Hand-crafted policies (`augment.baseline`), applied per image on the loader thread \
         as torchvision's: crop = `RandomCrop(28, padding=2)`, flip = \
         `RandomHorizontalFlip()`, erasing = `RandomErasing(p=0.5, scale=(0.02, 0.33), \
         ratio=(0.3, 3.3), value=0)` after standardization, trivialaugment = \
         `TrivialAugmentWide()`, randaugment = `RandAugment(num_ops=2, magnitude=9)`; \
         TrivialAugment and RandAugment go on top of crop + flip, as their papers run them."
    );
    let _ = writeln!(
        out,
        "- Seeds {}; variants {}; every arm is one run per seed.",
        join(&r.seeds, ", "),
        join(&r.variants, ", ")
    );
    if !r.extra_settings.is_empty() {
        let sets: Vec<String> = r
            .extra_settings
            .iter()
            .map(|s| format!("`{}`", s.assignment()))
            .collect();
        let _ = writeln!(out, "- Set on every run (`--set`): {}.", sets.join(", "));
    }
    let _ = writeln!(
        out,
        "\n<details><summary>The configuration every run shares (<code>protocol.toml</code>, \
         given with <code>--config</code>; each arm adds its keys with <code>--set</code>)\
         </summary>\n\n```toml\n{}```\n\n</details>\n",
        settings_toml(&r.shared_settings, "")
    );
}

fn hours(seconds: f64) -> String {
    format!("{:.2}", seconds / 3600.0)
}

/// The arm's runs with a recorded process time.
fn timed_runs(arm: &ArmSummary) -> usize {
    arm.runs
        .iter()
        .filter(|run| run.process_seconds > 0.0)
        .count()
}

fn cost_section(r: &Report, out: &mut String) {
    let _ = writeln!(out, "## Cost\n");
    let runs: usize = r.arms.iter().map(|a| a.runs.len()).sum();
    let process: f64 = r.arms.iter().map(|a| a.process_seconds).sum();
    let cores: f64 = r.arms.iter().map(|a| a.core_seconds).sum();
    let steps: f64 = r.arms.iter().map(|a| a.step_seconds).sum();
    let timed: usize = r.arms.iter().map(timed_runs).sum();
    if timed == 0 {
        let _ = writeln!(
            out,
            "No run has a recorded process time (`quality-times.jsonl`) yet.\n"
        );
        return;
    }
    let jobs = r.meta.jobs.max(1) as f64;
    let _ = writeln!(
        out,
        "{timed} of {runs} runs have a recorded process time (every `augmentd train` the \
         harness ran for them, over all invocations): {} process-hours, {} core-hours; at \
         {} run(s) at once that is about {} hours of wall time. Of the process time, {:.0} % \
         went to SGD steps (from the records' throughput); the rest is start-up, evaluation, \
         checkpoints and pictures.\n",
        hours(process),
        hours(cores),
        r.meta.jobs,
        hours(process / jobs),
        100.0 * steps / process.max(1e-9)
    );
    let _ = writeln!(
        out,
        "| arm | epochs | timed runs | process minutes per run | core-hours | in SGD steps |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for arm in &r.arms {
        let timed = timed_runs(arm);
        if timed == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {} | {timed} | {:.1} | {} | {:.0} % |",
            arm.arm.name,
            arm.arm.epochs,
            arm.process_seconds / 60.0 / timed as f64,
            hours(arm.core_seconds),
            100.0 * arm.step_seconds / arm.process_seconds.max(1e-9)
        );
    }
    out.push('\n');
}

fn arm_section(arm: &ArmSummary, out: &mut String) {
    let epochs = arm.arm.epochs;
    let _ = writeln!(out, "### {}\n", arm.arm.name);
    let sets: Vec<String> = arm
        .arm
        .settings
        .iter()
        .map(|s| format!("`{}`", s.assignment()))
        .collect();
    let _ = writeln!(out, "Settings: {}.\n", sets.join(", "));
    let _ = writeln!(
        out,
        "| seed | final test accuracy (%) | epochs | training seconds | wall seconds | run \
         directory |\n|---:|---|---:|---:|---:|---|"
    );
    for run in &arm.runs {
        let mut cell = run_cell(run, epochs);
        match &run.status {
            RunStatus::Failed { reason } => {
                let _ = write!(cell, ": {reason} (log `{}`)", run.log.display());
            }
            RunStatus::Skipped { reason } | RunStatus::Unreadable { problem: reason } => {
                let _ = write!(cell, ": {reason}");
            }
            _ => {}
        }
        let _ = writeln!(
            out,
            "| {} | {cell} | {} | {:.0} | {} | `{}` |",
            run.seed,
            run.epochs_done,
            run.seconds,
            run.wall_seconds.map_or("—".into(), |s| format!("{s:.0}")),
            run.dir.display()
        );
    }
    if arm.arm.role == Role::Learned {
        let with_model = arm.collapsed.map_or(0, |(_, n)| n);
        if arm.served_mean.is_empty() {
            let _ = writeln!(out, "\nNo published model with a served distribution yet.");
        } else {
            let _ = writeln!(
                out,
                "\nServed distribution of the published models (`model.json`), averaged over \
                 {with_model} seed(s):\n\n| parameter | mean | std |\n|---|---:|---:|"
            );
            for p in &arm.served_mean {
                let _ = writeln!(out, "| {} | {:.4} | {:.4} |", p.name, p.mean, p.std);
            }
        }
    }
    out.push('\n');
}

/// `abc1234` as code, with any note after it as text.
fn commit_text(commit: &str) -> String {
    match commit.split_once(' ') {
        Some((hash, note)) => format!("`{hash}` {note}"),
        None => format!("`{commit}`"),
    }
}

/// The Markdown report.
pub fn render_markdown(r: &Report) -> String {
    let m = &r.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Augmentation quality on Fashion-MNIST (budget `{}`)\n",
        m.budget
    );
    let trained = if m.trained {
        "this invocation; runs already complete only resume"
    } else {
        "re-rendered from the run directories, nothing trained"
    };
    let _ = writeln!(
        out,
        "_Generated file, do not edit: written by `{}` (`make quality` runs it) on {}. Budget \
         `{}`; machine: {} cores; augmentd commit {}; {} run(s) at once; total wall time {} \
         ({trained})._\n",
        m.command,
        m.date,
        m.budget,
        m.cores,
        commit_text(&m.commit),
        m.jobs,
        format_duration(m.wall_seconds)
    );
    protocol_section(r, &mut out);
    let _ = writeln!(out, "## Results\n");
    out.push_str(&results_table(&r.arms, r.seeds.len()));
    let _ = writeln!(
        out,
        "\nTest accuracy: final test accuracy (the last epoch's), mean over the seeds whose run \
         completed ± the **sample standard deviation** (n − 1 denominator; none for a single \
         run; \"n = k\" when fewer seeds than planned completed). Per seed: each seed's final \
         test accuracy, or what became of the run. Collapsed models: published models whose \
         every served transformation parameter has a std below 1e-3, of those published. \
         Served std range: smallest to largest std of the served parameters over all seeds.\n"
    );
    let _ = writeln!(
        out,
        "![Mean final test accuracy per arm with ± one sample standard deviation and each \
         seed's accuracy]({})\n",
        r.figure
    );
    out.push_str(&bar_section(&r.arms, &r.default_variant, r.seeds.len()));
    cost_section(r, &mut out);
    if let Some(pilot) = &r.pilot {
        let _ = writeln!(out, "## Pilot: how the protocol was chosen\n");
        out.push_str(pilot.trim_end());
        out.push_str("\n\n");
    }
    let _ = writeln!(out, "## Per arm\n");
    for arm in &r.arms {
        arm_section(arm, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::test_support::fixed_report;

    #[test]
    fn numbers_and_cells() {
        assert_eq!(thousands(1600), "1,600");
        assert_eq!(thousands(60_000), "60,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(std_text(0.0002), "2.0e-4");
        assert_eq!(std_text(0.1449), "0.145");
    }

    #[test]
    fn the_markdown_shows_results_and_missing_runs_without_inventing_numbers() {
        let report = fixed_report();
        let md = render_markdown(&report);
        assert!(md.starts_with("# Augmentation quality on Fashion-MNIST (budget `cpu`)"));
        assert!(
            md.contains("`cargo run --release -p augmentd-bench --bin quality -- --budget cpu`")
        );
        assert!(md.contains("2 cores; augmentd commit `abc1234`"), "{md}");
        assert!(
            md.contains("batch 128, 60 epochs; SGD lr 0.1, momentum 0.9, weight decay 5e-4, ×0.2 the reference's"),
            "{md}"
        );
        // Cost: two complete arms' runs carry 120 s each, 1,600 images at 0.05 s per image.
        assert!(
            md.contains("4 of 9 runs have a recorded process time"),
            "{md}"
        );
        // 1,600 images × 0.05 s = 80 s of steps in each 120 s process.
        assert!(
            md.contains("| none-1600 | 60 | 3 | 2.0 | 0.10 | 67 % |"),
            "{md}"
        );
        assert!(
            md.contains("## Pilot: how the protocol was chosen\n\nPilot text.\n"),
            "{md}"
        );
        assert!(md.contains("**sample standard deviation**"));
        assert!(md.contains("![Mean final test accuracy"));
        assert!(md.contains("](quality.svg)"));
        // none-1600: three complete seeds 82, 83, 84 → 83.00 ± 1.00.
        assert!(
            md.contains("| none-1600 | 1,600 | none | 83.00 ± 1.00 | 0: 82.00 · 1: 83.00 · 2: 84.00 | — | — |"),
            "{md}"
        );
        // A bilevel arm with one failed seed and one incomplete one.
        assert!(
            md.contains("| 75.00 (n = 1) | 0: 75.00 · 1: failed · 2: incomplete (7/60 epochs) | 0 of 1 | 0–0.200 |"),
            "{md}"
        );
        assert!(md.contains("augmentd train exit status: 1 (log `/runs/b/seed-1/quality.log`)"));
        // An arm with nothing yet.
        assert!(
            md.contains("| served-affine_color-reference | 2,000 | served bilevel-affine_color-reference model, frozen | no complete run | 0: missing · 1: skipped · 2: missing | — | — |"),
            "{md}"
        );
        assert!(md.contains("| a11 | 1.0000 | 0.2000 |"), "{md}");
        assert!(md.contains("```toml\ndevice = \"cpu\"\n"), "{md}");
    }
}
