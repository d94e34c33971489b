"""The agent's scoped identity: a ServiceAccount with an SRE's rights in the scenario's namespaces only.

Created with an admin kubeconfig: the ServiceAccount ``agent`` in its own namespace
``chaositbench-agent-<id>`` (so parallel runs never share anything); everything carries the
label ``chaositbench.io/sandbox=<id>`` and :func:`teardown_sandbox` removes all of it. The rights are the data tables below:
``NAMESPACED_RULES`` (a ClusterRole bound by one RoleBinding in each allowed namespace, so
it grants nothing elsewhere) and ``CLUSTER_RULES`` (a ClusterRole bound cluster-wide).

Pre-provisioned mode (the game-day runner chart, whose runner must not create namespaces or
ClusterRoles): with ``CHAOSITBENCH_AGENT_NAMESPACE`` and ``CHAOSITBENCH_AGENT_CLUSTERROLE`` set,
the per-run ServiceAccount ``agent-<id>`` is created in that existing namespace and its
RoleBindings name that existing ClusterRole (installed with ``NAMESPACED_RULES``); the
``CLUSTER_RULES`` come from a ClusterRoleBinding installed for the group
``system:serviceaccounts:<that namespace>``. Teardown then removes only the ServiceAccount and
the RoleBindings.
"""

from __future__ import annotations

import os
import secrets as token_secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from chaoslib.exceptions import ActivityFailed
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from chaositbench.sim.kubeconfig import write_kubeconfig

SANDBOX_NAMESPACE_PREFIX = "chaositbench-agent-"
SERVICE_ACCOUNT = "agent"
SANDBOX_LABEL = "chaositbench.io/sandbox"
MIN_TOKEN_S = 600  # the shortest lifetime the TokenRequest API grants
AGENT_NAMESPACE_ENV, AGENT_CLUSTERROLE_ENV = "CHAOSITBENCH_AGENT_NAMESPACE", "CHAOSITBENCH_AGENT_CLUSTERROLE"

READ = ["get", "list", "watch"]
WRITE = ["update", "patch"]

# (api groups, resources, verbs, why) — an SRE's rights inside each allowed namespace.
NAMESPACED_RULES: list[tuple[list[str], list[str], list[str], str]] = [
    (["*"], ["*"], READ, "read everything in the namespace, incl. secrets"),
    ([""], ["pods/log"], ["get"], "container logs"),
    ([""], ["events"], READ, "events"),
    ([""], ["pods/exec"], ["get", "create"], "kubectl exec"),
    ([""], ["pods/eviction"], ["create"], "evict a pod (kubectl drain)"),
    ([""], ["pods"], ["delete"], "delete a pod (its controller recreates it)"),
    (["apps"], ["deployments", "statefulsets", "daemonsets", "replicasets"], WRITE,
     "fix workloads, rollout restart/undo"),
    (["apps"], ["deployments/scale", "statefulsets/scale", "replicasets/scale"], ["get", *WRITE], "scale"),
    ([""], ["services", "configmaps", "secrets", "resourcequotas", "limitranges"], WRITE, "fix config and quota"),
    ([""], ["configmaps", "secrets"], ["create"], "add missing config"),
    (["networking.k8s.io"], ["networkpolicies"], ["create", *WRITE, "delete"], "fix network policy"),
    (["networking.k8s.io"], ["ingresses"], WRITE, "fix ingresses"),
    (["autoscaling"], ["horizontalpodautoscalers"], WRITE, "fix autoscaling"),
    (["rbac.authorization.k8s.io"], ["roles", "rolebindings"], ["create", *WRITE],
     "fix workloads' permissions (only ones the agent holds itself: RBAC forbids escalation)"),
    (["policy"], ["poddisruptionbudgets"], WRITE, "fix disruption budgets"),
]

# Cluster-wide: read nodes, namespaces and events; cordon/uncordon and taint nodes.
CLUSTER_RULES: list[tuple[list[str], list[str], list[str], str]] = [
    ([""], ["nodes", "namespaces", "events"], READ, "see the cluster around the incident"),
    (["events.k8s.io"], ["events"], READ, "events (new API)"),
    (["metrics.k8s.io"], ["nodes"], ["get", "list"], "kubectl top node"),
    ([""], ["nodes"], ["patch"], "cordon/uncordon, taints"),
]


@dataclass(frozen=True)
class Provisioned:
    """Identity objects installed beforehand: the agents' namespace and the ClusterRole of ``NAMESPACED_RULES``."""

    namespace: str
    cluster_role: str


def provisioned_from_env() -> Provisioned | None:
    """The pre-provisioned mode from the environment, or None; both variables or neither (else ActivityFailed)."""
    namespace, role = os.environ.get(AGENT_NAMESPACE_ENV), os.environ.get(AGENT_CLUSTERROLE_ENV)
    if not namespace and not role:
        return None
    if not namespace or not role:
        raise ActivityFailed(f"set both {AGENT_NAMESPACE_ENV} and {AGENT_CLUSTERROLE_ENV} (pre-provisioned agent "
                             "identity) or neither")
    return Provisioned(namespace, role)


@dataclass
class Sandbox:
    """A created scoped identity."""

    id: str
    namespace: str
    service_account: str
    namespaces: list[str]
    kubeconfig: Path
    token_expires_s: int
    context: str | None = None
    objects: list[dict[str, str]] = field(default_factory=list)

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def _rules(table: list[tuple[list[str], list[str], list[str], str]]) -> list[dict[str, Any]]:
    return [{"apiGroups": groups, "resources": resources, "verbs": verbs} for groups, resources, verbs, _ in table]


def _load_admin(admin_kubeconfig: str | Path, context: str | None) -> tuple[client.ApiClient, dict[str, Any]]:
    document = yaml.safe_load(Path(admin_kubeconfig).read_text())
    context_name = context or document.get("current-context")
    try:
        entry = next(c["context"] for c in document["contexts"] if c["name"] == context_name)
        cluster = next(c for c in document["clusters"] if c["name"] == entry["cluster"])
    except StopIteration:
        raise ActivityFailed(f"context {context_name!r} or its cluster is not in {admin_kubeconfig}") from None
    return config.new_client_from_config(config_file=str(admin_kubeconfig), context=context_name), cluster


def create_sandbox(admin_kubeconfig: str | Path, namespaces: list[str], kubeconfig_path: str | Path,
                   token_seconds: int = 3600, context: str | None = None,
                   provisioned: Provisioned | None = None) -> Sandbox:
    """Create the agent's ServiceAccount, its RBAC and a token; write its kubeconfig to ``kubeconfig_path``.

    ``context`` names the admin kubeconfig's context (default: its current context); with
    ``provisioned`` the ServiceAccount goes to that namespace and is bound to that ClusterRole
    (nothing cluster-scoped is created).
    The kubeconfig has the admin one's server and CA and a token user; its context's default
    namespace is the first allowed namespace. Raises ActivityFailed if the cluster refuses.
    """
    if not namespaces:
        raise ActivityFailed("the agent sandbox needs at least one allowed namespace")
    api, cluster = _load_admin(admin_kubeconfig, context)
    sandbox_id = token_secrets.token_hex(4)
    name = SANDBOX_NAMESPACE_PREFIX + sandbox_id
    labels = {SANDBOX_LABEL: sandbox_id, "app.kubernetes.io/managed-by": "chaositbench"}
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    seconds = max(MIN_TOKEN_S, int(token_seconds))
    if provisioned is None:
        sandbox = Sandbox(sandbox_id, name, SERVICE_ACCOUNT, list(namespaces), Path(kubeconfig_path), seconds,
                          context=context)
    else:
        sandbox = Sandbox(sandbox_id, provisioned.namespace, f"{SERVICE_ACCOUNT}-{sandbox_id}", list(namespaces),
                          Path(kubeconfig_path), seconds, context=context)
    try:
        if provisioned is None:
            core.create_namespace({"metadata": {"name": sandbox.namespace, "labels": labels}})
            sandbox.objects.append({"kind": "Namespace", "name": sandbox.namespace})
        core.create_namespaced_service_account(sandbox.namespace, {"metadata": {"name": sandbox.service_account,
                                                                                "labels": labels}})
        sandbox.objects.append({"kind": "ServiceAccount", "namespace": sandbox.namespace,
                                "name": sandbox.service_account})
        subject = [{"kind": "ServiceAccount", "name": sandbox.service_account, "namespace": sandbox.namespace}]
        if provisioned is None:
            namespaced_role = _create_cluster_roles(rbac, name, labels, subject, sandbox)
        else:
            namespaced_role = provisioned.cluster_role
        for namespace in namespaces:
            rbac.create_namespaced_role_binding(namespace, {
                "metadata": {"name": name, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": namespaced_role},
                "subjects": subject})
            sandbox.objects.append({"kind": "RoleBinding", "namespace": namespace, "name": name})
        token = core.create_namespaced_service_account_token(
            sandbox.service_account, sandbox.namespace,
            {"spec": {"audiences": [], "expirationSeconds": seconds}}).status.token
    except ApiException as exc:
        teardown_sandbox(admin_kubeconfig, sandbox)
        raise ActivityFailed(f"cannot create the agent sandbox: {exc.status} {exc.reason}: {exc.body}") from exc
    finally:
        api.close()
    cluster_name = cluster["name"]
    user = sandbox.service_account
    write_kubeconfig(sandbox.kubeconfig, {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": cluster_name, "user": user,
                                                   "namespace": namespaces[0]}}],
        "current-context": "agent", "preferences": {}})
    return sandbox


def _create_cluster_roles(rbac: client.RbacAuthorizationV1Api, name: str, labels: dict[str, str],
                          subject: list[dict[str, str]], sandbox: Sandbox) -> str:
    """Create the run's two ClusterRoles and bind the cluster-wide one; returns the namespaced one's name."""
    for role, table in ((name + "-sre", NAMESPACED_RULES), (name + "-cluster", CLUSTER_RULES)):
        rbac.create_cluster_role({"metadata": {"name": role, "labels": labels}, "rules": _rules(table)})
        sandbox.objects.append({"kind": "ClusterRole", "name": role})
    rbac.create_cluster_role_binding({"metadata": {"name": name + "-cluster", "labels": labels},
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": name + "-cluster"}, "subjects": subject})
    sandbox.objects.append({"kind": "ClusterRoleBinding", "name": name + "-cluster"})
    return name + "-sre"


def teardown_sandbox(admin_kubeconfig: str | Path, sandbox: Sandbox, wait_s: float = 10.0) -> None:
    """Delete everything ``create_sandbox`` made (idempotent) and the agent's kubeconfig.

    Waits up to ``wait_s`` for a namespace it created to be gone.
    """
    api, _ = _load_admin(admin_kubeconfig, sandbox.context)
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    deleters = {
        "Namespace": lambda o: core.delete_namespace(o["name"]),
        "ClusterRole": lambda o: rbac.delete_cluster_role(o["name"]),
        "ClusterRoleBinding": lambda o: rbac.delete_cluster_role_binding(o["name"]),
        "RoleBinding": lambda o: rbac.delete_namespaced_role_binding(o["name"], o["namespace"]),
        "ServiceAccount": lambda o: core.delete_namespaced_service_account(o["name"], o["namespace"]),
    }
    owns_namespace = any(obj["kind"] == "Namespace" for obj in sandbox.objects)
    try:
        for obj in reversed(sandbox.objects):
            try:
                deleters[obj["kind"]](obj)
            except ApiException as exc:
                if exc.status != 404:
                    raise ActivityFailed(f"cannot delete {obj['kind']} {obj['name']}: {exc.reason}") from exc
        sandbox.objects.clear()
        deadline = time.monotonic() + wait_s
        while owns_namespace and time.monotonic() < deadline:
            core.read_namespace(sandbox.namespace)
            time.sleep(0.1)
    except ApiException as exc:
        if exc.status != 404:
            raise ActivityFailed(f"cannot remove the agent sandbox: {exc.status} {exc.reason}") from exc
    finally:
        api.close()
        sandbox.kubeconfig.unlink(missing_ok=True)
