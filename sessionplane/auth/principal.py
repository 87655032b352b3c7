"""Who is calling: the result of authentication, handed to authorization, the domain and the audit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: str
    user_name: str
    account_id: str
    account_name: str
    project_id: str
    project_name: str
    is_admin: bool
    method: str  # "token" | "aksk"
    source_ip: str | None = None
    secure_transport: bool = False
    access_key_id: str | None = None


@dataclass(frozen=True)
class RequestMeta:
    """What the audit and the condition keys need to know about the request itself."""

    request_id: str
    principal: Principal
