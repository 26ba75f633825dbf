//! The subcommands of the `augmentd` binary.
pub mod augment;
pub mod log;
pub mod serve;
pub mod train;

use anyhow::{bail, Result};
use augmentd::train::{preset_toml, PRESET_NAMES};

/// `augmentd presets [NAME]`.
pub fn presets(name: Option<&str>) -> Result<()> {
    match name {
        None => {
            for preset in PRESET_NAMES {
                println!("{preset}");
            }
        }
        Some(name) => match preset_toml(name) {
            Some(text) => print!("{}", text.trim_start()),
            None => bail!(
                "unknown preset '{name}': expected one of {}",
                PRESET_NAMES.join(", ")
            ),
        },
    }
    Ok(())
}
