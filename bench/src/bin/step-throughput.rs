//! Benchmark: images per second of a plain SGD step and of the bilevel step.
fn main() {}
