//! What one run left in its directory: the epoch records (`records.jsonl`) and, for bilevel
//! runs, the published model's served distribution (`model.json`), read leniently (only the
//! fields the report uses, any of which may be null or absent) so that the harness keeps
//! working while augmentd's records grow.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The records file of a run directory.
pub const RECORDS_FILE: &str = "records.jsonl";
/// The published model's description in a run directory.
pub const MODEL_INFO_FILE: &str = "model.json";

/// The fields of an epoch record the report uses.
#[derive(Debug, Clone, Deserialize)]
struct RecordLine {
    epoch: u64,
    #[serde(default)]
    test_acc: Option<f64>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    images_per_second: Option<f64>,
    #[serde(default)]
    collapsed: Option<bool>,
}

/// A run's records, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordsSummary {
    /// Epochs recorded.
    pub epochs_done: u64,
    /// The last record's epoch (0-based).
    pub last_epoch: Option<u64>,
    /// The last record's test accuracy (%): the final one once the run is complete.
    pub last_test_acc: Option<f64>,
    /// The epochs' seconds added up: training and evaluation time, over every resume.
    pub seconds: f64,
    /// The epochs' seconds per training image (1 / images per second) added up: times the
    /// training images, the time spent in SGD steps.
    pub seconds_per_image: f64,
    /// The last record's collapse flag (learned modes).
    pub last_collapsed: bool,
}

/// Summarises the text of a `records.jsonl` (blank lines skipped).
pub fn parse_records(text: &str) -> Result<RecordsSummary, String> {
    let mut summary = RecordsSummary {
        epochs_done: 0,
        last_epoch: None,
        last_test_acc: None,
        seconds: 0.0,
        seconds_per_image: 0.0,
        last_collapsed: false,
    };
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: RecordLine = serde_json::from_str(line)
            .map_err(|e| format!("{RECORDS_FILE} line {}: {e}", number + 1))?;
        summary.epochs_done += 1;
        summary.last_epoch = Some(record.epoch);
        summary.last_test_acc = record.test_acc;
        summary.seconds += record.seconds.unwrap_or(0.0);
        summary.seconds_per_image += record
            .images_per_second
            .filter(|&ips| ips > 0.0)
            .map_or(0.0, |ips| 1.0 / ips);
        summary.last_collapsed = record.collapsed.unwrap_or(false);
    }
    Ok(summary)
}

/// Mean and standard deviation of one transformation parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamStat {
    /// The parameter (`a11`, `tx`, …, `brightness`).
    pub name: String,
    /// Its mean.
    pub mean: f64,
    /// Its standard deviation.
    pub std: f64,
}

/// The distribution of transformations a published model serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Served {
    /// One entry per transformation parameter.
    pub params: Vec<ParamStat>,
    /// Draws the statistics are over.
    pub draws: usize,
    /// Every parameter's std is below the collapse threshold.
    pub collapsed: bool,
}

#[derive(Deserialize)]
struct ModelInfoLine {
    #[serde(default)]
    served: Option<Served>,
}

/// The served distribution in a `model.json` (`None` for models saved before it was recorded).
pub fn parse_model_info(text: &str) -> Result<Option<Served>, String> {
    serde_json::from_str::<ModelInfoLine>(text)
        .map(|info| info.served)
        .map_err(|e| format!("{MODEL_INFO_FILE}: {e}"))
}

/// How a run stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RunStatus {
    /// Every epoch recorded.
    Complete,
    /// Some epochs recorded, not all.
    Incomplete,
    /// No records.
    Missing,
    /// Its `augmentd train` failed in this invocation.
    Failed {
        /// The exit status, or why it could not start.
        reason: String,
    },
    /// Not started: the run it needs failed.
    Skipped {
        /// Which run.
        reason: String,
    },
    /// Its files could not be read.
    Unreadable {
        /// What was wrong.
        problem: String,
    },
}

/// Everything the report knows about one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The run directory.
    pub dir: PathBuf,
    /// How it stands.
    #[serde(flatten)]
    pub status: RunStatus,
    /// Final test accuracy (%): set only for a complete run that evaluated the test set last.
    pub test_acc: Option<f64>,
    /// Epochs recorded.
    pub epochs_done: u64,
    /// Training and evaluation seconds, summed over the epochs (over every resume).
    pub seconds: f64,
    /// Wall-clock seconds of its `augmentd train` in this invocation (process start to exit).
    pub wall_seconds: Option<f64>,
    /// Its processes' wall-clock seconds over every invocation ([`TIMES_FILE`]).
    pub process_seconds: f64,
    /// Those seconds times each process's threads: the CPU time the run was given.
    pub core_seconds: f64,
    /// The epochs' seconds per training image, added up (see [`RecordsSummary`]).
    pub seconds_per_image: f64,
    /// The published model's served distribution (bilevel runs).
    pub served: Option<Served>,
    /// The log of its `augmentd train` invocations.
    pub log: PathBuf,
}

/// The log each `augmentd train` writes into its run directory.
pub const LOG_FILE: &str = "quality.log";
/// One line per `augmentd train` process the harness ran in the directory: its wall seconds
/// and threads.
pub const TIMES_FILE: &str = "quality-times.jsonl";

#[derive(Deserialize)]
struct TimeLine {
    wall_seconds: f64,
    threads: usize,
}

/// The wall seconds and core seconds of the processes listed in a [`TIMES_FILE`] text
/// (unreadable lines skipped: the file only informs the cost).
pub fn parse_times(text: &str) -> (f64, f64) {
    text.lines()
        .filter_map(|line| serde_json::from_str::<TimeLine>(line).ok())
        .fold((0.0, 0.0), |(wall, cores), t| {
            (
                wall + t.wall_seconds,
                cores + t.wall_seconds * t.threads as f64,
            )
        })
}

/// Reads what the run in `dir` left, for a protocol of `epochs` epochs.
pub fn read_run(dir: &Path, seed: u64, epochs: u64) -> RunResult {
    let mut result = RunResult {
        seed,
        dir: dir.to_path_buf(),
        status: RunStatus::Missing,
        test_acc: None,
        epochs_done: 0,
        seconds: 0.0,
        wall_seconds: None,
        process_seconds: 0.0,
        core_seconds: 0.0,
        seconds_per_image: 0.0,
        served: None,
        log: dir.join(LOG_FILE),
    };
    if let Ok(text) = std::fs::read_to_string(dir.join(TIMES_FILE)) {
        (result.process_seconds, result.core_seconds) = parse_times(&text);
    }
    let records = match std::fs::read_to_string(dir.join(RECORDS_FILE)) {
        Ok(text) => parse_records(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return result,
        Err(e) => Err(format!("{RECORDS_FILE}: {e}")),
    };
    let records = match records {
        Ok(records) => records,
        Err(problem) => {
            result.status = RunStatus::Unreadable { problem };
            return result;
        }
    };
    result.epochs_done = records.epochs_done;
    result.seconds = records.seconds;
    result.seconds_per_image = records.seconds_per_image;
    let complete = records.last_epoch.is_some_and(|e| e + 1 >= epochs);
    result.status = match (complete, records.epochs_done) {
        (true, _) => RunStatus::Complete,
        (false, 0) => RunStatus::Missing,
        (false, _) => RunStatus::Incomplete,
    };
    if complete {
        result.test_acc = records.last_test_acc;
    }
    match std::fs::read_to_string(dir.join(MODEL_INFO_FILE)) {
        Ok(text) => match parse_model_info(&text) {
            Ok(served) => result.served = served,
            Err(problem) => result.status = RunStatus::Unreadable { problem },
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            result.status = RunStatus::Unreadable {
                problem: format!("{MODEL_INFO_FILE}: {e}"),
            }
        }
    }
    if !matches!(result.status, RunStatus::Complete) {
        result.test_acc = None;
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RECORDS: &str = r#"{"epoch":0,"train_loss":2.1,"val_loss":null,"train_acc":40.0,"val_acc":null,"test_acc":null,"lr":0.1,"seconds":1.5,"images_per_second":900.0,"augmenter_grad_norm":null,"transforms":[],"collapsed":false}
{"epoch":1,"train_loss":1.1,"val_loss":null,"train_acc":70.0,"val_acc":null,"test_acc":null,"lr":0.1,"seconds":1.25,"images_per_second":900.0,"augmenter_grad_norm":null,"transforms":[]}

{"epoch":2,"train_loss":0.9,"val_loss":0.8,"train_acc":75.0,"val_acc":74.0,"test_acc":73.5,"lr":0.02,"seconds":2.0,"images_per_second":800.0,"augmenter_grad_norm":0.1,"transforms":[{"name":"tx","mean":0.0,"std":0.1}],"collapsed":true,"new_field":1}
"#;

    #[test]
    fn records_with_null_test_accuracy_early_give_the_last_one() {
        let summary = parse_records(RECORDS).unwrap();
        assert_eq!(summary.epochs_done, 3);
        assert_eq!(summary.last_epoch, Some(2));
        assert_eq!(summary.last_test_acc, Some(73.5));
        assert!((summary.seconds - 4.75).abs() < 1e-12);
        assert!((summary.seconds_per_image - (2.0 / 900.0 + 1.0 / 800.0)).abs() < 1e-12);
        assert!(summary.last_collapsed);
        let first_two: String = RECORDS.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_records(&first_two).unwrap().last_test_acc, None);
        let err = parse_records("{\"epoch\":0}\n{oops").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn model_info_gives_the_served_distribution() {
        let text = r#"{"format":"augmentd-augmenter/1","augmenter":"affine_color","mean":[0.3],
            "std":[0.35],"bound":null,"height":28,"width":28,"epoch":59,
            "served":{"params":[{"name":"a11","mean":1.01,"std":0.02},
                                {"name":"tx","mean":0.0,"std":0.0005}],
                      "draws":4096,"collapsed":false,"threshold":0.001}}"#;
        let served = parse_model_info(text).unwrap().unwrap();
        assert_eq!((served.draws, served.collapsed), (4096, false));
        assert_eq!(served.params[1].name, "tx");
        assert_eq!(parse_model_info(r#"{"format":"x"}"#).unwrap(), None);
    }

    #[test]
    fn run_directories_are_complete_incomplete_or_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_run(&dir.path().join("nothing"), 0, 3);
        assert_eq!(missing.status, RunStatus::Missing);
        std::fs::write(dir.path().join(RECORDS_FILE), RECORDS).unwrap();
        let complete = read_run(dir.path(), 1, 3);
        assert_eq!(complete.status, RunStatus::Complete);
        assert_eq!((complete.test_acc, complete.epochs_done), (Some(73.5), 3));
        assert_eq!(
            (complete.process_seconds, complete.core_seconds),
            (0.0, 0.0)
        );
        std::fs::write(
            dir.path().join(TIMES_FILE),
            "{\"wall_seconds\":10.0,\"threads\":2,\"success\":false}\nbroken\n\
             {\"wall_seconds\":5.5,\"threads\":1,\"success\":true}\n",
        )
        .unwrap();
        let timed = read_run(dir.path(), 1, 3);
        assert_eq!((timed.process_seconds, timed.core_seconds), (15.5, 25.5));
        let longer = read_run(dir.path(), 1, 60);
        assert_eq!(longer.status, RunStatus::Incomplete);
        assert_eq!(
            longer.test_acc, None,
            "an unfinished run has no final accuracy"
        );
    }
}
