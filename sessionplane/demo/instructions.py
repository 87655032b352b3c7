"""What the demo prints: endpoint, credentials, ready-to-paste curl commands and an SDK snippet."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from sessionplane.demo.run import DemoState


def curl_commands(state: DemoState) -> str:
    e, p, i, n = state.endpoint, state.project_id, state.instance_id, state.nodes[0]["id"]
    login = json.dumps(
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": state.user["name"],
                            "password": state.user["password"],
                            "domain": {"name": state.user["domain"]},
                        }
                    },
                },
                "scope": {"project": {"id": p}},
            }
        }
    )
    auth = '-H "X-Auth-Token: $TOKEN"'
    return f"""\
# sign in: the token comes back in the X-Subject-Token header
TOKEN=$(curl -si -X POST {e}/v3/auth/tokens -H 'Content-Type: application/json' \\
  -d '{login}' | grep -i '^x-subject-token:' | cut -d' ' -f2 | tr -d '\\r')

# list instances and their nodes
curl -s {auth} '{e}/v3/{p}/instances'
# list sessions of a node (newest first), page 1
curl -s {auth} '{e}/v3/{p}/redis/nodes/{n}/sessions?offset=0&limit=10'
# list sessions of every node of the instance
curl -s {auth} '{e}/v3/{p}/instances/{i}/sessions'
# session statistics of a node
curl -s {auth} '{e}/v3/{p}/redis/nodes/{n}/session-statistics'
# what would closing idle sessions close? (dry run: closes nothing)
curl -s -X DELETE {auth} -H 'Content-Type: application/json' \\
  '{e}/v3/{p}/redis/nodes/{n}/sessions?dry_run=true' -d '{{"is_all": true, "min_idle_seconds": 0}}'
# close sessions of a node by ID (use IDs from the listing)
curl -s -X DELETE {auth} -H 'Content-Type: application/json' \\
  '{e}/v3/{p}/redis/nodes/{n}/sessions' -d '{{"is_all": false, "session_ids": ["1131", "2323"]}}'
# close every client session of a node
curl -s -X DELETE {auth} -H 'Content-Type: application/json' \\
  '{e}/v3/{p}/redis/nodes/{n}/sessions' -d '{{"is_all": true}}'
# close every client session of every node of the instance
curl -s -X DELETE {auth} '{e}/v3/{p}/instances/{i}/sessions'
# the instance's close rules, and the demo rule's runs (newest first; one a minute)
curl -s {auth} '{e}/sessionplane/v1/{p}/instances/{i}/close-rules'
curl -s {auth} '{e}/sessionplane/v1/{p}/instances/{i}/close-rules/{state.rule_id}/runs?limit=5'
# the audit trail: closes with how many came back, rule changes and runs, newest first
curl -s {auth} '{e}/sessionplane/v1/{p}/audit?limit=5'
"""


def enforce_commands(state: DemoState) -> str:
    rule = (
        f"{state.endpoint}/sessionplane/v1/{state.project_id}/instances/{state.instance_id}/close-rules/{state.rule_id}"
    )
    return f"""\
# the demo rule only counts "batch-*" clients idle over 60 s; to have it close them:
curl -s -X PATCH -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \\
  '{rule}' -d '{{"mode": "enforce"}}'
# or, with the data dir exported as above:
sessionplane rules update {state.rule_id} --mode enforce
"""


def sdk_snippet(state: DemoState) -> str:
    return f"""\
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkgaussdbfornosql.v3 import GaussDBforNoSQLClient, ListInstancesSessionRequest

client = (GaussDBforNoSQLClient.new_builder()
          .with_credentials(BasicCredentials("{state.ak}", "{state.sk}", "{state.project_id}"))
          .with_endpoints(["{state.endpoint}"]).build())
print(client.list_instances_session(ListInstancesSessionRequest(node_id="{state.nodes[0]["id"]}", limit=10)))
"""


def print_instructions(state: DemoState) -> None:
    console = Console()
    console.rule("[bold]sessionplane demo")
    console.print(f"endpoint     {state.endpoint}   (docs: {state.endpoint}/docs)")
    console.print(f"console      {state.endpoint}/console/   (sign in with a user below and the project)")
    console.print(f"region       {state.region}")
    console.print(f"project      {state.project_id}")
    console.print(f"instance     {state.instance_id}  (Cluster, tags env=dev team=payments)")
    for node in state.nodes:
        console.print(f"node         {node['id']}  {node['host']}:{node['port']}  password={node['password']}")
    console.print(
        f"admin user   domain={state.user['domain']} name={state.user['name']} password={state.user['password']}"
    )
    ro = state.readonly_user
    console.print(f"read-only    domain={ro['domain']} name={ro['name']} password={ro['password']}")
    console.print(f"AK / SK      {state.ak} / {state.sk}")
    console.print(
        f"data dir     {state.data_dir}   (export SESSIONPLANE_DATA_DIR={state.data_dir} for operator commands)"
    )
    # Commands are printed plain, never wrapped, so that they paste as they are.
    console.rule("curl")
    print(curl_commands(state), flush=True)
    console.rule("close rules")
    print(enforce_commands(state), flush=True)
    console.rule("Python SDK (pip install huaweicloudsdkgaussdbfornosql)")
    print(sdk_snippet(state), flush=True)
    console.rule("Ctrl-C stops the demo and removes its nodes and data")
