"""Properties of policy evaluation, over generated policies and requests."""

from __future__ import annotations

import contextlib
import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionplane.iam.evaluate import Decision, NamedPolicy, RequestContext, evaluate
from sessionplane.iam.patterns import wildcard_match
from sessionplane.iam.policy import PolicyError, parse_policy

ACTIONS = [
    "gaussdbfornosql:instance:deleteSession",
    "gaussdbfornosql:instance:listSession",
    "gaussdbfornosql:instance:list",
    "gaussdbfornosql:*:*",
    "gaussdbfornosql:instance:*Session",
    "*",
]
RESOURCES = [
    "*",
    "gaussdbfornosql:*:*:instance:*",
    "gaussdbfornosql:*:*:instance:i1",
    "gaussdbfornosql:r:a:instance:i?",
]
CONDITIONS = [
    None,
    {"StringEquals": {"g:ResourceTag/env": ["dev"]}},
    {"StringNotEquals": {"g:EnterpriseProjectId": ["0"]}},
    {"StringEqualsIfExists": {"g:ResourceTag/team": ["a"]}},
    {"Null": {"g:ResourceTag/env": ["false"]}},
]

statements = st.builds(
    lambda effect, action, resource, condition: {
        "Effect": effect,
        "Action": [action],
        "Resource": [resource],
        **({"Condition": condition} if condition else {}),
    },
    st.sampled_from(["Allow", "Deny"]),
    st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES),
    st.sampled_from(CONDITIONS),
)
policies = st.lists(st.lists(statements, min_size=1, max_size=4), max_size=4).map(
    lambda groups: [
        NamedPolicy(f"p{i}", parse_policy({"Version": "5.0", "Statement": g})) for i, g in enumerate(groups)
    ]
)
contexts = st.builds(
    lambda action, instance, env, ep: RequestContext(
        action=action,
        alias="nosql:session:delete",
        resource=f"gaussdbfornosql:r:a:instance:{instance}",
        role_resource=None,
        keys={**({"g:ResourceTag/env": (env,)} if env else {}), "g:EnterpriseProjectId": (ep,)},
    ),
    st.sampled_from(ACTIONS[:3]),
    st.sampled_from(["i1", "i2", "x"]),
    st.sampled_from([None, "dev", "prod"]),
    st.sampled_from(["0", "ep1"]),
)
DENY_ALL = NamedPolicy("deny-all", parse_policy({"Version": "5.0", "Statement": [{"Effect": "Deny", "Action": ["*"]}]}))
ALLOW_ALL = NamedPolicy(
    "allow-all", parse_policy({"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["*"]}]})
)


@given(policies, contexts)
def test_a_matching_deny_always_wins(named, context):
    assert evaluate([*named, DENY_ALL], context).decision is Decision.DENY


@given(policies, contexts)
def test_adding_an_allow_never_turns_a_decision_into_deny_or_removes_a_deny(named, context):
    before = evaluate(named, context).decision
    after = evaluate([*named, ALLOW_ALL], context).decision
    assert after is (Decision.DENY if before is Decision.DENY else Decision.ALLOW)


@given(policies, contexts, st.randoms(use_true_random=False))
def test_order_never_matters(named, context, rng: random.Random):
    shuffled = [
        NamedPolicy(
            p.name, type(p.policy)(p.policy.version, tuple(rng.sample(p.policy.statements, len(p.policy.statements))))
        )
        for p in rng.sample(named, len(named))
    ]
    assert evaluate(shuffled, context).decision is evaluate(named, context).decision


@given(st.text(max_size=30))
def test_a_literal_pattern_matches_only_itself(text):
    literal = text.replace("*", "").replace("?", "")
    assert wildcard_match(literal, literal)
    assert wildcard_match("*", text)
    assert not wildcard_match(literal, literal + "x")


@given(st.text(max_size=20), st.text(max_size=20))
def test_wildcard_agrees_with_equality_for_literals(a, b):
    a, b = a.replace("*", "").replace("?", ""), b.replace("*", "").replace("?", "")
    assert wildcard_match(a, b) is (a == b)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Version",
                    "Statement",
                    "Effect",
                    "Action",
                    "NotAction",
                    "Resource",
                    "Condition",
                    "StringEquals",
                    "g:UserName",
                    "Sid",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(json_values)
def test_parsing_arbitrary_json_raises_only_policy_errors(document):
    with contextlib.suppress(PolicyError):
        parse_policy(json.dumps(document))


statement_like = st.dictionaries(
    st.sampled_from(["Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Sid"]),
    st.sampled_from(
        [
            "Allow",
            "Deny",
            "a:b:c",
            ["a:b:*"],
            [],
            "*",
            3,
            None,
            {"StringEquals": {"g:UserName": ["x"]}},
            {"Nope": {}},
            {"NumberLessThan": {"g:UserName": "x"}},
        ]
    ),
    max_size=5,
)


@settings(max_examples=300)
@given(st.sampled_from(["5.0", "1.1"]), st.lists(statement_like, min_size=1, max_size=3))
def test_parsing_statement_shaped_json_raises_only_policy_errors(version, statements):
    try:
        policy = parse_policy(json.dumps({"Version": version, "Statement": statements}))
    except PolicyError:
        return
    context = RequestContext("a:b:c", "a:b:c", "gaussdbfornosql:r:a:instance:i", None, {"g:UserName": ("x",)})
    evaluate([NamedPolicy("generated", policy)], context)  # a parsed policy always evaluates
