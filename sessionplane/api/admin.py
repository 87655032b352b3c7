"""sessionplane's own administration API: adopt a deployment by discovery (the account's admin only).

``POST /sessionplane/v1/{project_id}/instances`` is not part of Huawei's API (spec 2.6: it must not
be reachable with ordinary tenant credentials): a caller scoped to another project gets 403 as on
every route, and a caller who is not the account's admin gets 403 ``DBS.280032`` whatever policies
they hold. The admin is checked before the body is read, so nobody else learns what it accepts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sessionplane.api import schemas
from sessionplane.api.deps import Caller, ProjectId, Svc
from sessionplane.api.instances import _summary as instance_summary
from sessionplane.errors import Forbidden, InvalidParameter
from sessionplane.inventory.topology import MAX_SEED_LENGTH, Credentials, parse_seed

router = APIRouter(prefix="/sessionplane/v1/{project_id}", tags=["sessionplane administration"])

Name = Annotated[str, Field(min_length=1, max_length=128)]


class AdoptInstanceBody(BaseModel):
    """Body of POST /sessionplane/v1/{project_id}/instances. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    seed: str = Field(
        min_length=1,
        max_length=MAX_SEED_LENGTH,
        description="redis://host:port (a cluster node, a primary or a replica), rediss:// for TLS, or "
        "redis+sentinel://host:port/<primary name>; never with a password",
    )
    name: Name | None = Field(None, description="Instance name; default: the Sentinel's primary name, or the seed")
    username: Name | None = Field(None, description="ACL user for every discovered node")
    password: SecretStr | None = Field(None, max_length=512, description="Password for every discovered node")
    sentinel_password: SecretStr | None = Field(None, max_length=512, description="The Sentinel's own password")
    tags: dict[Name, Annotated[str, Field(max_length=255)]] = Field(default_factory=dict, max_length=50)
    enterprise_project_id: str = Field("0", min_length=1, max_length=64)
    protected_names: list[Name] = Field(default_factory=list, max_length=100)
    protected_users: list[Name] = Field(default_factory=list, max_length=100)


_ADOPT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": AdoptInstanceBody.model_json_schema()}},
    }
}


@router.post(
    "/instances",
    status_code=201,
    response_model=schemas.InstanceSummary,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=_ADOPT_BODY,
    summary="Adopt a Redis Cluster, a primary with replicas, or a Sentinel's primary (account admin only)",
)
async def adopt_instance(request: Request, project_id: ProjectId, meta: Caller, svc: Svc) -> dict:
    if not meta.principal.is_admin:
        raise Forbidden("Only the account's admin may adopt instances.")
    body = _parse(await request.body())
    instance = await svc.discovery.adopt(
        project_id=project_id,
        seed=parse_seed(body.seed),
        credentials=Credentials(
            username=body.username,
            password=body.password.get_secret_value() if body.password else None,
            sentinel_password=body.sentinel_password.get_secret_value() if body.sentinel_password else None,
        ),
        name=body.name,
        tags=body.tags,
        enterprise_project_id=body.enterprise_project_id,
        protected_names=body.protected_names,
        protected_users=body.protected_users,
    )
    return instance_summary(instance, svc.settings.region)


def _parse(raw: bytes) -> AdoptInstanceBody:
    try:
        return AdoptInstanceBody.model_validate_json(raw or b"null")
    except ValidationError as exc:
        # Never echo the input: it may hold a password.
        error = exc.errors(include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "json_invalid" or not where:
            raise InvalidParameter("Invalid parameter: the request body must be a JSON object with seed.") from None
        raise InvalidParameter(f"Invalid parameter: {where}: {error['msg']}") from None
