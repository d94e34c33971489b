"""Reference-agent investigation of RBAC: a workload whose ServiceAccount is denied an API request it needs.

``rbac_denied`` reads the logs of Running-but-not-Ready pods for the API server's 403
sentence (``configmaps "x" is forbidden: User "system:serviceaccount:ns:sa" cannot get resource
"configmaps" in API group "" in the namespace "ns"``) and grants exactly that request: a rule
added to the Role the ServiceAccount is already bound to (created again if the binding points
at a missing Role), or a Role and RoleBinding named after the ServiceAccount when nothing binds it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from . import reference as base

if TYPE_CHECKING:
    from .reference import Cluster, Finding

Obj = dict[str, Any]
FORBIDDEN = re.compile(r'(?:"(?P<name>[^"]+)" )?is forbidden: User "system:serviceaccount:(?P<account_namespace>[^:"]+):'
                       r'(?P<account>[^"]+)" cannot (?P<verb>[a-z]+) resource "(?P<resource>[^"]+)" in API group '
                       r'"(?P<group>[^"]*)" in the namespace "(?P<namespace>[^"]+)"')
RBAC_API = "rbac.authorization.k8s.io"


def _rule(match: re.Match[str]) -> Obj:
    rule: Obj = {"apiGroups": [match.group("group")], "resources": [match.group("resource")],
                 "verbs": [match.group("verb")]}
    if match.group("name"):
        rule["resourceNames"] = [match.group("name")]
    return rule


def _binds(binding: Obj, account: str, account_namespace: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == account
               and (s.get("namespace") or binding["metadata"]["namespace"]) == account_namespace
               for s in binding.get("subjects") or [])


def _items(cluster: "Cluster", kind: str, namespace: str) -> list[Obj]:
    result = cluster.tools.kubectl("get", kind, "-n", namespace, "-o", "json")
    return json.loads(result.stdout).get("items", []) if result.ok else []


def rbac_denied(cluster: "Cluster") -> "Finding | None":
    """A not-ready workload logging a 403 for its ServiceAccount gets that request granted (``rbac``)."""
    seen: set[tuple[str, str, str]] = set()
    for pod in cluster.live_pods():
        status = pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        workload = cluster.workload_of(pod)
        if ready or status.get("phase") != "Running" or workload is None or workload in seen:
            continue
        seen.add(workload)
        match = FORBIDDEN.search(cluster.logs(pod))
        if match is not None and match.group("namespace") in cluster.namespaces:
            return _grant(cluster, workload, match)
    return None


def _grant(cluster: "Cluster", workload: tuple[str, str, str], match: re.Match[str]) -> "Finding":
    namespace, account = match.group("namespace"), match.group("account")
    rule = _rule(match)
    request = (f'{match.group("verb")} {match.group("resource")}'
               + (f' "{match.group("name")}"' if match.group("name") else "") + f" in namespace {namespace}")
    what = (f"{workload[0]} {workload[1]}/{workload[2]} is not ready: the API server denies its ServiceAccount "
            f"{match.group('account_namespace')}/{account} the request {request}")
    bindings = [b for b in _items(cluster, "rolebindings", namespace)
                if _binds(b, account, match.group("account_namespace")) and (b.get("roleRef") or {}).get("kind") == "Role"]
    roles = {r["metadata"]["name"]: r for r in _items(cluster, "roles", namespace)}
    if bindings:
        role_name, binding = bindings[0]["roleRef"]["name"], bindings[0]["metadata"]["name"]
        fix = f"{_ensure_rule(cluster, namespace, role_name, roles, rule)}, which RoleBinding {binding} grants it"
        return base.Finding("rbac", "Role", namespace, role_name, f"{what}. Fix: {fix}.", [workload])
    fix = _ensure_rule(cluster, namespace, account, roles, rule)
    cluster.tools.kubectl("create", "rolebinding", account, "-n", namespace, f"--role={account}",
                          f"--serviceaccount={match.group('account_namespace')}:{account}")
    return base.Finding("rbac", "RoleBinding", namespace, account,
                        f"{what}, and no RoleBinding grants it anything. Fix: {fix} and bound it to the "
                        f"ServiceAccount.", [workload])


def _ensure_rule(cluster: "Cluster", namespace: str, name: str, roles: dict[str, Obj], rule: Obj) -> str:
    """Role ``name`` gets ``rule`` (created with it when missing); what was done."""
    role = roles.get(name)
    if role is None:
        cluster.tools.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": f"{RBAC_API}/v1", "kind": "Role", "metadata": {"name": name, "namespace": namespace},
             "rules": [rule]}))
        return f"created Role {name} with the rule"
    cluster.tools.kubectl("patch", "role", name, "-n", namespace, "--type=merge", "-p",
                          json.dumps({"rules": [*(role.get("rules") or []), rule]}))
    return f"added the rule to Role {name}"
