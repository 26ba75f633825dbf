//! Model references as requests give them: `name`, `name@version` or empty (the default), and
//! the rule for model names.
use super::super::error::EngineError;

/// A model reference: `name`, `name@version` or `` (the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// The default model.
    Default,
    /// A name's active version.
    Name(String),
    /// One version.
    Version(String, u64),
}

impl ModelSpec {
    /// Parses a reference, naming `field` in errors.
    pub fn parse(text: &str, field: &str) -> Result<Self, EngineError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::Default);
        }
        match text.split_once('@') {
            None => {
                check_name(text, field)?;
                Ok(Self::Name(text.to_string()))
            }
            Some((name, version)) => {
                check_name(name, field)?;
                let digits = version.strip_prefix('v').unwrap_or(version);
                let v: u64 = digits.parse().map_err(|_| {
                    EngineError::invalid(
                        field,
                        format!("'{text}': the version after '@' must be a number like 3"),
                    )
                })?;
                Ok(Self::Version(name.to_string(), v))
            }
        }
    }
}

/// Checks a model name: 1–64 of letters, digits, '-', '_', '.', not starting with '.'.
pub fn check_name(name: &str, field: &str) -> Result<(), EngineError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 64 || !ok_chars || name.starts_with('.') {
        return Err(EngineError::invalid(
            field,
            format!(
                "'{name}' is not a model name: 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_bad_names_are_refused() {
        let parse = |t: &str| ModelSpec::parse(t, "model");
        assert_eq!(parse("").expect("empty"), ModelSpec::Default);
        assert_eq!(
            parse(" fmnist ").expect("name"),
            ModelSpec::Name("fmnist".into())
        );
        assert_eq!(
            parse("a.b-c_1@3").expect("version"),
            ModelSpec::Version("a.b-c_1".into(), 3)
        );
        assert_eq!(
            parse("m@v12").expect("v-version"),
            ModelSpec::Version("m".into(), 12)
        );
        for bad in [
            "m@x",
            "m@",
            "../m",
            ".hidden",
            "a b",
            "m@1@2",
            &"x".repeat(65),
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.starts_with("model: '"), "{bad}: {e}");
        }
    }
}
