"""One typed settings object, read once at start-up and passed down.

Sources, highest precedence first: explicit keyword arguments (the CLI's flags), environment
variables prefixed ``SESSIONPLANE_``, then an optional TOML file named by ``SESSIONPLANE_CONFIG``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
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
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed. None by default: the peer is the client (its address is g:SourceIp, its scheme "
        "g:SecureTransport).",
    )
    region: str = "local-1"
    public_endpoint: str | None = Field(None, description="Base URL advertised in the token catalog.")

    token_ttl_seconds: int = Field(24 * 3600, gt=0)
    sdk_date_max_skew_seconds: int = Field(15 * 60, gt=0)
    password_hash_concurrency: int = Field(
        2, ge=1, le=64, description="Argon2 hashes at once (in threads, off the event loop); the rest queue."
    )
    password_lockout_failures: int = Field(5, ge=2, description="Wrong passwords for one user name that lock it.")
    password_lockout_window_seconds: int = Field(15 * 60, gt=0, description="...counted within this window.")
    password_lockout_seconds: int = Field(15 * 60, gt=0, description="How long the lock lasts.")

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
    node_pool_size: int = Field(4, ge=1, le=64, description="Connections to one node at most.")
    node_pool_idle_seconds: float = Field(
        300.0, gt=0, description="A node's pool unused this long is closed (its file descriptors freed)."
    )
    per_user_kill: bool = Field(
        True, description="Close-all kills whole ACL users (CLIENT KILL USER) where protections allow it."
    )
    close_list_ahead_max_nodes: int = Field(
        16,
        ge=0,
        description="A close-all of at most this many nodes sends each node's listing while the audit record is "
        "written; a wider one sends it with the kills.",
    )
    node_server_side_filters: bool = Field(True, description="Use CLIENT LIST filters where nodes have them.")
    node_tls_ca_file: Path | None = Field(None, description="CA bundle for nodes with TLS; default: the system's.")
    active_idle_threshold_seconds: int = Field(1, ge=0, description="A session idle less than this is active.")
    idle_over_seconds: int = Field(300, ge=0, description="Summaries and history count sessions idle this long.")
    fanout_concurrency: int = Field(64, ge=1, le=4096, description="Nodes read or closed at once by fleet calls.")
    discovery_refresh_interval_seconds: float | None = Field(
        None, gt=0, description="Refresh every discovered instance this often while serving; default: never."
    )

    # Session history (extensions section 3), node health and /metrics (section 5).
    sample_interval_seconds: float = Field(15.0, ge=0, description="CLIENT LIST sampling period; 0 turns it off.")
    history_top_k: int = Field(20, ge=1, le=1000, description="Groups kept per dimension; the rest is '(other)'.")
    history_raw_retention_seconds: int = Field(24 * 3600, gt=0, description="How long raw samples are kept.")
    history_rollup_retention_seconds: int = Field(
        30 * 24 * 3600, gt=0, description="How long 5-minute roll-ups are kept."
    )
    probe_interval_seconds: float = Field(5.0, ge=0, description="Node health probe (PING) period; 0 turns it off.")
    probe_timeout_seconds: float = Field(1.0, gt=0, description="A PING slower than this is a failed probe.")
    probe_failures_before_abnormal: int = Field(
        2, ge=1, description="Consecutive failed probes that make a node abnormal."
    )
    background_concurrency: int = Field(16, ge=1, le=1024, description="Nodes the sampler and the probe read at once.")
    keep_freed_memory_mb: int = Field(
        64, ge=0, le=1024, description="Freed memory the serving process keeps for reuse (glibc); 0: the defaults."
    )
    metrics_enabled: bool | None = Field(
        None, description="/metrics: default on for loopback binds or when a bearer token is set, off otherwise."
    )
    metrics_bearer_token: SecretStr | None = Field(None, description="When set, /metrics requires this bearer token.")

    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest request body (413 APIG.0201 above it).")
    max_signin_body_bytes: int = Field(
        16 * 1024, gt=0, description="Largest sign-in body: it is read before anyone is authenticated."
    )
    max_header_bytes: int = Field(32 * 1024, ge=1024, description="Largest request line plus headers (431 above).")
    max_header_count: int = Field(100, ge=8, description="Most header fields in one request (431 above).")
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="A request body must arrive within this once it is read (408 after)."
    )

    audit_pending_grace_seconds: float | None = Field(
        None,
        gt=0,
        description="A close pending longer than this is marked interrupted; default: derived from the node timeouts.",
    )
    reconnect_window_seconds: float = Field(
        30.0, ge=0, le=86400, description="After a close, look at the nodes again this much later to count reconnects."
    )
    rule_tick_seconds: float = Field(
        1.0, ge=0, description="How often the serving process looks for due close rules (0: the scheduler is off)."
    )
    rule_lease_seconds: float = Field(
        300.0, gt=0, description="A replica running a rule holds it this long at most (then another may take over)."
    )
    rule_run_retention_days: float = Field(30.0, gt=0, description="Close-rule runs older than this are pruned.")

    # Rate limits (APIG.0308), counted in the store across replicas; each is off while unset.
    rate_limit_per_caller: int | None = Field(
        None, ge=1, description="Requests per window per access key (AK/SK) or user (token); unset: no limit."
    )
    rate_limit_per_project: int | None = Field(
        None, ge=1, description="Requests per window per project; unset: no limit."
    )
    rate_limit_window_seconds: int = Field(60, ge=1, le=86400, description="The rate limits' fixed window.")

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
