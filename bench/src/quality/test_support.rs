//! Fixed arms, runs and a report for the rendering tests (no dataset, no augmentd binary).
#![allow(clippy::unwrap_used)]
use std::path::PathBuf;

use super::arms::{expand, Arm, CPU_2000_ARMS, DEFAULT_VARIANTS, SMALL_ARMS};
use super::meta::Meta;
use super::protocol::Budget;
use super::report::Report;
use super::results::{ParamStat, RunResult, RunStatus, Served};
use super::summary::ArmSummary;

/// The arm of that name from the default table.
pub fn arm(name: &str) -> Arm {
    let variants: Vec<String> = DEFAULT_VARIANTS.iter().map(|v| v.to_string()).collect();
    let cpu = expand(CPU_2000_ARMS, &variants, &Budget::Cpu2000.protocol());
    let small = expand(SMALL_ARMS, &variants, &Budget::Small.protocol());
    cpu.into_iter()
        .chain(small)
        .find(|a| a.name == name)
        .unwrap()
}

/// A complete run with that accuracy, or a missing one.
pub fn run(seed: u64, test_acc: Option<f64>) -> RunResult {
    let dir = PathBuf::from(format!("/runs/a/seed-{seed}"));
    RunResult {
        seed,
        status: if test_acc.is_some() {
            RunStatus::Complete
        } else {
            RunStatus::Missing
        },
        test_acc,
        epochs_done: if test_acc.is_some() { 60 } else { 0 },
        seconds: if test_acc.is_some() { 100.0 } else { 0.0 },
        wall_seconds: None,
        process_seconds: if test_acc.is_some() { 120.0 } else { 0.0 },
        core_seconds: if test_acc.is_some() { 120.0 } else { 0.0 },
        seconds_per_image: if test_acc.is_some() { 0.05 } else { 0.0 },
        served: None,
        log: dir.join("quality.log"),
        dir,
    }
}

/// Three arms: one complete, one bilevel arm with a failed and an unfinished seed, and a
/// served arm with nothing.
pub fn fixed_summaries() -> Vec<ArmSummary> {
    let none = ArmSummary::new(
        arm("none-1600"),
        Some(1600),
        vec![run(0, Some(82.0)), run(1, Some(83.0)), run(2, Some(84.0))],
    );
    let mut bilevel_runs = vec![run(0, Some(75.0)), run(1, None), run(2, None)];
    bilevel_runs[0].served = Some(Served {
        params: vec![
            ParamStat {
                name: "a11".into(),
                mean: 1.0,
                std: 0.2,
            },
            ParamStat {
                name: "tx".into(),
                mean: 0.0,
                std: 0.0,
            },
        ],
        draws: 4096,
        collapsed: false,
    });
    bilevel_runs[1].dir = PathBuf::from("/runs/b/seed-1");
    bilevel_runs[1].log = PathBuf::from("/runs/b/seed-1/quality.log");
    bilevel_runs[1].status = RunStatus::Failed {
        reason: "augmentd train exit status: 1".into(),
    };
    bilevel_runs[2].status = RunStatus::Incomplete;
    bilevel_runs[2].epochs_done = 7;
    let bilevel = ArmSummary::new(
        arm("bilevel-affine_color-reference"),
        Some(1600),
        bilevel_runs,
    );
    let mut served_runs = vec![run(0, None), run(1, None), run(2, None)];
    served_runs[1].status = RunStatus::Skipped {
        reason: "bilevel-affine_color-reference seed 1 did not succeed".into(),
    };
    let served = ArmSummary::new(
        arm("served-affine_color-reference"),
        Some(2000),
        served_runs,
    );
    vec![none, bilevel, served]
}

/// A report over [`fixed_summaries`].
pub fn fixed_report() -> Report {
    let protocol = Budget::Cpu2000.protocol();
    Report {
        meta: Meta {
            command: "cargo run --release -p augmentd-bench --bin quality -- --budget cpu".into(),
            budget: "cpu".into(),
            date: "2026-11-29 10:00 UTC".into(),
            cores: 2,
            commit: "abc1234".into(),
            wall_seconds: 3_725.0,
            jobs: 1,
            trained: true,
        },
        shared_settings: protocol.shared_settings(),
        protocol,
        seeds: vec![0, 1, 2],
        variants: vec!["reference".into()],
        default_variant: "reference".into(),
        extra_settings: Vec::new(),
        arms: fixed_summaries(),
        figure: "quality.svg".into(),
        pilot: Some("Pilot text.".into()),
    }
}
