//! Benchmark `make quality`: the quality protocol. Trains every arm (no augmentation, the
//! hand-crafted policies — crop + flip, random erasing, TrivialAugment, RandAugment —,
//! bilevel-learned `small_affine` / `affine_color` per variant, and each learned model served
//! to a fresh classifier) at every subset size and seed by running the release `augmentd
//! train` as child processes, then writes `docs/quality.md` (results table, regime and bar
//! checks, cost, pilot, per-arm details), `docs/quality.svg` (the figure) and
//! `docs/quality.json` (raw results).
//!
//! Runs live in `target/quality/<budget>/<arm>/seed-<n>/`; augmentd resumes a run directory,
//! so a stopped `make quality` continues where it stopped. The modules are in
//! `augmentd_bench::quality`.
//!
//! Usage: `quality [--budget small|cpu-2000|gpu] [--steps N | --epochs N] [--seeds 0,1,2]
//! [--per-class N,…|all] [--batch-size N] [--lr X] [--arch A] [--device D] [--arms NAMES]
//! [--variants V,…] [--data DIR] [--jobs N] [--runs-dir DIR] [--out FILE.md]
//! [--augmentd PATH] [--render-only] [--set KEY=VALUE]… [--test-every N]` (see `--help`).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use augmentd::nn::AugmenterVariant;
use augmentd_bench::quality::arms::{default_variants, expand, plan, select, table};
use augmentd_bench::quality::meta::{cores, git_commit, utc_timestamp, Meta};
use augmentd_bench::quality::protocol::{
    settings_toml, training_images_of, Budget, Length, Setting,
};
use augmentd_bench::quality::report::{render_markdown, results_table, Report};
use augmentd_bench::quality::results::{read_run, RunStatus};
use augmentd_bench::quality::runner::{Execution, Launcher, Outcome};
use augmentd_bench::quality::summary::ArmSummary;
use augmentd_bench::quality::svg::render_svg;
use clap::Parser;

/// Runs the quality protocol and writes its report.
#[derive(Parser, Debug)]
#[command(
    name = "quality",
    about = "Run the quality protocol and write its report"
)]
struct Options {
    /// The budget: small (20 and 50 images per class, small-cnn, a fixed step budget, CPU:
    /// where augmentation matters), cpu-2000 (issue 6's: 200 images per class, 60 epochs) or
    /// gpu (the full training set, resnet18-cifar, CUDA). Every knob below overrides it.
    #[arg(long, value_enum, default_value_t = Budget::Small)]
    budget: Budget,
    /// Epochs of every run (milestones scale with them) [budget: cpu-2000 and gpu 60].
    #[arg(long, conflicts_with = "steps")]
    epochs: Option<u64>,
    /// SGD steps of every run, turned into whole epochs per arm [budget: small 2000].
    #[arg(long)]
    steps: Option<u64>,
    /// Seeds, comma-separated [budget: small 0,1,2,3,4; others 0,1,2].
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Training images per class, comma-separated subset sizes, or `all` for the full set
    /// [budget: small 20,50; cpu-2000 200; gpu all].
    #[arg(long, value_name = "N,…|all", value_delimiter = ',')]
    per_class: Vec<String>,
    /// Batch size of every run [budget: small 32, others 128].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Classifier learning rate before the milestones [budget: small 0.05, others 0.1].
    #[arg(long)]
    lr: Option<f64>,
    /// Classifier architecture [budget: small and cpu-2000 small-cnn, gpu resnet18-cifar].
    #[arg(long)]
    arch: Option<String>,
    /// Device of every run [budget: gpu cuda, others cpu].
    #[arg(long)]
    device: Option<String>,
    /// Learned augmenter kinds of the bilevel and served arms [budget: small affine_color,
    /// others small_affine,affine_color].
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Arms to run, comma-separated names or name prefixes (`none,bilevel-affine_color`);
    /// a served arm brings its bilevel arm. Default: all.
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Augmenter variants (`augment.variant`) of the bilevel and served arms [budget: small
    /// and gpu narrow,reference; cpu-2000 reference,spread,narrow].
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
    /// The Fashion-MNIST IDX directory [default: /usr/share/datasets/fashion-mnist].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Runs at once; each gets OMP_NUM_THREADS = max(1, cores / jobs).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: u64,
    /// Where the run directories go [default: target/quality/<budget>].
    #[arg(long)]
    runs_dir: Option<PathBuf>,
    /// The Markdown report; the figure (.svg) and raw results (.json) go beside it.
    #[arg(long, default_value = "docs/quality.md")]
    out: PathBuf,
    /// The augmentd binary.
    #[arg(long, default_value = "target/release/augmentd")]
    augmentd: PathBuf,
    /// Train nothing: render the report from the run directories as they are.
    #[arg(long)]
    render_only: bool,
    /// Set a key on every run, after the protocol's and the arm's (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// `output.test_every` of every run [default: its epochs: the test set once, at the end].
    #[arg(long)]
    test_every: Option<u64>,
}

/// The command line as a shell would take it back.
fn shell_words(args: impl IntoIterator<Item = String>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    args.into_iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(plain) {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `path` relative to `base` when it is under it (else as it is).
fn relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// The arguments with the values of `--runs-dir` and `--augmentd` that are absolute paths
/// replaced by a placeholder: the report names no path of the machine it ran on.
fn without_machine_paths(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in args {
        let placeholder = |flag: &str| format!("<{}>", flag.trim_start_matches('-'));
        match out.last().map(String::as_str) {
            Some(flag @ ("--runs-dir" | "--augmentd" | "--out")) if arg.starts_with('/') => {
                let p = placeholder(flag);
                out.push(p);
            }
            _ => match arg.split_once('=') {
                Some((flag @ ("--runs-dir" | "--augmentd" | "--out"), value))
                    if value.starts_with('/') =>
                {
                    out.push(format!("{flag}={}", placeholder(flag)));
                }
                _ => out.push(arg),
            },
        }
    }
    out
}

/// How the budget's protocol was chosen: Markdown written from its pilot runs.
fn pilot(budget: Budget) -> Option<&'static str> {
    match budget {
        Budget::Small => Some(include_str!("../../pilot/small.md")),
        Budget::Cpu2000 | Budget::Gpu => None,
    }
}

fn parse_set(text: &str) -> Result<Setting> {
    let (key, value) = text
        .split_once('=')
        .with_context(|| format!("--set {text}: write key=value"))?;
    Ok(Setting::literal(key.trim(), value.trim()))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn run() -> Result<bool> {
    let started = Instant::now();
    let options = Options::parse();
    let mut protocol = options.budget.protocol();
    if let Some(epochs) = options.epochs {
        protocol.length = Length::Epochs(epochs);
    }
    if let Some(steps) = options.steps {
        protocol.length = Length::Steps(steps);
    }
    if !options.per_class.is_empty() {
        protocol.sizes = options
            .per_class
            .iter()
            .map(|n| match n.trim() {
                "all" => Ok(None),
                n => n
                    .parse()
                    .map(Some)
                    .with_context(|| format!("--per-class {n}: a number or `all`")),
            })
            .collect::<Result<_>>()?;
    }
    if let Some(batch_size) = options.batch_size {
        protocol.batch_size = batch_size;
    }
    if let Some(lr) = options.lr {
        protocol.lr = lr;
    }
    if let Some(arch) = &options.arch {
        protocol.arch = arch.clone();
    }
    if let Some(device) = &options.device {
        protocol.device = device.clone();
    }
    if let Some(data) = &options.data {
        protocol.data = data.clone();
    }
    protocol.test_every = options.test_every;
    if !options.kinds.is_empty() {
        protocol.kinds = options.kinds.clone();
    }
    let variants: Vec<String> = if options.variants.is_empty() {
        default_variants(options.budget)
            .iter()
            .map(|v| v.to_string())
            .collect()
    } else {
        options.variants.clone()
    };
    let seeds: Vec<u64> = if options.seeds.is_empty() {
        options.budget.default_seeds().to_vec()
    } else {
        options.seeds.clone()
    };

    let runs_dir = options
        .runs_dir
        .clone()
        .unwrap_or_else(|| Path::new("target/quality").join(protocol.budget.name()));
    let shared = protocol.shared_settings();
    let arms = select(
        expand(table(options.budget), &variants, &protocol),
        &options.arms,
    )
    .map_err(anyhow::Error::msg)?;
    let runs = plan(&arms, &seeds, &runs_dir);
    let extra = options
        .sets
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    let jobs = options.jobs as usize;

    let executions: Vec<Option<Execution>> = if options.render_only {
        vec![None; runs.len()]
    } else {
        if !options.augmentd.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release -p augmentd --bin augmentd` \
                 (`make quality` does)",
                options.augmentd.display()
            );
        }
        if !protocol.data.exists() {
            bail!(
                "{} does not exist: install Debian's dataset-fashion-mnist or give --data",
                protocol.data.display()
            );
        }
        let config_file = runs_dir.join("protocol.toml");
        let comment = format!(
            "The configuration every run of the quality protocol shares (budget {}),\n\
             written by the quality harness; each run adds its keys with --set.",
            protocol.budget
        );
        write_file(&config_file, &settings_toml(&shared, &comment))?;
        let threads = (cores() / jobs).max(1);
        println!(
            "quality: {} runs ({} arms × {} seeds) in {}, {jobs} at once, {threads} thread(s) each",
            runs.len(),
            arms.len(),
            seeds.len(),
            runs_dir.display()
        );
        let launcher = Launcher {
            augmentd: options.augmentd.clone(),
            config_file,
            extra: extra.clone(),
            jobs,
            threads,
        };
        launcher
            .run_all(&arms, &runs)
            .into_iter()
            .map(Some)
            .collect()
    };

    let mut failures = 0;
    let mut summaries = Vec::new();
    for (index, arm) in arms.iter().enumerate() {
        let mut results = Vec::new();
        for (run, execution) in runs.iter().zip(&executions).filter(|(r, _)| r.arm == index) {
            let mut result = read_run(&run.dir, run.seed, run.epochs);
            // The report names runs relative to the runs directory, no path of this machine.
            result.dir = relative(&run.dir, &runs_dir);
            result.log = relative(&result.log, &runs_dir);
            if let Some(execution) = execution {
                result.wall_seconds = execution.wall_seconds;
                let status = match &execution.outcome {
                    Outcome::Succeeded => None,
                    Outcome::Failed(reason) => Some(RunStatus::Failed {
                        reason: reason.clone(),
                    }),
                    Outcome::Skipped(reason) => Some(RunStatus::Skipped {
                        reason: reason.clone(),
                    }),
                };
                if let Some(status) = status {
                    failures += 1;
                    result.status = status;
                    result.test_acc = None;
                }
            }
            results.push(result);
        }
        let images = training_images_of(&[&shared, &arm.settings, &extra]);
        summaries.push(ArmSummary::new(arm.clone(), images, results));
    }

    let svg_path = options.out.with_extension("svg");
    let json_path = options.out.with_extension("json");
    let figure = svg_path
        .file_name()
        .map_or("quality.svg".into(), |n| n.to_string_lossy().into_owned());
    let command = format!(
        "cargo run --release -p augmentd-bench --bin quality -- {}",
        shell_words(without_machine_paths(std::env::args().skip(1)))
    );
    let report = Report {
        meta: Meta {
            command: command.trim_end().to_string(),
            budget: protocol.budget.name().into(),
            date: utc_timestamp(),
            cores: cores(),
            commit: git_commit(),
            wall_seconds: started.elapsed().as_secs_f64(),
            jobs,
            trained: !options.render_only,
        },
        protocol: protocol.clone(),
        seeds: seeds.clone(),
        variants: variants.clone(),
        default_variant: AugmenterVariant::default().name().into(),
        shared_settings: shared,
        extra_settings: extra,
        arms: summaries,
        figure,
        pilot: pilot(options.budget).map(String::from),
    };
    let title = format!(
        "Fashion-MNIST, budget {}: final test accuracy per arm",
        protocol.budget
    );
    write_file(&options.out, &render_markdown(&report))?;
    write_file(&svg_path, &render_svg(&report.arms, &title))?;
    let json = serde_json::to_string_pretty(&report).context("cannot serialize the results")?;
    write_file(&json_path, &format!("{json}\n"))?;

    println!("\n{}", results_table(&report.arms, report.seeds.len()));
    println!(
        "report: {} (figure {}, raw results {})",
        options.out.display(),
        svg_path.display(),
        json_path.display()
    );
    if failures > 0 {
        eprintln!("quality: {failures} run(s) failed or were skipped; see the logs above");
    }
    Ok(failures == 0)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_consistent_and_default_to_the_cpu_budget() {
        Options::command().debug_assert();
        let options = Options::try_parse_from(["quality"]).unwrap();
        assert_eq!(options.budget, Budget::Small);
        assert!(options.seeds.is_empty(), "the budget's");
        assert!(options.variants.is_empty(), "the budget's");
        let old = Options::try_parse_from(["quality", "--budget", "cpu"]).unwrap();
        assert_eq!(old.budget, Budget::Cpu2000, "the old name still works");
        let sizes = Options::try_parse_from(["quality", "--per-class", "20,all"]).unwrap();
        assert_eq!(sizes.per_class, ["20", "all"]);
        assert!(Options::try_parse_from(["quality", "--epochs", "3", "--steps", "9"]).is_err());
        assert_eq!(options.out, Path::new("docs/quality.md"));
        let options = Options::try_parse_from([
            "quality",
            "--budget",
            "gpu",
            "--seeds",
            "4,5",
            "--arms",
            "none,served",
            "--set",
            "a.b=1",
            "--set",
            "c=x",
        ])
        .unwrap();
        assert_eq!((options.budget, options.seeds), (Budget::Gpu, vec![4, 5]));
        assert_eq!(options.arms, ["none", "served"]);
        assert_eq!(options.sets, ["a.b=1", "c=x"]);
        assert!(Options::try_parse_from(["quality", "--jobs", "0"]).is_err());
    }

    #[test]
    fn sets_and_the_command_line_round_trip() {
        assert_eq!(
            parse_set(" classifier.lr = 0.05").unwrap(),
            Setting::literal("classifier.lr", "0.05")
        );
        assert!(parse_set("classifier.lr").is_err());
        let words = [
            "--set",
            "augment.baseline=crop+flip",
            "--out",
            "my docs/q.md",
            "it's",
        ];
        assert_eq!(
            shell_words(words.map(String::from)),
            r"--set augment.baseline=crop+flip --out 'my docs/q.md' 'it'\''s'"
        );
        let args = [
            "--runs-dir",
            "/work/runs",
            "--augmentd=/opt/a",
            "--out",
            "/tmp/q.md",
        ];
        assert_eq!(
            without_machine_paths(args.map(String::from)),
            [
                "--runs-dir",
                "<runs-dir>",
                "--augmentd=<augmentd>",
                "--out",
                "<out>"
            ]
        );
        let kept = ["--runs-dir", "target/q"];
        assert_eq!(without_machine_paths(kept.map(String::from)), kept);
        assert_eq!(
            relative(Path::new("/r/none@20/seed-0"), Path::new("/r")),
            Path::new("none@20/seed-0")
        );
    }
}
