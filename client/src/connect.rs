//! Connection settings: [`ConnectOptions`] (URL, bearer token, TLS, timeout), the TLS and
//! endpoint set-up, and [`TokenInterceptor`], which adds `authorization: Bearer <token>` to
//! every call.
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::error::{error_chain, ClientError};

/// TLS settings for an `https://` URL (rustls). Without a CA certificate the system's trust
/// roots are used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificate(s) that signed the server's certificate.
    pub ca_cert_pem: Option<PathBuf>,
    /// PEM file of the client certificate, for mutual TLS (with `client_key_pem`).
    pub client_cert_pem: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub client_key_pem: Option<PathBuf>,
    /// The name to verify the server's certificate against, when not the URL's host.
    pub domain: Option<String>,
}

/// Where and how to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `http://host:port` (plain text) or `https://host:port` (TLS).
    pub url: String,
    /// The bearer token sent with every call, if the server wants one.
    pub token: Option<String>,
    /// TLS settings; `None` with an `https://` URL means TLS with the system's roots.
    pub tls: Option<TlsOptions>,
    /// Limit on connecting and on each call until the server's response headers arrive (all of
    /// a unary call; the start of a streaming one). `None`: no limit.
    pub timeout: Option<Duration>,
}

impl ConnectOptions {
    /// Options for `url` without token, TLS settings or timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            token: None,
            tls: None,
            timeout: None,
        }
    }

    /// With a bearer token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// With TLS settings.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// With a timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The endpoint these options describe (nothing is connected yet).
    pub fn endpoint(&self) -> Result<Endpoint, ClientError> {
        let url = self.url.trim();
        let https = if url.starts_with("https://") {
            true
        } else if url.starts_with("http://") {
            false
        } else {
            return Err(ClientError::invalid(format!(
                "URL {url:?}: expected http://host:port or https://host:port"
            )));
        };
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| ClientError::invalid(format!("URL {url:?}: {}", error_chain(&e))))?
            .user_agent(concat!("augmentd-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| ClientError::invalid(error_chain(&e)))?;
        if let Some(timeout) = self.timeout {
            endpoint = endpoint.connect_timeout(timeout).timeout(timeout);
        }
        match (&self.tls, https) {
            (Some(_), false) => Err(ClientError::invalid(format!(
                "URL {url:?}: TLS options need an https:// URL"
            ))),
            (None, false) => Ok(endpoint),
            (tls, true) => {
                let config = tls_config(tls.as_ref().unwrap_or(&TlsOptions::default()))?;
                endpoint
                    .tls_config(config)
                    .map_err(|e| ClientError::Transport {
                        url: url.to_string(),
                        message: error_chain(&e),
                    })
            }
        }
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::io(path, e))
}

/// The rustls configuration of `tls`.
fn tls_config(tls: &TlsOptions) -> Result<ClientTlsConfig, ClientError> {
    let mut config = ClientTlsConfig::new();
    config = match &tls.ca_cert_pem {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read_pem(ca)?)),
        None => config.with_native_roots(),
    };
    match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(ClientError::invalid(
                "mutual TLS needs both a client certificate and its key",
            ))
        }
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(config)
}

/// Adds `authorization: Bearer <token>` to every request (nothing without a token).
#[derive(Clone, Debug, Default)]
pub struct TokenInterceptor {
    header: Option<MetadataValue<Ascii>>,
}

impl TokenInterceptor {
    /// An interceptor sending `token` (surrounding whitespace trimmed); refuses an empty token
    /// or one that is not visible ASCII.
    pub fn new(token: Option<&str>) -> Result<Self, ClientError> {
        let Some(token) = token else {
            return Ok(TokenInterceptor { header: None });
        };
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ClientError::invalid(
                "the token must be non-empty visible ASCII",
            ));
        }
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}")
            .parse()
            .map_err(|_| ClientError::invalid("the token is not a valid header value"))?;
        value.set_sensitive(true);
        Ok(TokenInterceptor {
            header: Some(value),
        })
    }
}

impl Interceptor for TokenInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interceptor_adds_the_bearer_header() {
        let mut interceptor = TokenInterceptor::new(Some(" s3cret-token\n")).expect("token");
        let request = interceptor.call(tonic::Request::new(())).expect("call");
        let value = request.metadata().get("authorization").expect("header");
        assert_eq!(value.to_str().expect("ascii"), "Bearer s3cret-token");
        assert!(value.is_sensitive());
    }

    #[test]
    fn interceptor_without_token_adds_nothing() {
        let mut interceptor = TokenInterceptor::new(None).expect("no token");
        let request = interceptor.call(tonic::Request::new(())).expect("call");
        assert!(request.metadata().get("authorization").is_none());
    }

    #[test]
    fn bad_tokens_are_refused() {
        assert!(TokenInterceptor::new(Some("  ")).is_err());
        assert!(TokenInterceptor::new(Some("two words")).is_err());
        assert!(TokenInterceptor::new(Some("caf\u{e9}")).is_err());
    }

    #[test]
    fn urls_are_checked() {
        assert!(ConnectOptions::new("http://127.0.0.1:50051")
            .endpoint()
            .is_ok());
        let err = ConnectOptions::new("127.0.0.1:50051")
            .endpoint()
            .expect_err("no scheme");
        assert!(
            err.to_string().contains("expected http://host:port"),
            "{err}"
        );
        let err = ConnectOptions::new("http://127.0.0.1:1")
            .with_tls(TlsOptions::default())
            .endpoint()
            .expect_err("tls over http");
        assert!(err.to_string().contains("need an https:// URL"), "{err}");
    }

    #[test]
    fn tls_files_are_read_and_checked() {
        let missing = ConnectOptions::new("https://localhost:1").with_tls(TlsOptions {
            ca_cert_pem: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        });
        let err = missing.endpoint().expect_err("missing CA");
        assert!(err.to_string().starts_with("/nonexistent/ca.pem:"), "{err}");
        let half = ConnectOptions::new("https://localhost:1").with_tls(TlsOptions {
            client_cert_pem: Some("cert.pem".into()),
            ..TlsOptions::default()
        });
        let err = half.endpoint().expect_err("cert without key");
        assert!(
            err.to_string()
                .contains("both a client certificate and its key"),
            "{err}"
        );
    }
}
