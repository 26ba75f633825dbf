//! Training runs: the configuration, the epoch loop of the method, records, pictures and
//! checkpoints.
mod config;
mod presets;

pub use config::{
    AugmentConfig, AugmentMode, ClassifierConfig, ConfigError, DataConfig, DataSource,
    OutputConfig, RunConfig, ScheduleConfig, SyntheticConfig,
};
pub use presets::{preset_toml, PRESET_NAMES};
