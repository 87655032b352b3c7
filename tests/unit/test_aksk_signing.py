"""SDK-HMAC-SHA256: the public test vector, agreement with the official SDK's own signer, and refusals."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import quote, unquote

import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionplane.auth import signing
from sessionplane.auth.signing import (
    SignatureError,
    SignedRequest,
    canonical_request,
    parse_authorization,
    sign_request,
    verify,
)

AK, SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
VECTOR = SignedRequest(
    method="GET",
    path="/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
    query=(("limit", "2"), ("marker", "13551d6b-755d-4757-b956-536f674975c0")),
    headers={
        "Content-Type": "application/json",
        "Host": "service.region.example.com",
        "X-Sdk-Date": "20191115T033655Z",
    },
    body=b"",
)
VECTOR_TIME = datetime(2019, 11, 15, 3, 36, 55, tzinfo=UTC)


def test_public_test_vector():
    canonical = canonical_request(VECTOR, ["content-type", "host", "x-sdk-date"])
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    header = sign_request(VECTOR, AK, SK, ["content-type", "host", "x-sdk-date"])
    assert header.endswith("Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")
    verify(VECTOR, parse_authorization(header), SK, now=VECTOR_TIME)


def sdk_signed(method: str, path: str, query: list[tuple[str, str]], body: bytes, extra: dict[str, str]) -> SdkRequest:
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Project-Id": "a" * 32,
        "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        **extra,
    }
    request = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8600",
        resource_path=path,
        query_params=list(query),
        header_params=headers,
        body=body,
    )
    return Signer(SimpleNamespace(ak=AK, sk=SK)).sign(request)


def as_received(request: SdkRequest, query: list[tuple[str, str]], body: bytes) -> SignedRequest:
    """What the server sees: the decoded path and query, the headers as sent."""
    return SignedRequest(
        request.method,
        unquote(request.resource_path),
        tuple(query),
        {k.lower(): v for k, v in request.header_params.items()},
        body,
    )


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "DELETE"]),
    segments=st.lists(texts.filter(lambda s: "/" not in s and s not in (".", "..")), min_size=1, max_size=4),
    query=st.lists(st.tuples(texts.filter(bool), texts), max_size=4),
    body=st.one_of(st.just(b""), st.binary(max_size=64), st.just(b'{"is_all": false, "session_ids": ["1131"]}')),
)
def test_agrees_with_the_official_sdk(method, segments, query, body):
    path = "/v3/" + "/".join(segments)
    signed = sdk_signed(method, path, query, body, {})
    received = as_received(signed, query, body)
    authorization = parse_authorization(signed.header_params["Authorization"])
    verify(received, authorization, SK, now=datetime.now(UTC))
    ours = sign_request(received, AK, SK, authorization.signed_headers)
    assert ours == signed.header_params["Authorization"]


def _verifies(request: SdkRequest, body: bytes) -> bool:
    try:
        verify(
            as_received(request, [], body),
            parse_authorization(request.header_params["Authorization"]),
            SK,
            now=datetime.now(UTC),
        )
    except SignatureError as exc:
        assert exc.reason == "bad_signature"
        return False
    return True


def test_the_sdks_unsigned_payload_is_accepted_as_signed():
    """The SDK signs ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` for non-JSON bodies; that choice is the client's."""
    body = b"binary"
    signed = sdk_signed("DELETE", "/v3/x/sessions", [], body, {"Content-Type": "application/octet-stream"})
    assert signed.header_params["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert "x-sdk-content-sha256" in parse_authorization(signed.header_params["Authorization"]).signed_headers
    assert _verifies(signed, body)


def test_an_unsigned_content_hash_cannot_swap_the_body():
    """A captured signed close, replayed with an unsigned hash header naming the original body, and a new body."""
    original, swapped = b'{"is_all": false, "session_ids": ["1131"]}', b'{"is_all": true}'
    signed = sdk_signed("DELETE", "/v3/p/redis/nodes/n/sessions", [], original, {})
    assert "x-sdk-content-sha256" not in parse_authorization(signed.header_params["Authorization"]).signed_headers
    for claimed in (hashlib.sha256(original).hexdigest(), "UNSIGNED-PAYLOAD"):
        signed.header_params["X-Sdk-Content-Sha256"] = claimed
        assert not _verifies(signed, swapped)
        assert _verifies(signed, original)  # the header is ignored: the body's own hash is what was signed


def test_a_signed_content_hash_must_be_the_bodys():
    original, swapped = b'{"is_all": false, "session_ids": ["1131"]}', b'{"is_all": true}'
    lying = sdk_signed("DELETE", "/v3/p/s", [], swapped, {"X-Sdk-Content-Sha256": hashlib.sha256(original).hexdigest()})
    assert "x-sdk-content-sha256" in parse_authorization(lying.header_params["Authorization"]).signed_headers
    assert not _verifies(lying, swapped)
    for claimed in (hashlib.sha256(original).hexdigest(), hashlib.sha256(original).hexdigest().upper()):
        honest = sdk_signed("DELETE", "/v3/p/s", [], original, {"X-Sdk-Content-Sha256": claimed})
        assert _verifies(honest, original)
        assert not _verifies(honest, swapped)


@pytest.fixture
def good():
    query = [("offset", "0"), ("limit", "10")]
    body = b'{"is_all": true}'
    signed = sdk_signed("DELETE", "/v3/p/redis/nodes/n/sessions", query, body, {})
    return as_received(signed, query, body), parse_authorization(signed.header_params["Authorization"])


def refused(request, authorization, *, secret=SK, now=None) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(request, authorization, secret, now=now or datetime.now(UTC))
    assert SK not in str(caught.value) and authorization.signature not in str(caught.value)
    return caught.value.reason


def test_tampering_is_refused(good):
    request, authorization = good
    assert (
        refused(
            SignedRequest(request.method, request.path, request.query, request.headers, b'{"is_all":false}'),
            authorization,
        )
        == "bad_signature"
    )
    assert (
        refused(
            SignedRequest(
                request.method, request.path, (("offset", "1"), ("limit", "10")), request.headers, request.body
            ),
            authorization,
        )
        == "bad_signature"
    )
    assert (
        refused(
            SignedRequest(
                request.method, request.path, request.query, {**request.headers, "x-project-id": "b" * 32}, request.body
            ),
            authorization,
        )
        == "bad_signature"
    )
    assert (
        refused(SignedRequest("GET", request.path, request.query, request.headers, request.body), authorization)
        == "bad_signature"
    )
    assert refused(request, authorization, secret=SK[::-1]) == "bad_signature"
    headers = {k: v for k, v in request.headers.items() if k != "x-project-id"}
    assert (
        refused(SignedRequest(request.method, request.path, request.query, headers, request.body), authorization)
        == "malformed"
    )


def test_freshness_window(good):
    request, authorization = good
    sent = datetime.strptime(request.headers["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    for skew in (timedelta(minutes=14), -timedelta(minutes=14)):
        verify(request, authorization, SK, now=sent + skew)
    for skew in (timedelta(minutes=16), -timedelta(minutes=16)):
        assert refused(request, authorization, now=sent + skew) == "expired"


def test_the_date_must_be_signed(good):
    request, authorization = good
    unsigned_date = type(authorization)(
        authorization.access_key,
        tuple(h for h in authorization.signed_headers if h != "x-sdk-date"),
        authorization.signature,
    )
    assert refused(request, unsigned_date) == "malformed"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic abc",
        "SDK-HMAC-SHA256 Access=AK",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=xyz",
        "SDK-HMAC-SM3 Access=AK, SignedHeaders=host, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host, Signature=" + "a" * 64,
    ],
)
def test_malformed_authorization(value):
    with pytest.raises(SignatureError) as caught:
        parse_authorization(value)
    assert caught.value.reason == "malformed"


@given(st.text(max_size=40))
def test_segments_are_encoded_exactly_as_quote_does(text):
    assert signing._encode(text) == quote(text, safe="~")


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_sdk_dates_read_by_position_agree_with_strptime(moment):
    value = moment.strftime(signing.DATE_FORMAT)
    assert signing.parse_sdk_date(value) == datetime.strptime(value, signing.DATE_FORMAT).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    ["", "20261125T250000Z", "20261331T000000Z", "2026112T000000Z", "20261125T000000", "２０２６1125T000000Z", None],
)
def test_malformed_sdk_dates_are_refused(value):
    with pytest.raises(signing.SignatureError):
        signing.parse_sdk_date(value)
