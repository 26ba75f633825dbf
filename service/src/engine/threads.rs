//! Thread counts from the CPUs the process may use, and libtorch's intra-op pool sized so
//! that the augment workers together use those CPUs once instead of each taking all of them.
//!
//! libtorch keeps one process-wide intra-op thread count: `at::set_num_threads` stores it,
//! and each thread applies it to its own OpenMP setting on its first parallel operation. The
//! training job threads share the count (they share the CPUs with the workers too); set
//! `--torch-threads` to trade augment latency against training speed.
use std::num::NonZeroUsize;

/// The CPUs this process may use: its affinity mask and cgroup CPU quota are respected
/// (`std::thread::available_parallelism`), 1 if they cannot be read.
pub fn available_cpus() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// The intra-op threads of each of `workers` augment workers on `cpus` CPUs: an equal share,
/// at least 1.
pub fn intra_op_share(cpus: NonZeroUsize, workers: NonZeroUsize) -> NonZeroUsize {
    NonZeroUsize::new(cpus.get() / workers.get()).unwrap_or(NonZeroUsize::MIN)
}

/// Sets libtorch's intra-op thread count, for the calling thread now and for every thread
/// at its first parallel operation.
pub fn set_intra_op_threads(threads: NonZeroUsize) {
    // A count beyond i32 is no real machine; saturate rather than wrap.
    tch::set_num_threads(i32::try_from(threads.get()).unwrap_or(i32::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: usize) -> NonZeroUsize {
        NonZeroUsize::new(value).unwrap_or(NonZeroUsize::MIN)
    }

    #[test]
    fn the_cpus_are_shared_among_the_workers_with_at_least_one_each() {
        assert_eq!(intra_op_share(n(16), n(4)), n(4));
        assert_eq!(intra_op_share(n(10), n(4)), n(2));
        assert_eq!(intra_op_share(n(2), n(4)), n(1));
        assert_eq!(intra_op_share(n(1), n(1)), n(1));
    }
}
