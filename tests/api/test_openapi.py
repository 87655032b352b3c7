"""The OpenAPI document and the interactive docs describe the wire as it is, and work offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

TENANT_ROUTES = {
    ("/v3/{project_id}/redis/nodes/{node_id}/sessions", "get"),
    ("/v3/{project_id}/redis/nodes/{node_id}/sessions", "delete"),
    ("/v3/{project_id}/instances/{instance_id}/sessions", "get"),
    ("/v3/{project_id}/instances/{instance_id}/sessions", "delete"),
    ("/v3/{project_id}/redis/nodes/{node_id}/session-statistics", "get"),
    ("/v3/{project_id}/instances", "get"),
    ("/sessionplane/v1/{project_id}/sessions/search", "post"),
    ("/sessionplane/v1/{project_id}/sessions/summary", "post"),
    ("/sessionplane/v1/{project_id}/sessions/close", "post"),
    ("/sessionplane/v1/{project_id}/instances", "post"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/session-history", "get"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/session-growth", "get"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules", "get"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules", "post"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules/{rule_id}", "get"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules/{rule_id}", "patch"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules/{rule_id}", "delete"),
    ("/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules/{rule_id}/runs", "get"),
    ("/sessionplane/v1/{project_id}/audit", "get"),
    ("/sessionplane/v1/{project_id}/permissions", "get"),
}


@pytest.fixture(scope="module")
def document(service) -> dict:
    return httpx.get(f"{service.url}/openapi.json").json()


def resolver(document: dict):
    return Registry().with_resource("", Resource(document, DRAFT202012)).resolver()


def at(document: dict, node: dict, *keys: str) -> dict:
    """Walk ``keys`` down from ``node``, following every $ref on the way."""
    for key in (None, *keys):
        node = node if key is None else node[key]
        while "$ref" in node:
            node = resolver(document).lookup(node["$ref"]).contents
    return node


def close_body(document: dict) -> dict:
    operation = document["paths"]["/v3/{project_id}/redis/nodes/{node_id}/sessions"]["delete"]
    return at(document, operation, "requestBody", "content", "application/json", "schema")


def all_refs(node: object) -> list[str]:
    refs, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                refs.append(item["$ref"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return refs


def test_the_document_is_valid_openapi_with_every_reference_resolvable(document):
    validate(document)
    refs = all_refs(document)
    assert refs
    unresolvable = []
    for ref in refs:
        try:
            resolver(document).lookup(ref)
        except Unresolvable:
            unresolvable.append(ref)
    assert unresolvable == []


def test_openapi_lists_every_endpoint_with_its_parameters(document):
    paths = document["paths"]
    assert {(path, method) for path, methods in paths.items() for method in methods} == TENANT_ROUTES | {
        ("/v3/auth/tokens", "post")
    }
    node = paths["/v3/{project_id}/redis/nodes/{node_id}/sessions"]
    body = close_body(document)
    assert body["required"] == ["is_all"] and {"session_ids", "min_idle_seconds", "addr_prefix"} <= set(
        body["properties"]
    )
    limit = next(p for p in node["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100 and limit["schema"]["default"] == 50
    offset = next(p for p in node["get"]["parameters"] if p["name"] == "offset")
    assert offset["schema"]["minimum"] == 0 and offset["schema"]["maximum"] == 2**31 - 1
    assert "404" in node["delete"]["responses"] and "413" in node["delete"]["responses"]
    assert "error_code" in str(document["components"]["schemas"]["ErrorEnvelope"])


def test_the_routes_that_bind_their_own_parameters_declare_each_of_them(document):
    """api.params declares them from the models it binds with: path ones required, query ones optional."""
    node, instance = "/v3/{project_id}/redis/nodes/{node_id}", "/v3/{project_id}/instances/{instance_id}/sessions"
    expected = {
        (f"{node}/sessions", "get"): ["project_id", "node_id", "offset", "limit", "addr_prefix"],
        (f"{node}/sessions", "delete"): ["project_id", "node_id", "dry_run"],
        (f"{node}/session-statistics", "get"): ["project_id", "node_id"],
        (instance, "get"): ["project_id", "instance_id", "node_id"],
        (instance, "delete"): ["project_id", "instance_id", "node_id"],
    }
    for (path, method), names in expected.items():
        operation = document["paths"][path][method]
        assert [p["name"] for p in operation["parameters"]] == names, (path, method)
        assert all(p["required"] is (p["in"] == "path") for p in operation["parameters"]), (path, method)
        assert all(p["schema"]["maxLength"] == 64 for p in operation["parameters"] if p["in"] == "path")
        assert "400" in operation["responses"]


def test_no_operation_promises_a_422(document):
    """A value that does not validate is Huawei's 400 on every route (api.errors): FastAPI's 422 is never sent."""
    operations = [(path, method, op) for path, methods in document["paths"].items() for method, op in methods.items()]
    assert [(path, method) for path, method, op in operations if "422" in op["responses"]] == []
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_tenant_routes_declare_the_token_scheme(document):
    scheme = document["components"]["securitySchemes"]["X-Auth-Token"]
    assert scheme == scheme | {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    for path, method in TENANT_ROUTES:
        assert document["paths"][path][method]["security"] == [{"X-Auth-Token": []}], (path, method)
    assert "security" not in document["paths"]["/v3/auth/tokens"]["post"]


def test_the_sign_in_body_schema_resolves(document):
    operation = document["paths"]["/v3/auth/tokens"]["post"]
    assert operation["requestBody"]["required"] is True
    body = at(document, operation, "requestBody", "content", "application/json", "schema")
    user = at(document, body, "properties", "auth", "properties", "identity", "properties", "password")
    user = at(document, user, "properties", "user")
    assert {"name", "password", "domain"} <= set(user["properties"])
    assert user["required"] == ["name", "password", "domain"]


def test_the_close_body_schema_requires_session_ids_when_is_all_is_false(document):
    schema = close_body(document)
    assert schema["if"] == {"properties": {"is_all": {"const": False}}}
    assert schema["then"]["required"] == ["session_ids"]
    validator = Draft202012Validator(schema)
    assert not validator.is_valid({"is_all": False})
    assert not validator.is_valid({"is_all": False, "session_ids": []})
    assert validator.is_valid({"is_all": False, "session_ids": ["1131"]})
    assert validator.is_valid({"is_all": True})
    assert all(validator.is_valid(example) for example in schema["examples"])


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") or (found.get("href") if tag == "link" else None)
        if url:
            self.urls.append(url)
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        assert "style" not in found and not any(name.startswith("on") for name in found), (tag, found)


def test_the_docs_page_loads_every_asset_from_this_server(service):
    page = httpx.get(f"{service.url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = _Assets()
    assets.feed(page.text)
    assert assets.inline_scripts == 0 and len(assets.urls) >= 4
    for url in assets.urls:
        absolute = urljoin(f"{service.url}/docs", url)
        assert urlsplit(absolute).netloc == urlsplit(service.url).netloc, url  # nothing from a CDN
        asset = httpx.get(absolute)
        assert asset.status_code == 200 and asset.content, url
    scripts = [url for url in assets.urls if url.endswith(".js")]
    assert any("swagger-ui-bundle.js" in url for url in scripts)
    init = httpx.get(urljoin(f"{service.url}/docs", scripts[-1])).text
    assert "SwaggerUIBundle(" in init
    (spec_url,) = re.findall(r"url:\s*\"([^\"]+)\"", init)
    assert httpx.get(urljoin(f"{service.url}/docs", spec_url)).json()["openapi"].startswith("3.")


def test_the_docs_page_has_a_strict_content_security_policy(service):
    policy = httpx.get(f"{service.url}/docs").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["connect-src"] == "'self'"
    assert "unsafe" not in policy and "http" not in policy and "*" not in policy


def test_api_answers_carry_a_deny_all_policy(service):
    response = httpx.get(f"{service.url}/openapi.json")
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_rule_and_audit_routes_are_described(document):
    paths = document["paths"]
    rules = "/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules"
    assert set(paths[rules]) == {"get", "post"} and set(paths[rules + "/{rule_id}"]) == {"get", "patch", "delete"}
    body = at(document, paths[rules]["post"], "requestBody", "content", "application/json", "schema")
    assert body["properties"]["interval_seconds"]["minimum"] == 10 and body["properties"]["mode"]["enum"] == [
        "report",
        "enforce",
    ]
    audit = {p["name"] for p in paths["/sessionplane/v1/{project_id}/audit"]["get"]["parameters"]}
    assert {"since", "until", "outcome", "actor", "instance_id", "offset", "limit"} <= audit
