//! Bearer tokens in two scopes: `augment` (the Augmenter service) and `admin` (Training and
//! Models, and Augmenter too). Health and reflection stay open. With no token configured the
//! server is open (and says so at start).
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// What a token may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The Augmenter service.
    Augment,
    /// Everything.
    Admin,
}

/// The accepted tokens, kept as SHA-256 digests.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    augment: Vec<[u8; 32]>,
    admin: Vec<[u8; 32]>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The tokens of a file: one per line; blank lines and `#` comments are skipped.
pub fn read_token_file(path: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

impl Tokens {
    /// Tokens of each scope.
    pub fn new(augment: &[String], admin: &[String]) -> Self {
        Self {
            augment: augment.iter().map(|t| digest(t)).collect(),
            admin: admin.iter().map(|t| digest(t)).collect(),
        }
    }

    /// Whether any token is configured (else every call is allowed).
    pub fn enabled(&self) -> bool {
        !self.augment.is_empty() || !self.admin.is_empty()
    }

    /// Checks a request's `authorization` metadata for `scope`.
    pub fn check(
        &self,
        scope: Scope,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<(), Status> {
        if !self.enabled() {
            return Ok(());
        }
        let header = metadata.get("authorization").ok_or_else(|| {
            Status::unauthenticated(
                "missing token: send the metadata `authorization: Bearer <token>`",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                Status::unauthenticated(
                    "malformed authorization metadata: expected `Bearer <token>`",
                )
            })?;
        let d = digest(token);
        if self.admin.contains(&d) {
            return Ok(());
        }
        if self.augment.contains(&d) {
            return match scope {
                Scope::Augment => Ok(()),
                Scope::Admin => Err(Status::permission_denied(
                    "this token has scope `augment`; Training and Models need an `admin` token",
                )),
            };
        }
        Err(Status::unauthenticated("unknown token"))
    }
}

/// The interceptor that guards one service.
#[derive(Debug, Clone)]
pub struct Authorize {
    tokens: Arc<Tokens>,
    scope: Scope,
}

impl Authorize {
    /// Guards with `tokens` for `scope`.
    pub fn new(tokens: Arc<Tokens>, scope: Scope) -> Self {
        Self { tokens, scope }
    }
}

impl Interceptor for Authorize {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.tokens.check(self.scope, request.metadata())?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn with(token: Option<&str>) -> tonic::metadata::MetadataMap {
        let mut m = tonic::metadata::MetadataMap::new();
        if let Some(t) = token {
            m.insert("authorization", t.parse().expect("ascii"));
        }
        m
    }

    #[test]
    fn scopes_are_enforced() {
        let tokens = Tokens::new(&["aug".into()], &["adm".into()]);
        let code = |scope, token| tokens.check(scope, &with(token)).err().map(|s| s.code());
        assert_eq!(code(Scope::Augment, None), Some(Code::Unauthenticated));
        assert_eq!(
            code(Scope::Augment, Some("Basic aug")),
            Some(Code::Unauthenticated)
        );
        assert_eq!(
            code(Scope::Augment, Some("Bearer nope")),
            Some(Code::Unauthenticated)
        );
        assert_eq!(code(Scope::Augment, Some("Bearer aug")), None);
        assert_eq!(
            code(Scope::Admin, Some("Bearer aug")),
            Some(Code::PermissionDenied)
        );
        assert_eq!(code(Scope::Admin, Some("Bearer adm")), None);
        assert_eq!(code(Scope::Augment, Some("Bearer adm")), None);
    }

    #[test]
    fn no_tokens_means_open_and_files_skip_comments() {
        assert!(Tokens::default().check(Scope::Admin, &with(None)).is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# admins\n\n  s3cret  \nother\n").expect("write");
        assert_eq!(
            read_token_file(&path).expect("read"),
            vec!["s3cret", "other"]
        );
    }
}
