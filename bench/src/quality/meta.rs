//! Where a report came from: the command, the date, the machine's cores, the augmentd commit
//! and the wall time; with the small clock and duration formatting they need (no date crate).
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The provenance of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    /// The command that produced it.
    pub command: String,
    /// The budget.
    pub budget: String,
    /// When (UTC, `YYYY-MM-DD HH:MM`).
    pub date: String,
    /// CPUs this process may use.
    pub cores: usize,
    /// `git rev-parse --short HEAD` (marked when the tree differs from it), or `unknown`.
    pub commit: String,
    /// Wall-clock seconds of this invocation.
    pub wall_seconds: f64,
    /// Runs at once.
    pub jobs: usize,
    /// Whether this invocation trained (false: `--render-only`).
    pub trained: bool,
}

/// The civil date (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD HH:MM` (UTC) of seconds since the Unix epoch.
pub fn format_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let minute_of_day = (seconds % 86_400) / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// The current time, `YYYY-MM-DD HH:MM UTC`.
pub fn utc_timestamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(seconds)
}

/// `1 h 02 min`, `3 min 05 s`, `42 s`.
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (hours, minutes, secs) = (total / 3600, (total % 3600) / 60, total % 60);
    if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else if minutes > 0 {
        format!("{minutes} min {secs:02} s")
    } else {
        format!("{secs} s")
    }
}

/// The short commit of the working tree's HEAD (`unknown` outside a git checkout), marked when
/// tracked files differ from it. Read-only: no optional locks, nothing written.
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"])
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    else {
        return "unknown".into();
    };
    let dirty = git(&["diff", "--quiet", "HEAD", "--"]).is_some_and(|o| o.status.code() == Some(1));
    if dirty {
        format!("{head} + uncommitted changes")
    } else {
        head
    }
}

/// CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            format_utc(951_782_400 + 3_600 * 13 + 60 * 7),
            "2000-02-29 13:07 UTC"
        );
        assert_eq!(format_utc(1_798_761_599), "2026-12-31 23:59 UTC");
        assert_eq!(format_duration(42.4), "42 s");
        assert_eq!(format_duration(185.0), "3 min 05 s");
        assert_eq!(format_duration(3_720.0), "1 h 02 min");
    }
}
