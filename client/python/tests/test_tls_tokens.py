"""Connection security against a real server with TLS (client certificates required) and
tokens: health over mutual TLS, token scopes mapped to UNAUTHENTICATED / PERMISSION_DENIED, and
connection settings refused with the setting named."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from support import TLS_DIR, ServerProcess

from augmentd_client import (
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
    RemoteAugmenter,
    RetryPolicy,
    TlsOptions,
    UnauthenticatedError,
    UnavailableError,
)

ADMIN, AUGMENT = "admin-secret", "augment-secret"
WITH_CERT = TlsOptions(
    ca_cert=TLS_DIR / "ca.pem",
    client_cert=TLS_DIR / "client.pem",
    client_key=TLS_DIR / "client.key",
    domain="localhost",
)
IMAGES = np.zeros((1, 1, 16, 16), np.uint8)


@pytest.fixture(scope="module")
def secure_server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    tls_args = [
        "--tls-cert",
        str(TLS_DIR / "server.pem"),
        "--tls-key",
        str(TLS_DIR / "server.key"),
        "--tls-client-ca",
        str(TLS_DIR / "ca.pem"),
    ]
    server = start_server(tls_args, env={"AUGMENTD_ADMIN_TOKEN": ADMIN, "AUGMENTD_AUGMENT_TOKEN": AUGMENT})
    assert server.scheme == "https"
    return server


def url_of(server: ServerProcess) -> str:
    return f"https://localhost:{server.port}"


def test_mutual_tls_and_token_scopes(secure_server: ServerProcess) -> None:
    url = url_of(secure_server)
    with Client(url, token=ADMIN, tls=WITH_CERT, timeout=30) as admin:
        assert admin.health() == "SERVING"
        assert admin.models.list() == []
        with pytest.raises(FailedPreconditionError, match="no model is active"):
            admin.augmenter().augment(IMAGES)  # past the token check: there is no model yet
    with Client(url, token=AUGMENT, tls=WITH_CERT, timeout=30) as augment_only:
        with pytest.raises(PermissionDeniedError):
            augment_only.models.list()
        with pytest.raises(PermissionDeniedError):
            augment_only.list_jobs()
        with pytest.raises(FailedPreconditionError):
            augment_only.augmenter().augment(IMAGES)
    with RemoteAugmenter(url, tls=WITH_CERT, timeout=30) as anonymous:
        assert anonymous.health() == "SERVING", "health needs no token"
        with pytest.raises(UnauthenticatedError):
            anonymous.augment(IMAGES)
    with RemoteAugmenter(url, token="guess", tls=WITH_CERT, timeout=30) as wrong:
        with pytest.raises(UnauthenticatedError):
            wrong.augment(IMAGES)


def test_without_a_client_certificate_or_without_tls_nothing_gets_through(secure_server: ServerProcess) -> None:
    no_retry = RetryPolicy.disabled()
    without_cert = TlsOptions(ca_cert=TLS_DIR / "ca.pem", domain="localhost")
    with Client(url_of(secure_server), token=ADMIN, tls=without_cert, timeout=10, retry=no_retry) as client:
        with pytest.raises(UnavailableError):
            client.health()
    with Client(f"http://127.0.0.1:{secure_server.port}", token=ADMIN, timeout=10, retry=no_retry) as plain:
        with pytest.raises(UnavailableError):
            plain.health()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Client("127.0.0.1:50051"), "url: '127.0.0.1:50051': expected http://host:port or https://host:port"),
        (lambda: Client("http://127.0.0.1:50051", tls=WITH_CERT), "tls: TLS options need an https:// URL"),
        (
            lambda: Client("https://localhost:1", tls=TlsOptions(client_cert=TLS_DIR / "client.pem")),
            "tls: mutual TLS needs both",
        ),
        (
            lambda: Client("https://localhost:1", tls=TlsOptions(ca_cert="/no/such/ca.pem")),
            "tls.ca_cert: cannot read '/no/such/ca.pem'",
        ),
        (lambda: Client("http://127.0.0.1:1", token="two words"), "token: must be non-empty visible ASCII"),
        (lambda: Client("http://127.0.0.1:1", timeout=0), "timeout: must be a positive number of seconds"),
    ],
    ids=["no-scheme", "tls-over-http", "half-mutual", "missing-ca", "bad-token", "zero-timeout"],
)
def test_bad_connection_settings_name_the_setting(make: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        make()
    assert raised.value.message.startswith(message), raised.value.message
