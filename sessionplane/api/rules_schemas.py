"""Wire schemas of the close-rule routes, for the OpenAPI document (``rules.model.parse_rule`` validates bodies)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sessionplane.api.fleet_schemas import Criteria

Mode = Literal["report", "enforce"]


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    match: Criteria = Field(description="At least one field: a rule never matches every session")
    exclude: Criteria | None = Field(None, description="A session matching ANY of these fields is left alone")
    interval_seconds: int = Field(60, ge=10, le=7 * 86400)
    mode: Mode = Field("report", description="report: count only; enforce: close up to max_per_run, longest idle first")
    max_per_run: int = Field(1000, ge=1, le=100_000)
    enabled: bool = True


class RulePatch(BaseModel):
    """Only the fields given change; enabling a disabled rule clears its reason and runs it at once."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=64)
    match: Criteria | None = None
    exclude: Criteria | None = None
    interval_seconds: int | None = Field(None, ge=10, le=7 * 86400)
    mode: Mode | None = None
    max_per_run: int | None = Field(None, ge=1, le=100_000)
    enabled: bool | None = None


class Rule(BaseModel):
    id: str
    instance_id: str
    name: str
    match: dict
    exclude: dict
    interval_seconds: int
    mode: Mode
    max_per_run: int
    enabled: bool
    disabled_reason: str | None
    created_at: str
    updated_at: str
    next_run_at: str = Field(description="When the next run is due (ISO 8601 UTC)")


class RuleList(BaseModel):
    total_count: int
    rules: list[Rule]


class NodeRun(BaseModel):
    node_id: str
    matched: int
    closed: int
    error_code: str | None
    error_msg: str | None


class Run(BaseModel):
    id: str
    rule_id: str
    started_at: str
    finished_at: str
    mode: Mode
    matched: int = Field(description="Sessions the rule matched (before max_per_run)")
    closed: int
    reconnected: int | None = Field(description="Closed sessions back within the reconnect window; null until then")
    nodes: list[NodeRun]
    audit_id: str | None = Field(description="The audit record of an enforcing run")


class RunList(BaseModel):
    total_count: int
    runs: list[Run]


# Bodies the rule routes read themselves, declared in the OpenAPI document's components.
BODY_MODELS: tuple[type[BaseModel], ...] = (RuleBody, RulePatch)
