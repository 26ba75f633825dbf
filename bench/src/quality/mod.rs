//! `make quality`: the quality protocol of issue 6. It runs a fixed set of `augmentd train`
//! runs — arms (no augmentation, hand-crafted, learned by the bilevel step, a learned model
//! served to a fresh classifier) × seeds — as child processes, reads what each run directory
//! holds, and writes a Markdown report with a results table and an SVG figure, plus the raw
//! results as JSON.
//!
//! The pieces: [`protocol`] (budgets and shared settings), [`arms`] (the arm table, expansion,
//! the run plan), [`runner`] (child processes, dependencies), [`results`] (a run directory's
//! records and model), [`summary`] (aggregation over seeds), [`bar`] (the bar,
//! checked), [`report`] and [`svg`] (rendering), [`meta`] (provenance).
pub mod arms;
pub mod bar;
pub mod meta;
pub mod protocol;
pub mod report;
pub mod results;
pub mod runner;
pub mod summary;
pub mod svg;
#[cfg(test)]
mod test_support;
