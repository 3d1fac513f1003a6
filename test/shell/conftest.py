"""Shared fixtures for the shell smoke tests: paths to the built extension and the pinned hosts."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def read_config() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "extension-config" / "extension.conf").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def cargo_version() -> str:
    in_package = False
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.strip() == "[package]":
            in_package = True
        elif line.startswith("["):
            in_package = False
        elif in_package and line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("Cargo.toml has no package version")


@pytest.fixture(scope="session")
def config() -> dict[str, str]:
    return read_config()


@pytest.fixture(scope="session")
def extension() -> Path:
    path = Path(os.environ.get("ETL_EXTENSION", ROOT / "build" / "release" / "etl.duckdb_extension"))
    assert path.is_file(), f"{path} is missing: run `make release` (make shelltest does)"
    return path


@pytest.fixture(scope="session")
def duckdb_cli() -> Path:
    """The pinned duckdb-cli shell, installed in the same venv as this Python."""
    path = Path(sys.executable).parent / "duckdb"
    assert path.exists(), f"{path} is missing: run `make venv`"
    return path


@pytest.fixture(scope="session")
def old_duckdb_cli(config) -> Path:
    default = ROOT / "build" / "hosts" / f"duckdb-cli-{config['DUCKDB_CLI_OLD_VERSION']}" / "bin" / "duckdb"
    path = Path(os.environ.get("ETL_OLD_DUCKDB_CLI", default))
    assert path.exists(), f"{path} is missing: run `make venv`"
    return path


@pytest.fixture(scope="session")
def mock_url():
    """The mock REST API (scripts/mock_rest_server.py) in this process, on 127.0.0.1."""
    from mock_rest_server import start_server

    server, url = start_server(port=0, records=5000)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture()
def con(extension):
    """A PyPI duckdb connection with the extension under test loaded."""
    import duckdb

    c = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    c.execute(f"LOAD '{extension}'")
    yield c
    c.close()
