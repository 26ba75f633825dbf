//! Running the planned runs as `augmentd train` child processes: at most `jobs` at once, each
//! with its share of the CPUs (`OMP_NUM_THREADS`), each writing its output to `quality.log` in
//! its run directory, each served run only after the bilevel run it serves has succeeded. A
//! failing run is reported (with the end of its log) and the others go on. Every run is simply
//! invoked again on the next invocation: augmentd resumes a run directory after its last
//! checkpointed epoch, and a complete run returns at once.
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use super::arms::{Arm, PlannedRun};
use super::meta::utc_timestamp;
use super::protocol::Setting;
use super::results::{read_run, RunStatus, LOG_FILE, TIMES_FILE};

/// What happened to a run in this invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `augmentd train` exited with success.
    Succeeded,
    /// It failed (the exit status, or why it could not start).
    Failed(String),
    /// It was not started: the run it needs failed.
    Skipped(String),
}

/// A run's outcome and the wall-clock seconds of its process.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The outcome.
    pub outcome: Outcome,
    /// Seconds from start to exit (none when it did not start).
    pub wall_seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// What to do next, as the [`Scheduler`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Start this run.
    Start(usize),
    /// Do not start this run: the run it needs (the second index) failed or was skipped.
    Skip(usize, usize),
    /// Every startable run is running: wait for one to finish.
    Wait,
    /// Nothing is left to start or wait for.
    Done,
}

/// Which run may start, given which have finished: runs in plan order, each after the run it
/// needs (if any) has succeeded.
#[derive(Debug)]
pub struct Scheduler {
    after: Vec<Option<usize>>,
    state: Vec<State>,
}

impl Scheduler {
    /// A scheduler for runs where run i needs run `after[i]`.
    pub fn new(after: Vec<Option<usize>>) -> Self {
        let state = vec![State::Pending; after.len()];
        Self { after, state }
    }

    /// The next thing to do; a run returned by `Start` is taken as running.
    pub fn next_step(&mut self) -> Next {
        for i in 0..self.state.len() {
            if self.state[i] != State::Pending {
                continue;
            }
            match self.after[i].map(|d| (d, self.state[d])) {
                None | Some((_, State::Succeeded)) => {
                    self.state[i] = State::Running;
                    return Next::Start(i);
                }
                Some((d, State::Failed)) => {
                    self.state[i] = State::Failed;
                    return Next::Skip(i, d);
                }
                Some((_, State::Pending | State::Running)) => {}
            }
        }
        if self.state.contains(&State::Running) {
            Next::Wait
        } else {
            // Only runs waiting on runs that can never start (not in plan order) are left.
            match self.state.iter().position(|s| *s == State::Pending) {
                Some(i) => {
                    self.state[i] = State::Failed;
                    Next::Skip(i, self.after[i].unwrap_or(i))
                }
                None => Next::Done,
            }
        }
    }

    /// Records that run `i` finished.
    pub fn finish(&mut self, i: usize, succeeded: bool) {
        self.state[i] = if succeeded {
            State::Succeeded
        } else {
            State::Failed
        };
    }
}

/// How runs are launched.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The `augmentd` binary.
    pub augmentd: PathBuf,
    /// The protocol's shared configuration (`--config`).
    pub config_file: PathBuf,
    /// Settings given to every run after its own (`--set` of the harness).
    pub extra: Vec<Setting>,
    /// Runs at once.
    pub jobs: usize,
    /// `OMP_NUM_THREADS` of each run.
    pub threads: usize,
}

/// Lines of a failed run's log shown in the terminal.
const LOG_TAIL_LINES: usize = 12;

/// Environment variables of `augmentd train` that would change a run behind the flags.
const CLEARED_ENV: [&str; 4] = [
    "AUGMENTD_PRESET",
    "AUGMENTD_CONFIG",
    "AUGMENTD_RUN_DIR",
    "AUGMENTD_QUIET",
];

impl Launcher {
    fn command(&self, run: &PlannedRun) -> Command {
        let mut command = Command::new(&self.augmentd);
        command.arg("train").arg("--config").arg(&self.config_file);
        for setting in run.settings.iter().chain(&self.extra) {
            command.arg("--set").arg(setting.assignment());
        }
        command.arg("--run-dir").arg(&run.dir).arg("--quiet");
        for name in CLEARED_ENV {
            command.env_remove(name);
        }
        let threads = self.threads.to_string();
        command
            .env("OMP_NUM_THREADS", &threads)
            .env("MKL_NUM_THREADS", &threads)
            // An error's message, not its stack trace, belongs at the end of the log that a
            // failure shows (panics still follow RUST_BACKTRACE).
            .env("RUST_LIB_BACKTRACE", "0");
        command
    }

    fn spawn(&self, run: &PlannedRun) -> std::io::Result<Child> {
        std::fs::create_dir_all(&run.dir)?;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.dir.join(LOG_FILE))?;
        let mut command = self.command(run);
        writeln!(log, "== {} quality harness: {command:?}", utc_timestamp())?;
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        command.spawn()
    }

    /// Runs every planned run; one [`Execution`] per run, in plan order.
    pub fn run_all(&self, arms: &[Arm], runs: &[PlannedRun]) -> Vec<Execution> {
        let total = runs.len();
        let label = |i: usize| format!("{} seed {}", arms[runs[i].arm].name, runs[i].seed);
        let mut executions: Vec<Option<Execution>> = vec![None; total];
        let mut scheduler = Scheduler::new(runs.iter().map(|r| r.after).collect());
        let (sender, receiver) = mpsc::channel::<(usize, std::io::Result<ExitStatus>, f64)>();
        let (mut started, mut running, mut finished) = (0, 0, 0);
        loop {
            while running < self.jobs.max(1) {
                match scheduler.next_step() {
                    // A complete run would only load its data to find nothing to do.
                    Next::Start(i)
                        if read_run(&runs[i].dir, runs[i].seed, runs[i].epochs).status
                            == RunStatus::Complete =>
                    {
                        finished += 1;
                        println!("[{finished}/{total}] complete already: {}", label(i));
                        executions[i] = Some(Execution {
                            outcome: Outcome::Succeeded,
                            wall_seconds: None,
                        });
                        scheduler.finish(i, true);
                    }
                    Next::Start(i) => match self.spawn(&runs[i]) {
                        Ok(mut child) => {
                            started += 1;
                            println!("[{started}/{total}] start {}", label(i));
                            let sender = sender.clone();
                            let start = Instant::now();
                            let waiter = std::thread::Builder::new()
                                .name(format!("quality-wait-{i}"))
                                .spawn(move || {
                                    let status = child.wait();
                                    let seconds = start.elapsed().as_secs_f64();
                                    // The receiver outlives every waiter.
                                    let _ = sender.send((i, status, seconds));
                                });
                            match waiter {
                                Ok(_) => running += 1,
                                Err(e) => {
                                    let reason = format!("cannot wait for augmentd: {e}");
                                    executions[i] = Some(self.failed(&runs[i], &label(i), reason));
                                    scheduler.finish(i, false);
                                    finished += 1;
                                }
                            }
                        }
                        Err(e) => {
                            let reason = format!("cannot start {}: {e}", self.augmentd.display());
                            executions[i] = Some(self.failed(&runs[i], &label(i), reason));
                            scheduler.finish(i, false);
                            finished += 1;
                        }
                    },
                    Next::Skip(i, needed) => {
                        let reason = format!("{} did not succeed", label(needed));
                        println!("skip {}: {reason}", label(i));
                        executions[i] = Some(Execution {
                            outcome: Outcome::Skipped(reason),
                            wall_seconds: None,
                        });
                        finished += 1;
                    }
                    Next::Wait | Next::Done => break,
                }
            }
            if running == 0 {
                break;
            }
            let Ok((i, status, seconds)) = receiver.recv() else {
                break;
            };
            running -= 1;
            finished += 1;
            let succeeded = status.as_ref().is_ok_and(ExitStatus::success);
            if let Err(e) = record_time(&runs[i].dir, seconds, self.threads, succeeded) {
                eprintln!("{}: cannot record its time: {e}", label(i));
            }
            let execution = match status {
                Ok(status) if status.success() => {
                    let result = read_run(&runs[i].dir, runs[i].seed, runs[i].epochs);
                    let accuracy = result
                        .test_acc
                        .map_or("no final test accuracy".into(), |a| {
                            format!("test {a:.2} %")
                        });
                    println!(
                        "done  {} in {seconds:.0} s: {accuracy} ({finished} of {total} finished)",
                        label(i)
                    );
                    Execution {
                        outcome: Outcome::Succeeded,
                        wall_seconds: Some(seconds),
                    }
                }
                Ok(status) => Execution {
                    wall_seconds: Some(seconds),
                    ..self.failed(&runs[i], &label(i), format!("augmentd train {status}"))
                },
                Err(e) => self.failed(&runs[i], &label(i), format!("cannot wait: {e}")),
            };
            scheduler.finish(i, execution.outcome == Outcome::Succeeded);
            executions[i] = Some(execution);
        }
        executions
            .into_iter()
            .map(|e| {
                e.unwrap_or(Execution {
                    outcome: Outcome::Skipped("not run".into()),
                    wall_seconds: None,
                })
            })
            .collect()
    }

    fn failed(&self, run: &PlannedRun, label: &str, reason: String) -> Execution {
        let log = run.dir.join(LOG_FILE);
        eprintln!("FAILED {label}: {reason}; log {}:", log.display());
        for line in log_tail(&log, LOG_TAIL_LINES) {
            eprintln!("  | {line}");
        }
        Execution {
            outcome: Outcome::Failed(reason),
            wall_seconds: None,
        }
    }
}

/// Appends one process's wall time to the run directory's [`TIMES_FILE`], so that the cost of
/// a run adds up over every invocation that worked on it.
pub fn record_time(
    dir: &Path,
    wall_seconds: f64,
    threads: usize,
    success: bool,
) -> std::io::Result<()> {
    let line = serde_json::json!({
        "finished": utc_timestamp(),
        "wall_seconds": wall_seconds,
        "threads": threads,
        "success": success,
    });
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(TIMES_FILE))?;
    writeln!(file, "{line}")
}

/// The last `n` lines of a file (none if it cannot be read).
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_runs_start_after_their_bilevel_run_succeeds() {
        // 0: bilevel, 1: served after 0, 2: plain.
        let mut s = Scheduler::new(vec![None, Some(0), None]);
        assert_eq!(s.next_step(), Next::Start(0));
        assert_eq!(s.next_step(), Next::Start(2), "1 waits for 0");
        assert_eq!(s.next_step(), Next::Wait);
        s.finish(2, true);
        assert_eq!(s.next_step(), Next::Wait);
        s.finish(0, true);
        assert_eq!(s.next_step(), Next::Start(1));
        s.finish(1, true);
        assert_eq!(s.next_step(), Next::Done);
    }

    #[test]
    fn a_failed_bilevel_run_skips_its_served_run_and_nothing_else() {
        let mut s = Scheduler::new(vec![None, Some(0), None, Some(2)]);
        assert_eq!(s.next_step(), Next::Start(0));
        s.finish(0, false);
        assert_eq!(s.next_step(), Next::Skip(1, 0));
        assert_eq!(s.next_step(), Next::Start(2));
        s.finish(2, true);
        assert_eq!(s.next_step(), Next::Start(3));
        s.finish(3, true);
        assert_eq!(s.next_step(), Next::Done);
    }

    #[test]
    fn the_command_line_holds_the_protocol_and_the_run() {
        use crate::quality::protocol::Setting;
        let launcher = Launcher {
            augmentd: "target/release/augmentd".into(),
            config_file: "/runs/protocol.toml".into(),
            extra: vec![Setting::literal("classifier.lr", "0.05")],
            jobs: 2,
            threads: 1,
        };
        let run = PlannedRun {
            arm: 0,
            seed: 3,
            dir: "/runs/none-1600/seed-3".into(),
            settings: vec![Setting::literal("seed", "3")],
            after: None,
            epochs: 60,
        };
        let command = launcher.command(&run);
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "train",
                "--config",
                "/runs/protocol.toml",
                "--set",
                "seed=3",
                "--set",
                "classifier.lr=0.05",
                "--run-dir",
                "/runs/none-1600/seed-3",
                "--quiet"
            ]
        );
        let threads = command
            .get_envs()
            .find(|(k, _)| *k == "OMP_NUM_THREADS")
            .and_then(|(_, v)| v);
        assert_eq!(threads, Some(std::ffi::OsStr::new("1")));
    }
}
