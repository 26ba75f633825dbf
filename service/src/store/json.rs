//! The state dir's JSON files (job.json, registry.json, meta.json, model.json): read with the
//! file's path in every error, written atomically (a crash leaves the old or the new file).
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::atomic::write_bytes_atomically;
use super::StoreError;

/// Reads and parses the JSON file at `path`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    parse(path, &bytes)
}

/// Reads and parses the JSON file at `path`, or `None` when there is no such file.
pub fn read_json_if_present<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Writes `value` as pretty JSON to `path`, atomically and durably.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        reason: format!("cannot serialize: {e}"),
    })?;
    write_bytes_atomically(path, &bytes)
}

fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_written_file_reads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert!(read_json_if_present::<BTreeMap<String, u64>>(&path)
            .unwrap()
            .is_none());
        let value = BTreeMap::from([("a".to_string(), 1u64), ("b".to_string(), 2)]);
        write_json_atomically(&path, &value).unwrap();
        assert_eq!(read_json::<BTreeMap<String, u64>>(&path).unwrap(), value);
        assert_eq!(
            read_json_if_present::<BTreeMap<String, u64>>(&path).unwrap(),
            Some(value)
        );
        let err = read_json::<BTreeMap<String, u64>>(&dir.path().join("gone.json")).unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    }

    #[test]
    fn a_file_that_is_not_json_is_a_format_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.json");
        std::fs::write(&path, b"{\"id\": ").unwrap();
        let err = read_json_if_present::<BTreeMap<String, u64>>(&path).unwrap_err();
        assert!(matches!(err, StoreError::Format { .. }), "{err:?}");
        assert!(err.to_string().contains("job.json"), "{err}");
    }
}
