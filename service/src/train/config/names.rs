//! Serde for the values a configuration names by text (`device = "cuda:1"`, `arch =
//! "small-cnn"`, `baseline = "crop+flip"`): read through the type's `FromStr`, so a bad name
//! fails while deserializing, at its dotted key, with the type's own message; written through
//! its `Display`, so the stored `config.toml` reads back to the same value.
use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

/// `#[serde(with = "names::by_name")]` for a named value.
pub mod by_name {
    use super::*;

    /// Writes the value's name.
    pub fn serialize<T: Display, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads a name into the value, with the type's error message.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "names::by_name_opt")]` for an optional named value.
pub mod by_name_opt {
    use super::*;

    /// Writes the value's name, or nothing.
    pub fn serialize<T: Display, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an optional name into the value, with the type's error message.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(deserializer)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
