"""Wire schemas: exactly what goes over HTTP, as Huawei's API reference and SDK declare it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_CLIENT_ID = 2**63 - 1
MAX_SECONDS = 2**31 - 1  # 68 years: any idle time a node can report


class CloseNodeSessionsBody(BaseModel):
    """Body of DELETE /v3/{project_id}/redis/nodes/{node_id}/sessions. Unknown fields are ignored."""

    model_config = ConfigDict(
        json_schema_extra={
            # The rule bodies.parse_close_body enforces, stated where clients and validators can read it.
            "if": {"properties": {"is_all": {"const": False}}},
            "then": {"required": ["session_ids"], "properties": {"session_ids": {"minItems": 1}}},
            "examples": [{"is_all": False, "session_ids": ["1131", "2323"]}, {"is_all": True}],
        }
    )

    is_all: StrictBool = Field(description="true: close every client session of the node")
    session_ids: list[StrictStr | StrictInt] | None = Field(
        None,
        description="Session IDs (decimal strings; JSON integers accepted) to close. "
        "Required and non-empty when is_all is false; ignored when it is true.",
    )
    min_idle_seconds: Annotated[StrictInt, Field(ge=0, le=MAX_SECONDS)] | None = Field(
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
ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 403, 404, 408, 413, 429, 500)
}


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


class NameOrId(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None
    id: str | None = None


class PasswordUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    domain: NameOrId


class PasswordCredentials(BaseModel):
    user: PasswordUser


class TokenIdentity(BaseModel):
    methods: list[str] = Field(description='Must be ["password"]')
    password: PasswordCredentials


class TokenScope(BaseModel):
    project: NameOrId = Field(description="The project, by id or by name")


class TokenAuth(BaseModel):
    identity: TokenIdentity
    scope: TokenScope


class TokenRequest(BaseModel):
    """Body of POST /v3/auth/tokens: IAM's password sign-in, scoped to one project."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "auth": {
                        "identity": {
                            "methods": ["password"],
                            "password": {"user": {"name": "admin", "password": "...", "domain": {"name": "acme"}}},
                        },
                        "scope": {"project": {"id": "0123456789abcdef0123456789abcdef"}},
                    }
                }
            ]
        }
    )

    auth: TokenAuth


# Bodies the routes read themselves (after authentication, under the size limits): declared in
# OpenAPI by reference, their schemas added to the document's components by ``api.openapi``.
BODY_MODELS: tuple[type[BaseModel], ...] = (CloseNodeSessionsBody, TokenRequest)
SCHEMA_REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel]) -> dict:
    """A route's ``openapi_extra`` declaring a required JSON body of ``model`` (listed in ``openapi.install``)."""
    schema = {"$ref": SCHEMA_REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
