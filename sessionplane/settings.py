"""One typed settings object, read once at start-up and passed down.

Sources, highest precedence first: explicit keyword arguments (the CLI's flags), environment
variables prefixed ``SESSIONPLANE_``, then an optional TOML file named by ``SESSIONPLANE_CONFIG``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SESSIONPLANE_", extra="forbid")

    data_dir: Path = Field(Path(".sessionplane"), description="Where the SQLite store and the keyring live.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default: a SQLite file in data_dir. PostgreSQL: postgresql+asyncpg://...",
    )
    keyring_file: Path | None = Field(None, description="Master keys (newest first); default: data_dir/keyring.")

    host: str = "127.0.0.1"
    port: int = 8600
    region: str = "local-1"
    public_endpoint: str | None = Field(None, description="Base URL advertised in the token catalog.")

    token_ttl_seconds: int = Field(24 * 3600, gt=0)
    sdk_date_max_skew_seconds: int = Field(15 * 60, gt=0)

    own_client_name: str = Field("sessionplane", description="CLIENT SETNAME of our own node connections.")
    protected_client_names: list[str] = Field(
        default_factory=list, description="Never closed or listed, on every instance."
    )
    protected_users: list[str] = Field(
        default_factory=list, description="ACL users whose sessions are never closed or listed."
    )
    node_connect_timeout_seconds: float = Field(2.0, gt=0, description="Connect and handshake, per connection.")
    node_deadline_seconds: float = Field(
        5.0, gt=0, description="Bound on one node operation (connect, command, every reply); then DBS.200018."
    )
    node_pool_size: int = Field(4, ge=1, le=64)
    per_user_kill: bool = Field(
        True, description="Close-all kills whole ACL users (CLIENT KILL USER) where protections allow it."
    )
    node_server_side_filters: bool = Field(True, description="Use CLIENT LIST filters where nodes have them.")
    node_tls_ca_file: Path | None = Field(None, description="CA bundle for nodes with TLS; default: the system's.")
    active_idle_threshold_seconds: int = Field(1, ge=0, description="A session idle less than this is active.")
    idle_over_seconds: int = Field(300, ge=0, description="Summaries and history count sessions idle this long.")
    fanout_concurrency: int = Field(64, ge=1, le=4096, description="Nodes read or closed at once by fleet calls.")
    discovery_refresh_interval_seconds: float | None = Field(
        None, gt=0, description="Refresh every discovered instance this often while serving; default: never."
    )

    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SESSIONPLANE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sessionplane.db').resolve()}"

    @property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.data_dir / "keyring"
