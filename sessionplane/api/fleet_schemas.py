"""Wire schemas of the fleet routes, for the OpenAPI document (the selector parser validates bodies)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sessionplane.api.schemas import ERROR_RESPONSES, ErrorEnvelope

Sort = Literal["age", "-age", "idle", "-idle", "addr", "-addr", "name", "-name", "db", "-db"]
GroupBy = Literal["ip", "name", "user", "lib_name", "db", "node", "cmd"]
CLOSE_ERROR_RESPONSES: dict[int | str, dict] = {**ERROR_RESPONSES, 409: {"model": ErrorEnvelope}}


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance_ids: list[str] = Field(default_factory=list, description="Instances (all their nodes)")
    node_ids: list[str] = Field(default_factory=list, description="Single nodes")


class Criteria(BaseModel):
    """Fields AND together; values of one list OR together. Globs: * and ? only."""

    model_config = ConfigDict(extra="forbid")
    addr_prefix: str | None = Field(None, max_length=256, description="Prefix of ip:port")
    ip: list[str] | None = Field(None, description="Source IPs (no port)")
    name: list[str] | None = Field(None, description='Client name globs ("" is an unnamed client)')
    user: list[str] | None = Field(None, description="ACL user globs")
    lib_name: list[str] | None = Field(None, description="Client library globs (CLIENT SETINFO)")
    db: list[int] | None = Field(None, description="Selected databases")
    cmd: list[str] | None = Field(None, description="Last command globs")
    flags: list[str] | None = Field(None, description='Each value: flag letters that must all be present, e.g. "P"')
    min_idle_seconds: int | None = Field(None, ge=0)
    min_age_seconds: int | None = Field(None, ge=0)
    max_age_seconds: int | None = Field(None, ge=0)


class Selector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Scope | None = Field(None, description="Empty: every instance of the project you may act on")
    match: Criteria | None = None
    exclude: Criteria | None = Field(None, description="A session matching ANY of these fields is left alone")


class SearchBody(Selector):
    sort: Sort = Field("age", description="age: newest first; -age: oldest first; idle, -idle, addr, name, db")
    offset: int = Field(0, ge=0, le=10**6)
    limit: int = Field(100, ge=1, le=1000)


class SummaryBody(Selector):
    group_by: GroupBy = "ip"
    top: int = Field(20, ge=1, le=100)


class FleetCloseBody(Selector):
    dry_run: bool = Field(False, description="Answer what would be closed; close nothing")
    expect_at_most: int | None = Field(
        None, ge=0, description="More sessions match than this: close nothing, answer 409 SP.0001"
    )
    sort: Sort = Field("age", description="Order of the dry run's sessions")
    limit: int = Field(100, ge=1, le=1000, description="How many sessions a dry run shows")


class FailedNode(BaseModel):
    node_id: str
    instance_id: str
    error_code: str
    error_msg: str


class FleetSession(BaseModel):
    """Every field the node reports, as strings, dashes as underscores; plus where and whether active."""

    model_config = ConfigDict(extra="allow")
    instance_id: str
    node_id: str
    id: str
    addr: str
    name: str
    active: bool


class SearchResult(BaseModel):
    total_count: int
    sessions: list[FleetSession]
    failed_nodes: list[FailedNode]


class Group(BaseModel):
    key: str
    count: int
    active: int
    idle_over: int = Field(description="Sessions idle at least idle_over_seconds (default 300)")


class SummaryResult(BaseModel):
    total_count: int
    groups: list[Group]
    other: int = Field(description="Sessions outside the top groups")
    failed_nodes: list[FailedNode]


class NodeClose(BaseModel):
    node_id: str
    closed: int
    error_code: str | None
    error_msg: str | None


class FleetCloseResult(BaseModel):
    closed: int
    nodes: list[NodeClose]
    failed_nodes: list[NodeClose]
    audit_id: str


class FleetPreview(BaseModel):
    would_close: int
    sessions: list[FleetSession]
    failed_nodes: list[FailedNode]


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON body, its ``$defs`` inlined so every ``$ref`` resolves
    (the handlers read the body themselves, after authentication, so FastAPI does not declare it)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}
