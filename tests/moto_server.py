"""moto's server mode: a real HTTP endpoint on 127.0.0.1 (a free port), one per session.

``aws_endpoint`` resets moto and points every boto3 client at the server through
``AWS_ENDPOINT_URL``, with credentials of the seller's account and a ``vendor`` profile, so
the code under test (and the CLI) makes real HTTP calls without being handed a client.
Import both fixtures into a test module to use them.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCOUNT = "111122223333"  # the seller's account
REGION = "us-east-1"
VENDOR_PROFILE = "vendor"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def aws_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AWS config file: the default region, and the vendor's profile."""
    config = tmp_path_factory.mktemp("aws") / "config"
    config.write_text(
        f"[default]\nregion = {REGION}\n\n[profile {VENDOR_PROFILE}]\nregion = {REGION}\n"
        "aws_access_key_id = vendor\naws_secret_access_key = vendor\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def aws_endpoint(moto_server: str, aws_config: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL, with moto emptied and boto3 configured to use it (the same way in
    every test, so a boto3 session may outlive one)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_config.with_name("no-credentials")),
        "AWS_ENDPOINT_URL": moto_server,
        "MOTO_ACCOUNT_ID": ACCOUNT,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AWS managed policies can be attached
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    return moto_server
