//! Benchmark `make quality`: the quality protocol of issue 6. Trains every arm (no
//! augmentation, hand-crafted crop + flip, bilevel-learned `small_affine` / `affine_color` per
//! variant, and each learned model served to a fresh classifier) at every seed by running the
//! release `augmentd train` as child processes, then writes `docs/quality.md` (results table,
//! per-arm details), `docs/quality.svg` (the figure) and `docs/quality.json` (raw results).
//!
//! Runs live in `target/quality/<budget>/<arm>/seed-<n>/`; augmentd resumes a run directory,
//! so a stopped `make quality` continues where it stopped. The modules are in
//! `augmentd_bench::quality`.
//!
//! Usage: `quality [--budget cpu|gpu] [--epochs N] [--seeds 0,1,2] [--per-class N|all]
//! [--arch A] [--device D] [--arms NAMES] [--variants V,…] [--data DIR] [--jobs N]
//! [--runs-dir DIR] [--out FILE.md] [--augmentd PATH] [--render-only] [--set KEY=VALUE]…
//! [--test-every N]` (see `--help`).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use augmentd::nn::AugmenterVariant;
use augmentd_bench::quality::arms::{expand, plan, select, ARMS, DEFAULT_VARIANTS};
use augmentd_bench::quality::meta::{cores, git_commit, utc_timestamp, Meta};
use augmentd_bench::quality::protocol::{settings_toml, training_images_of, Budget, Setting};
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
    about = "Run the quality protocol (issue 6) and write its report"
)]
struct Options {
    /// The budget: cpu (200 images per class, small-cnn, CPU) or gpu (the full training set,
    /// resnet18-cifar, CUDA). Every knob below overrides it.
    #[arg(long, value_enum, default_value_t = Budget::Cpu)]
    budget: Budget,
    /// Epochs of every run (milestones scale with them) [budget: 60].
    #[arg(long)]
    epochs: Option<u64>,
    /// Seeds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Training images per class, or `all` for the full set [budget: cpu 200, gpu all].
    #[arg(long, value_name = "N|all")]
    per_class: Option<String>,
    /// Classifier architecture [budget: cpu small-cnn, gpu resnet18-cifar].
    #[arg(long)]
    arch: Option<String>,
    /// Device of every run [budget: cpu cpu, gpu cuda].
    #[arg(long)]
    device: Option<String>,
    /// Arms to run, comma-separated names or name prefixes (`none,bilevel-affine_color`);
    /// a served arm brings its bilevel arm. Default: all.
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Augmenter variants (`augment.variant`) of the bilevel and served arms.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_VARIANTS.map(String::from))]
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
    /// `output.test_every` of every run [default: the epochs: the test set once, at the end].
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
        protocol.epochs = epochs;
    }
    if let Some(per_class) = &options.per_class {
        protocol.per_class = match per_class.as_str() {
            "all" => None,
            n => Some(n.parse().context("--per-class: a number or `all`")?),
        };
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
    if options.seeds.is_empty() || options.variants.is_empty() {
        bail!("--seeds and --variants need at least one value each");
    }

    let runs_dir = options
        .runs_dir
        .clone()
        .unwrap_or_else(|| Path::new("target/quality").join(protocol.budget.name()));
    let shared = protocol.shared_settings();
    let arms =
        select(expand(ARMS, &options.variants), &options.arms).map_err(anyhow::Error::msg)?;
    let runs = plan(&arms, &options.seeds, &runs_dir);
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
            options.seeds.len(),
            runs_dir.display()
        );
        let launcher = Launcher {
            augmentd: options.augmentd.clone(),
            config_file,
            extra: extra.clone(),
            jobs,
            threads,
            epochs: protocol.epochs,
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
            let mut result = read_run(&run.dir, run.seed, protocol.epochs);
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
        shell_words(std::env::args().skip(1))
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
        seeds: options.seeds.clone(),
        variants: options.variants.clone(),
        default_variant: AugmenterVariant::default().name().into(),
        shared_settings: shared,
        extra_settings: extra,
        arms: summaries,
        figure,
    };
    let title = format!(
        "Fashion-MNIST, budget {}: final test accuracy per arm",
        protocol.budget
    );
    write_file(&options.out, &render_markdown(&report))?;
    write_file(&svg_path, &render_svg(&report.arms, &title))?;
    let json = serde_json::to_string_pretty(&report).context("cannot serialize the results")?;
    write_file(&json_path, &format!("{json}\n"))?;

    println!(
        "\n{}",
        results_table(&report.arms, report.seeds.len(), protocol.epochs)
    );
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
        assert_eq!(options.budget, Budget::Cpu);
        assert_eq!(options.seeds, [0, 1, 2]);
        assert_eq!(options.variants, ["reference", "spread", "narrow"]);
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
    }
}
