"""The OpenAPI document and the interactive docs describe the wire as it is."""

from __future__ import annotations

import httpx


def test_openapi_lists_every_endpoint_with_its_parameters(service):
    document = httpx.get(f"{service.url}/openapi.json").json()
    paths = document["paths"]
    assert set(paths) == {
        "/v3/auth/tokens",
        "/v3/{project_id}/redis/nodes/{node_id}/sessions",
        "/v3/{project_id}/instances/{instance_id}/sessions",
        "/v3/{project_id}/redis/nodes/{node_id}/session-statistics",
        "/v3/{project_id}/instances",
        "/sessionplane/v1/{project_id}/sessions/search",
        "/sessionplane/v1/{project_id}/sessions/summary",
        "/sessionplane/v1/{project_id}/sessions/close",
        "/sessionplane/v1/{project_id}/instances",
    }
    node = paths["/v3/{project_id}/redis/nodes/{node_id}/sessions"]
    assert set(node) == {"get", "delete"}
    body = node["delete"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["is_all"] and {"session_ids", "min_idle_seconds", "addr_prefix"} <= set(
        body["properties"]
    )
    limit = next(p for p in node["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100 and limit["schema"]["default"] == 50
    assert set(paths["/v3/{project_id}/instances/{instance_id}/sessions"]) == {"get", "delete"}
    assert "404" in node["delete"]["responses"] and "error_code" in str(
        document["components"]["schemas"]["ErrorEnvelope"]
    )


def test_interactive_docs(service):
    response = httpx.get(f"{service.url}/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
