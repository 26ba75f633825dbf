//! A small reader of the text exposition for the tests: samples by name and label set, and
//! the `# HELP` / `# TYPE` header of each family.

use crate::model::TransformStat;
use crate::train::EpochRecord;

/// A sample's labels, sorted by name.
pub(super) type Labels = Vec<(String, String)>;

/// One sample line: its labels and value.
pub(super) type Sample = (Labels, f64);

/// A family's name, `# TYPE` and `# HELP` text.
#[derive(Debug)]
pub(super) struct Family {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) help: String,
}

/// Every sample of `name` (exactly that name, so `_bucket`, `_sum`, `_count` are asked for by
/// their full names).
pub(super) fn series(text: &str, name: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_sample)
        .filter(|(n, _, _)| n == name)
        .map(|(_, labels, v)| (labels, v))
        .collect()
}

/// The value of the sample of `name` whose label set is exactly `labels`.
pub(super) fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    want.sort();
    series(text, name)
        .into_iter()
        .find(|(have, _)| *have == want)
        .map(|(_, v)| v)
}

/// The families declared by `# TYPE` lines, with their help text.
pub(super) fn families(text: &str) -> Vec<Family> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            let help_prefix = format!("# HELP {name} ");
            let help = text
                .lines()
                .find_map(|l| l.strip_prefix(help_prefix.as_str()))
                .unwrap_or_default();
            out.push(Family {
                name: name.to_owned(),
                kind: kind.to_owned(),
                help: help.to_owned(),
            });
        }
    }
    out
}

/// `name{k="v",…} value` (label values without escapes, as the tests use).
fn parse_sample(line: &str) -> Option<(String, Labels, f64)> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => {
            let body = rest.strip_suffix('}')?;
            let mut labels: Labels = body
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").expect("k=\"v\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            labels.sort();
            (name, labels)
        }
        None => (head, Vec::new()),
    };
    Some((name.to_owned(), labels, value))
}

/// A transformation statistic.
pub(super) fn stat(name: &str, mean: f64, std: f64) -> TransformStat {
    TransformStat {
        name: name.into(),
        mean,
        std,
    }
}

/// An epoch with every optional figure present and exactly representable values.
pub(super) fn sample_record() -> EpochRecord {
    EpochRecord {
        epoch: 2,
        train_loss: 0.75,
        val_loss: Some(0.875),
        train_acc: 81.5,
        val_acc: Some(78.25),
        test_acc: Some(77.0),
        lr: 0.1,
        seconds: 9.0,
        images_per_second: 1234.5,
        augmenter_grad_norm: Some(0.125),
        transforms: vec![stat("tx", 0.5, 0.25), stat("brightness", -0.5, 1.5)],
        served: Vec::new(),
        collapsed: true,
    }
}
