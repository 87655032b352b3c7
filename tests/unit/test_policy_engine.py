"""Policy parsing and evaluation: operators, wildcards, Not* elements, role vs identity, deny wins."""

from __future__ import annotations

import json

import pytest

from sessionplane.iam.evaluate import Decision, NamedPolicy, RequestContext, evaluate
from sessionplane.iam.policy import PolicyError, parse_policy
from sessionplane.iam.system_policies import FULL_ACCESS, READ_ONLY

URN = "gaussdbfornosql:local-1:acct:instance:abc.in12"
ROLE_URN = "nosql:local-1:acct:instance:abc.in12"
DELETE = ("gaussdbfornosql:instance:deleteSession", "nosql:session:delete")
LIST = ("gaussdbfornosql:instance:listSession", "nosql:session:list")


def ctx(action=DELETE, resource: str | None = URN) -> RequestContext:
    return RequestContext(
        action=action[0],
        alias=action[1],
        resource=resource,
        role_resource=resource and resource.replace("gaussdbfornosql:", "nosql:", 1),
    )


def decide(document: dict, context: RequestContext) -> Decision:
    return evaluate([NamedPolicy("p", parse_policy(document))], context).decision


def allow(**statement) -> dict:
    return {"Version": "5.0", "Statement": [{"Effect": "Allow", **statement}]}


def when(operator: str, key: str, values) -> dict:
    return allow(Action=["gaussdbfornosql:*:*"], Condition={operator: {key: values}})


@pytest.mark.parametrize(
    ("operator", "values", "request_value", "expected"),
    [
        ("StringEquals", ["dev"], "dev", True),
        ("StringEquals", ["dev"], "Dev", False),
        ("StringNotEquals", ["prod", "staging"], "dev", True),
        ("StringNotEquals", ["prod", "dev"], "dev", False),
        ("StringEqualsIgnoreCase", ["DEV"], "dev", True),
        ("StringNotEqualsIgnoreCase", ["DEV"], "dev", False),
        ("StringMatch", ["d?v*"], "dev-1", True),
        ("StringLike", ["d.v"], "dxv", False),
        ("StringNotMatch", ["prod*"], "dev", True),
        ("StringNotLike", ["de*"], "dev", False),
        ("StringStartWith", ["de"], "dev", True),
        ("StringEndWith", ["ev"], "dev", True),
        ("StringNotStartWith", ["de"], "dev", False),
        ("StringNotEndWith", ["xx"], "dev", True),
        ("NumberEquals", ["10"], "10.0", True),
        ("NumberNotEquals", [10], "10", False),
        ("NumberLessThan", ["10"], "9", True),
        ("NumberLessThanEquals", ["10"], "10", True),
        ("NumberGreaterThan", ["10"], "10", False),
        ("NumberGreaterThanEquals", ["10"], "11", True),
        ("NumberEquals", ["10"], "ten", False),
        ("DateLessThan", ["2026-12-01T00:00:00Z"], "2026-11-24T10:00:00Z", True),
        ("DateGreaterThan", ["2026-12-01T00:00:00Z"], "2026-11-24T10:00:00Z", False),
        ("DateLessThanEquals", ["2026-11-24T10:00:00+00:00"], "2026-11-24T10:00:00Z", True),
        ("DateGreaterThanEquals", ["2026-11-24T11:00:00+01:00"], "2026-11-24T10:00:00Z", True),
        ("Bool", [True], "true", True),
        ("Bool", ["false"], "true", False),
        ("IpAddress", ["10.0.0.0/8"], "10.1.2.3", True),
        ("IpAddress", ["10.0.0.0/8"], "11.1.2.3", False),
        ("IpAddress", ["2001:db8::/32"], "2001:db8::1", True),
        ("NotIpAddress", ["127.0.0.0/8", "::1/128"], "::1", False),
        ("NotIpAddress", ["127.0.0.0/8"], "192.0.2.1", True),
    ],
)
def test_operators(operator, values, request_value, expected):
    decision = decide(when(operator, "g:UserName", values), _with_keys(**{"g:UserName": (request_value,)}))
    assert (decision is Decision.ALLOW) is expected


def _with_keys(**keys) -> RequestContext:
    return RequestContext(DELETE[0], DELETE[1], URN, ROLE_URN, keys)


def test_absent_keys_and_ifexists():
    assert decide(when("StringEquals", "g:ResourceTag/env", ["dev"]), _with_keys()) is Decision.NOT_APPLICABLE
    assert decide(when("StringEqualsIfExists", "g:ResourceTag/env", ["dev"]), _with_keys()) is Decision.ALLOW
    assert (
        decide(
            when("StringEqualsIfExists", "g:ResourceTag/env", ["dev"]), _with_keys(**{"g:ResourceTag/env": ("prod",)})
        )
        is Decision.NOT_APPLICABLE
    )
    # a negated operator holds when the key is absent (AWS semantics)
    assert decide(when("StringNotEquals", "g:ResourceTag/env", ["prod"]), _with_keys()) is Decision.ALLOW


def test_null():
    assert decide(when("Null", "g:ResourceTag/env", ["true"]), _with_keys()) is Decision.ALLOW
    assert decide(when("Null", "g:ResourceTag/env", ["false"]), _with_keys()) is Decision.NOT_APPLICABLE
    assert (
        decide(when("Null", "g:ResourceTag/env", "false"), _with_keys(**{"g:ResourceTag/env": ("x",)}))
        is Decision.ALLOW
    )


def test_keys_are_case_insensitive():
    policy = when("StringEquals", "G:RESOURCETAG/ENV", ["dev"])
    assert decide(policy, _with_keys(**{"g:ResourceTag/env": ("dev",)})) is Decision.ALLOW


def test_multi_valued_keys():
    tags = _with_keys(**{"g:TagKeys": ("env", "team")})
    assert decide(when("ForAnyValue:StringEquals", "g:TagKeys", ["team"]), tags) is Decision.ALLOW
    assert decide(when("ForAllValues:StringEquals", "g:TagKeys", ["team"]), tags) is Decision.NOT_APPLICABLE
    assert decide(when("ForAllValues:StringEquals", "g:TagKeys", ["team", "env", "x"]), tags) is Decision.ALLOW
    assert decide(when("ForAllValues:StringEquals", "g:TagKeys", ["team"]), _with_keys()) is Decision.ALLOW  # vacuous
    assert decide(when("ForAnyValue:StringEquals", "g:TagKeys", ["team"]), _with_keys()) is Decision.NOT_APPLICABLE
    assert decide(when("StringEquals", "g:TagKeys", ["team"]), tags) is Decision.ALLOW  # no prefix: any value


def test_operators_keys_and_values_combine():
    policy = allow(
        Action=["gaussdbfornosql:*:*"],
        Condition={
            "StringEquals": {"g:ResourceTag/env": ["dev", "test"], "g:EnterpriseProjectId": ["ep1"]},
            "IpAddress": {"g:SourceIp": ["127.0.0.0/8"]},
        },
    )
    base = {"g:ResourceTag/env": ("test",), "g:EnterpriseProjectId": ("ep1",), "g:SourceIp": ("127.0.0.1",)}
    assert decide(policy, _with_keys(**base)) is Decision.ALLOW
    for key, wrong in (("g:ResourceTag/env", "prod"), ("g:EnterpriseProjectId", "0"), ("g:SourceIp", "10.0.0.1")):
        assert decide(policy, _with_keys(**{**base, key: (wrong,)})) is Decision.NOT_APPLICABLE


def test_actions_are_case_insensitive_wildcards():
    assert decide(allow(Action=["GAUSSDBFORNOSQL:instance:delete*"]), ctx()) is Decision.ALLOW
    assert decide(allow(Action=["gaussdbfornosql:instance:?eleteSession"]), ctx()) is Decision.ALLOW
    assert decide(allow(Action=["gaussdbfornosql:instance:list*"]), ctx()) is Decision.NOT_APPLICABLE
    assert decide(allow(Action="*"), ctx()) is Decision.ALLOW


def test_resource_wildcards_are_escaped():
    assert decide(allow(Action=["*"], Resource=["gaussdbfornosql:*:*:instance:abc.in12"]), ctx()) is Decision.ALLOW
    literal_dot = "gaussdbfornosql:*:*:instance:abcXin12"
    assert decide(allow(Action=["*"], Resource=[literal_dot]), ctx()) is Decision.NOT_APPLICABLE
    other = ctx(resource="gaussdbfornosql:local-1:acct:instance:abcXin12")
    assert (
        decide(allow(Action=["*"], Resource=["gaussdbfornosql:*:*:instance:abc.in12"]), other)
        is Decision.NOT_APPLICABLE
    )
    assert (
        decide(allow(Action=["*"], Resource=["gaussdbfornosql:*:*:instance:[ab]*"]), ctx()) is Decision.NOT_APPLICABLE
    )


def test_not_action_and_not_resource():
    assert decide(allow(NotAction=["gaussdbfornosql:instance:deleteSession"]), ctx()) is Decision.NOT_APPLICABLE
    assert decide(allow(NotAction=["gaussdbfornosql:instance:deleteSession"]), ctx(LIST)) is Decision.ALLOW
    assert decide(allow(Action=["*"], NotResource=["gaussdbfornosql:*:*:instance:zzz*"]), ctx()) is Decision.ALLOW
    assert (
        decide(allow(Action=["*"], NotResource=["gaussdbfornosql:*:*:instance:abc*"]), ctx()) is Decision.NOT_APPLICABLE
    )


def test_actions_without_a_resource_type():
    listing = ctx(("gaussdbfornosql:instance:list", "nosql:instance:list"), resource=None)
    assert decide(allow(Action=["gaussdbfornosql:instance:list"]), listing) is Decision.ALLOW
    assert decide(allow(Action=["gaussdbfornosql:instance:list"], Resource="*"), listing) is Decision.ALLOW
    assert (
        decide(allow(Action=["gaussdbfornosql:instance:list"], Resource=["gaussdbfornosql:*:*:instance:*"]), listing)
        is Decision.NOT_APPLICABLE
    )
    assert decide(allow(Action=["*"], NotResource=["x:y:z:instance:q"]), listing) is Decision.NOT_APPLICABLE


def test_role_policies_match_the_alias():
    role = {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:session:delete"]}]}
    assert decide(role, ctx()) is Decision.ALLOW
    assert decide(role, ctx(LIST)) is Decision.NOT_APPLICABLE
    scoped = {
        "Version": "1.1",
        "Statement": [{"Effect": "Allow", "Action": ["nosql:*:*"], "Resource": ["nosql:*:*:instance:abc.in12"]}],
    }
    assert decide(scoped, ctx()) is Decision.ALLOW
    # an identity policy naming the role alias does not match
    assert decide(allow(Action=["nosql:session:delete"]), ctx()) is Decision.NOT_APPLICABLE


def test_system_policies():
    assert evaluate([FULL_ACCESS], ctx()).allowed
    assert not evaluate([READ_ONLY], ctx()).allowed
    assert evaluate([READ_ONLY], ctx(LIST)).allowed


def test_explicit_deny_wins_and_is_explained():
    deny = {"Version": "5.0", "Statement": [{"Sid": "stop", "Effect": "Deny", "Action": ["*:*:deleteSession"]}]}
    result = evaluate([FULL_ACCESS, NamedPolicy("guard", parse_policy(deny))], ctx())
    assert result.decision is Decision.DENY
    assert {(m.policy_name, m.statement_index, m.sid, m.effect) for m in result.matches} == {
        ("NoSQL FullAccess", 0, None, "Allow"),
        ("guard", 0, "stop", "Deny"),
    }
    assert evaluate([], ctx()).decision is Decision.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ("not json", "not valid JSON"),
        ([], "JSON object"),
        ({"Version": "2012-10-17", "Statement": []}, "Version"),
        ({"Version": "5.0"}, "Statement: must be a non-empty list"),
        ({"Version": "5.0", "Statement": [], "Extra": 1}, "unknown top-level field"),
        ({"Version": "5.0", "Statement": ["x"]}, "Statement[0]: must be an object"),
        (
            {"Version": "5.0", "Statement": [{"Effect": "allow ", "Action": ["a:b:c"]}]},
            'Statement[0].Effect: must be "Allow"',
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow"}]},
            "Statement[0]: give exactly one of Action or NotAction",
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "NotAction": ["a:b:c"]}]},
            "exactly one of Action",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Resource": "*", "NotResource": "*"}],
            },
            "at most one of Resource",
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": []}]},
            "Statement[0].Action: must be a non-empty",
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["deleteSession"]}]},
            "service:resource:operation",
        ),
        ({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["*"]}]}, "service:resource:operation"),
        (
            {"Version": "1.1", "Statement": [{"Effect": "Allow", "NotAction": ["a:b:c"]}]},
            "not allowed in a role policy",
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Principal": "*"}]},
            "unknown field 'Principal'",
        ),
        (
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Condition": []}]},
            "Statement[0].Condition",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {"Effect": "Allow", "Action": ["a:b:c"], "Condition": {"StringEqual": {"g:UserName": ["x"]}}}
                ],
            },
            "Statement[0].Condition.StringEqual: unknown operator",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {"Effect": "Allow", "Action": ["a:b:c"], "Condition": {"StringEquals": {"g:Nope": ["x"]}}}
                ],
            },
            "unknown condition key",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {"Effect": "Allow", "Action": ["a:b:c"], "Condition": {"StringEquals": {"g:UserName": []}}}
                ],
            },
            "at least one value",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {"Effect": "Allow", "Action": ["a:b:c"], "Condition": {"NumberLessThan": {"g:UserName": ["ten"]}}}
                ],
            },
            "Statement[0].Condition.NumberLessThan.g:UserName: 'ten' is not a valid value",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["a:b:c"],
                        "Condition": {"IpAddress": {"g:SourceIp": ["10.0.0.300/8"]}},
                    }
                ],
            },
            "not a valid value",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["a:b:c"],
                        "Condition": {"DateLessThan": {"g:CurrentTime": ["tomorrow"]}},
                    }
                ],
            },
            "not a valid value",
        ),
        (
            {
                "Version": "5.0",
                "Statement": [
                    {"Effect": "Allow", "Action": ["a:b:c"], "Condition": {"Bool": {"g:SecureTransport": ["yes"]}}}
                ],
            },
            "not a valid value",
        ),
    ],
)
def test_malformed_policies_say_where(document, where):
    with pytest.raises(PolicyError) as caught:
        parse_policy(document if isinstance(document, str) else json.dumps(document))
    assert where in str(caught.value)
