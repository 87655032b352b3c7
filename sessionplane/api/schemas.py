"""Wire schemas: exactly what goes over HTTP, as Huawei's API reference and SDK declare it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_CLIENT_ID = 2**63 - 1


class CloseNodeSessionsBody(BaseModel):
    """Body of DELETE /v3/{project_id}/redis/nodes/{node_id}/sessions. Unknown fields are ignored."""

    is_all: StrictBool = Field(description="true: close every client session of the node")
    session_ids: list[StrictStr | StrictInt] | None = Field(
        None, description="Session IDs (decimal strings; JSON integers accepted) to close when is_all is false"
    )
    min_idle_seconds: Annotated[StrictInt, Field(ge=0)] | None = Field(
        None, description="sessionplane extension: close only sessions idle at least this long"
    )
    addr_prefix: Annotated[StrictStr, Field(max_length=256)] | None = Field(
        None, description="sessionplane extension: close only sessions whose addr starts with this"
    )


class Session(BaseModel):
    id: str
    addr: str
    name: str
    cmd: str
    age: str
    idle: str
    db: str
    fd: str
    sub: str
    psub: str
    multi: str


class NodeSessionsPage(BaseModel):
    total_count: int
    sessions: list[Session]


class DryRunResult(BaseModel):
    sessions: list[Session]


class NodeSessions(BaseModel):
    node_id: str
    total_count: int
    sessions: list[Session]


class InstanceSessions(BaseModel):
    node_sessions: list[NodeSessions]


class SourceIpCount(BaseModel):
    client_ip: str
    connection_count: int


class DbCount(BaseModel):
    db: str
    connection_count: int


class SessionStatistics(BaseModel):
    total_connection_count: int
    active_connection_count: int
    top_source_ips: list[SourceIpCount]
    top_dbs: list[DbCount]


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorEnvelope(BaseModel):
    error_code: str
    error_msg: str
    request_id: str | None = None


# The error answers every tenant route documents in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict] = {code: {"model": ErrorEnvelope} for code in (400, 401, 403, 404, 500)}


class Datastore(BaseModel):
    type: str
    version: str


class InstanceNode(BaseModel):
    id: str
    name: str
    status: str
    role: str
    private_ip: str
    port: str


class InstanceGroup(BaseModel):
    id: str
    status: str
    nodes: list[InstanceNode]


class InstanceSummary(BaseModel):
    id: str
    name: str
    status: str
    mode: str
    region: str
    port: str
    engine: str
    datastore: Datastore
    enterprise_project_id: str
    created: str
    updated: str
    groups: list[InstanceGroup]


class InstanceList(BaseModel):
    instances: list[InstanceSummary]
    total_count: int
