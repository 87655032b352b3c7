"""Settings: flags over environment over the TOML file named by SESSIONPLANE_CONFIG."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sessionplane.settings import Settings


def test_file_then_environment_then_arguments(tmp_path, monkeypatch):
    config = tmp_path / "sessionplane.toml"
    config.write_text('port = 9001\nregion = "eu-west-0"\nprotected_client_names = ["bot"]\nnode_pool_size = 2\n')
    monkeypatch.setenv("SESSIONPLANE_CONFIG", str(config))
    monkeypatch.setenv("SESSIONPLANE_REGION", "ap-southeast-1")
    monkeypatch.setenv("SESSIONPLANE_NODE_PASSWORD", "not-a-setting")  # read by the CLI, ignored here
    settings = Settings(node_pool_size=8)
    assert (settings.port, settings.region, settings.protected_client_names, settings.node_pool_size) == (
        9001,
        "ap-southeast-1",
        ["bot"],
        8,
    )


def test_defaults_derive_the_store_and_keyring_from_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{Path(tmp_path).resolve() / 'sessionplane.db'}"
    assert settings.resolved_keyring_file == tmp_path / "keyring"


@pytest.mark.parametrize("bad", [{"node_pool_size": 0}, {"token_ttl_seconds": 0}, {"unknown": 1}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        Settings(**bad)
