//! Code shared by the benchmark programs: the modules of the quality harness (`make quality`,
//! binary `quality`).
pub mod quality;
