//! The sources a configuration is merged from, as TOML tables: a preset, a file or text, and
//! `key=value` overrides, later ones winning key by key.
use super::error::{problem, ConfigError};
use crate::train::presets::{preset_toml, PRESET_NAMES};

/// The table of a preset (empty without one).
pub(super) fn preset_table(preset: Option<&str>) -> Result<toml::Table, ConfigError> {
    let mut table = toml::Table::new();
    if let Some(name) = preset {
        let text = preset_toml(name).ok_or_else(|| {
            problem(
                "preset",
                format!(
                    "unknown preset '{name}': expected one of {}",
                    PRESET_NAMES.join(", ")
                ),
            )
        })?;
        merge(&mut table, parse_toml(text, &format!("preset {name}"))?);
    }
    Ok(table)
}

/// `text` as a TOML table; a syntax error is named by `source`.
pub(super) fn parse_toml(text: &str, source: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| problem(source, format!("not valid TOML: {e}")))
}

/// Deep merge: tables merge key by key, anything else is replaced.
pub(super) fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `a.b.c=value`; the value is read as TOML (`0.05`, `true`, `[1, 2]`, `"x"`) or, when
/// that fails, taken as a plain string (`mode=affine_color`).
pub(super) fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| problem(assignment, "an override is written key=value"))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(problem(key, "not a key"));
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(problem(key, format!("'{part}' is a value, not a section"))),
        };
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}
