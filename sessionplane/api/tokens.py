"""POST /v3/auth/tokens: IAM's password sign-in, answered as Huawei IAM answers it (spec 5.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sessionplane.api.deps import Svc
from sessionplane.api.schemas import ErrorEnvelope, TokenRequest, json_body
from sessionplane.auth.login import Login, password_login
from sessionplane.errors import InvalidParameter

router = APIRouter(tags=["Authentication"])
SIGN_IN_PATH = "/v3/auth/tokens"


@router.post(
    SIGN_IN_PATH,
    status_code=201,
    summary="Obtain a user token (password, project-scoped)",
    responses={400: {"model": ErrorEnvelope}, 401: {"model": ErrorEnvelope}, 413: {"model": ErrorEnvelope}},
    openapi_extra=json_body(TokenRequest),
)
async def create_token(request: Request, svc: Svc, nocatalog: Annotated[bool, Query()] = False) -> JSONResponse:
    try:
        # The body is capped (max_signin_body_bytes) before it is read; pydantic's parser has a depth limit.
        body = TokenRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        # Never echo the input: it holds a password.
        where = ".".join(str(p) for p in exc.errors(include_input=False)[0]["loc"])
        raise InvalidParameter(f"Invalid parameter: {where or 'body'} is missing or malformed.") from None
    identity, project = body.auth.identity, body.auth.scope.project
    if identity.methods != ["password"] or not identity.password.user.domain.name:
        raise InvalidParameter('Invalid parameter: methods must be ["password"] with user.domain.name set.')
    login = await password_login(
        inventory=svc.inventory,
        keyring=svc.keyring,
        passwords=svc.passwords,
        lockouts=svc.lockouts,
        domain=identity.password.user.domain.name,
        user_name=identity.password.user.name,
        password=identity.password.user.password,
        project_id=project.id,
        project_name=project.name,
        ttl=timedelta(seconds=svc.settings.token_ttl_seconds),
    )
    endpoint = svc.settings.public_endpoint or str(request.base_url).rstrip("/")
    return JSONResponse(
        {"token": _token_body(login, svc.settings.region, endpoint, catalog=not nocatalog)},
        status_code=201,
        headers={"X-Subject-Token": login.token},
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _token_body(login: Login, region: str, endpoint: str, *, catalog: bool) -> dict:
    domain = {"id": login.account.id, "name": login.account.name}
    body = {
        "expires_at": _iso(login.claims.expires),
        "issued_at": _iso(login.claims.issued),
        "methods": ["password"],
        "user": {"id": login.user.id, "name": login.user.name, "domain": domain},
        "project": {"id": login.project.id, "name": login.project.name, "domain": domain},
        "roles": [{"id": "0", "name": "te_admin"}] if login.user.is_admin else [],
    }
    if catalog:
        body["catalog"] = [
            {
                "type": "nosql",
                "id": "gaussdbfornosql",
                "name": "gaussdbfornosql",
                "endpoints": [
                    {
                        "id": "sessionplane",
                        "interface": "public",
                        "region": region,
                        "region_id": region,
                        "url": f"{endpoint}/v3/$(tenant_id)s",
                    }
                ],
            }
        ]
    return body
