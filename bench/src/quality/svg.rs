//! The report's figure, written as SVG by hand (no plotting dependency): one row per arm, a
//! horizontal bar to the mean final test accuracy, a whisker of ± one sample standard
//! deviation, a dot per seed, and an x axis with ticks. Arms without a complete run say so.
use std::fmt::Write;

use super::arms::Role;
use super::summary::ArmSummary;

const WIDTH: f64 = 860.0;
const LABEL_WIDTH: f64 = 270.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 56.0;
const ROW: f64 = 26.0;
const BOTTOM: f64 = 56.0;
const BAR: f64 = 14.0;

/// A step of 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// The x range (within 0–100 %) and tick step for `values`.
pub fn axis_range(values: &[f64]) -> (f64, f64, f64) {
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if !min.is_finite() {
        return (0.0, 100.0, 20.0);
    }
    let pad = ((max - min) * 0.08).max(0.5);
    let step = nice_step((max - min + 2.0 * pad) / 6.0);
    let lo = (((min - pad) / step).floor() * step).max(0.0);
    let hi = (((max + pad) / step).ceil() * step).min(100.0);
    let hi = if hi > lo { hi } else { lo + step };
    (lo, hi, step)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(arm: &ArmSummary) -> &'static str {
    let mode = arm
        .arm
        .settings
        .iter()
        .rev()
        .find(|s| s.key == "augment.mode")
        .map(|s| s.value.trim_matches('"'));
    match (&arm.arm.role, mode) {
        (Role::Learned, _) => "#4c78a8",
        (Role::Served { .. }, _) => "#f58518",
        (Role::Plain, Some("handcrafted")) => "#54a24b",
        (Role::Plain, _) => "#9d9d9d",
    }
}

fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let count = ((hi - lo) / step).round() as usize;
    (0..=count).map(|i| lo + i as f64 * step).collect()
}

/// The figure of `arms` as an SVG document.
pub fn render_svg(arms: &[ArmSummary], title: &str) -> String {
    let mut values = Vec::new();
    for arm in arms {
        values.extend(arm.runs.iter().filter_map(|r| r.test_acc));
        if let (Some(mean), Some(std)) = (arm.mean, arm.std) {
            values.extend([mean - std, mean + std]);
        }
    }
    let (lo, hi, step) = axis_range(&values);
    let plot_width = WIDTH - LABEL_WIDTH - RIGHT;
    let x = |v: f64| LABEL_WIDTH + (v.clamp(lo, hi) - lo) / (hi - lo) * plot_width;
    let axis_y = TOP + ROW * arms.len() as f64 + 6.0;
    let height = axis_y + BOTTOM;
    let decimals = if step < 1.0 { 1 } else { 0 };

    let mut svg = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="20" font-size="15" font-weight="bold" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="40" fill="#444" text-anchor="middle">bar: mean over seeds · whisker: ± sample standard deviation · dots: one seed each</text>"##,
        WIDTH / 2.0
    );
    for tick in ticks(lo, hi, step) {
        let tx = x(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{axis_y}" stroke="#e4e4e4"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{tx:.1}" y1="{axis_y}" x2="{tx:.1}" y2="{}" stroke="#333"/>"##,
            axis_y + 5.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{tx:.1}" y="{}" text-anchor="middle">{tick:.decimals$}</text>"#,
            axis_y + 19.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LABEL_WIDTH}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">final test accuracy (%); the axis starts at {lo:.decimals$}</text>"#,
        LABEL_WIDTH + plot_width / 2.0,
        axis_y + 40.0
    );
    for (i, arm) in arms.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_WIDTH - 8.0,
            y + 4.0,
            escape(&arm.arm.name)
        );
        let Some(mean) = arm.mean else {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{:.1}" fill="#888" font-style="italic">no complete run</text>"##,
                LABEL_WIDTH + 6.0,
                y + 4.0
            );
            continue;
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{LABEL_WIDTH}" y="{:.1}" width="{:.1}" height="{BAR}" fill="{}" fill-opacity="0.8"><title>{}: {mean:.2} % (n = {})</title></rect>"#,
            y - BAR / 2.0,
            x(mean) - LABEL_WIDTH,
            colour(arm),
            escape(&arm.arm.name),
            arm.n
        );
        if let Some(std) = arm.std {
            let (a, b) = (x(mean - std), x(mean + std));
            let _ = writeln!(
                svg,
                r##"<path d="M{a:.1},{:.1}V{:.1}M{a:.1},{y:.1}H{b:.1}M{b:.1},{:.1}V{:.1}" stroke="#222" stroke-width="1.5" fill="none"/>"##,
                y - 5.0,
                y + 5.0,
                y - 5.0,
                y + 5.0
            );
        }
        let points: Vec<(u64, f64)> = arm
            .runs
            .iter()
            .filter_map(|r| r.test_acc.map(|a| (r.seed, a)))
            .collect();
        for (j, (seed, acc)) in points.iter().enumerate() {
            let offset = (j as f64 - (points.len() as f64 - 1.0) / 2.0) * 3.0;
            let _ = writeln!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="white" stroke="#111" stroke-width="1.2"><title>seed {seed}: {acc:.2} %</title></circle>"##,
                x(*acc),
                y + offset
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::test_support::fixed_summaries;

    #[test]
    fn axis_ranges_are_padded_rounded_and_within_percentages() {
        assert_eq!(axis_range(&[]), (0.0, 100.0, 20.0));
        let (lo, hi, step) = axis_range(&[80.0, 84.0]);
        assert_eq!(step, 1.0);
        assert!(
            (78.0..=79.5).contains(&lo) && (84.5..=86.0).contains(&hi),
            "{lo} {hi}"
        );
        let (lo, hi, _) = axis_range(&[99.9, 100.0]);
        assert!(hi <= 100.0 && lo < 99.9);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(3.0), 5.0);
    }

    #[test]
    fn the_figure_has_a_row_per_arm_and_a_dot_per_seed() {
        let arms = fixed_summaries();
        let svg = render_svg(&arms, "Fashion-MNIST <cpu>");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("Fashion-MNIST &lt;cpu&gt;"));
        for arm in &arms {
            assert!(
                svg.contains(&format!(">{}</text>", arm.arm.name)),
                "{}",
                arm.arm.name
            );
        }
        let dots: usize = arms
            .iter()
            .map(|a| a.runs.iter().filter(|r| r.test_acc.is_some()).count())
            .sum();
        assert_eq!(svg.matches("<circle").count(), dots);
        assert_eq!(
            svg.matches("<rect x=").count(),
            arms.iter().filter(|a| a.n > 0).count()
        );
        assert!(svg.contains("no complete run"));
        assert!(svg.contains("stroke-width=\"1.5\""), "a whisker");
    }
}
