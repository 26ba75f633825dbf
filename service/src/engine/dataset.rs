//! Dataset names of training requests, resolved strictly inside the server's data dir: a
//! client names data, it never hands the server a path.
use std::path::{Component, Path, PathBuf};

use super::error::EngineError;

/// The path of dataset `name` inside `data_dir`, after every check: not empty, relative, no
/// `..`, exists, and (symlinks resolved) still inside the data dir.
pub fn resolve_dataset(data_dir: Option<&Path>, name: &str) -> Result<PathBuf, EngineError> {
    let refused = |problem: &str| EngineError::DatasetRefused {
        name: name.to_string(),
        problem: problem.to_string(),
    };
    let data_dir = data_dir.ok_or_else(|| EngineError::DatasetNotFound {
        name: name.to_string(),
        problem: "the server was started without a data dir (--data-dir)".into(),
    })?;
    if name.trim().is_empty() {
        return Err(EngineError::invalid(
            "dataset",
            "required unless data.source is \"synthetic\": a file or folder name inside the server's data dir",
        ));
    }
    let relative = Path::new(name);
    if relative.is_absolute() {
        return Err(refused(
            "absolute paths are not accepted; give a name inside the server's data dir",
        ));
    }
    if relative
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(refused("'..' is not accepted in dataset names"));
    }
    let base = data_dir
        .canonicalize()
        .map_err(|e| EngineError::DatasetNotFound {
            name: name.to_string(),
            problem: format!("the data dir {} cannot be read: {e}", data_dir.display()),
        })?;
    let resolved =
        base.join(relative)
            .canonicalize()
            .map_err(|_| EngineError::DatasetNotFound {
                name: name.to_string(),
                problem: "no such file or folder".into(),
            })?;
    if !resolved.starts_with(&base) {
        return Err(refused(
            "it is a link leading outside the server's data dir",
        ));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_inside_and_escapes_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("fmnist")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("secret")).expect("mkdir");
        std::os::unix::fs::symlink(root.path().join("secret"), data.join("escape")).expect("link");
        std::os::unix::fs::symlink(data.join("fmnist"), data.join("alias")).expect("link");
        let ok = resolve_dataset(Some(&data), "fmnist").expect("inside");
        assert!(ok.ends_with("data/fmnist"));
        assert!(
            resolve_dataset(Some(&data), "alias").is_ok(),
            "a link staying inside is fine"
        );
        let refused = |name: &str| match resolve_dataset(Some(&data), name) {
            Err(EngineError::DatasetRefused { problem, .. }) => problem,
            other => panic!("{name}: {other:?}"),
        };
        assert!(refused("../secret").contains("'..'"));
        assert!(refused("fmnist/../../secret").contains("'..'"));
        assert!(refused("/etc").contains("absolute"));
        assert!(refused("escape").contains("outside"));
        assert!(matches!(
            resolve_dataset(Some(&data), "missing"),
            Err(EngineError::DatasetNotFound { .. })
        ));
        assert!(matches!(
            resolve_dataset(None, "fmnist"),
            Err(EngineError::DatasetNotFound { .. })
        ));
        assert!(matches!(
            resolve_dataset(Some(&data), ""),
            Err(EngineError::InvalidArgument { .. })
        ));
    }
}
