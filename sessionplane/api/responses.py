"""Answers serialised once, by pydantic-core, straight to bytes.

A handler that returns a dict has it validated against its ``response_model`` and then serialised:
on a page of sessions that is a tenth of the call. The routes still declare their
``response_model`` (the OpenAPI document shows it; the tests check answers against it), and return
this instead, built from data the domain already shaped.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json


class JsonAnswer(Response):
    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(to_json(content), status_code=status_code)

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else to_json(content)
