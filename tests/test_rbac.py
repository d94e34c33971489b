"""RBAC authorization, case by case, against the semantics and messages of kube-apiserver."""

from __future__ import annotations

from typing import Any

import pytest

from chaositbench.sim.auth import UserInfo
from chaositbench.sim.errors import APIError
from chaositbench.sim.rbac import (Authorizer, Decision, RequestAttributes, access_review, aggregate_rules,
                                   bootstrap_policy, forbidden_error, forbidden_reason, impersonate, rules_review,
                                   verb_for)

RBAC = "rbac.authorization.k8s.io"
AGENT = UserInfo("system:serviceaccount:team-a:agent", groups=[
    "system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"])
ALICE = UserInfo("alice", groups=["devs", "system:authenticated"])
ADMIN = UserInfo("kubernetes-admin", groups=["system:masters", "system:authenticated"])
ANONYMOUS = UserInfo("system:anonymous", groups=["system:unauthenticated"])


class Policy:
    """An in-memory set of RBAC objects behind ``list_objects``."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = list(objects)
        self.authorizer = Authorizer(self.list_objects)

    def list_objects(self, group: str, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        assert group == RBAC
        kind = {"roles": "Role", "rolebindings": "RoleBinding", "clusterroles": "ClusterRole",
                "clusterrolebindings": "ClusterRoleBinding"}[plural]
        return [o for o in self.objects if o["kind"] == kind
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def add(self, *objects: dict[str, Any]) -> None:
        self.objects.extend(objects)

    def can(self, user: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "",
            group: str = "", subresource: str = "") -> bool:
        return self.authorizer.authorize(RequestAttributes(
            user=user, verb=verb, api_group=group, resource=resource, subresource=subresource,
            namespace=namespace, name=name)).allowed

    def can_path(self, user: UserInfo, path: str, verb: str = "get") -> bool:
        return self.authorizer.authorize(RequestAttributes(user=user, verb=verb, resource_request=False,
                                                           path=path)).allowed


def rule(verbs: list[str], resources: list[str] | None = None, groups: list[str] | None = None,
         names: list[str] | None = None, urls: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": verbs}
    if resources is not None:
        out["apiGroups"] = groups if groups is not None else [""]
        out["resources"] = resources
    if names:
        out["resourceNames"] = names
    if urls:
        out["nonResourceURLs"] = urls
    return out


def role(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def cluster_role(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None,
                 aggregate: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}},
                           "rules": list(rules)}
    if aggregate is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregate}
    return obj


def sa(name: str, namespace: str | None = None) -> dict[str, Any]:
    subject = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        subject["namespace"] = namespace
    return subject


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def binding(name: str, namespace: str, ref_kind: str, ref_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": ref_kind, "name": ref_name}, "subjects": list(subjects)}


def cluster_binding(name: str, ref_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": ref_name}, "subjects": list(subjects)}


# -- scope of bindings ----------------------------------------------------------------------
def test_system_masters_is_always_allowed_without_any_policy() -> None:
    decision = Policy().authorizer.authorize(RequestAttributes(user=ADMIN, verb="delete", resource="nodes"))
    assert decision == Decision(True, "")


def test_nothing_is_allowed_without_bindings() -> None:
    policy = Policy(cluster_role("pod-reader", rule(["get"], ["pods"])))
    assert not policy.can(ALICE, "get", "pods", "default", "web")


def test_cluster_role_binding_grants_everywhere() -> None:
    policy = Policy(cluster_role("reader", rule(["get", "list"], ["pods", "nodes"])),
                    cluster_binding("alice-reads", "reader", user("alice")))
    assert policy.can(ALICE, "list", "pods", "payments")
    assert policy.can(ALICE, "list", "pods")  # all namespaces
    assert policy.can(ALICE, "get", "nodes", name="node-1")
    assert not policy.can(ALICE, "delete", "pods", "payments", "web")


def test_role_binding_grants_only_in_its_namespace() -> None:
    policy = Policy(role("pod-reader", "team-a", rule(["get", "list", "watch"], ["pods"])),
                    binding("read-pods", "team-a", "Role", "pod-reader", sa("agent")))
    assert policy.can(AGENT, "list", "pods", "team-a")
    assert not policy.can(AGENT, "list", "pods", "payments")
    assert not policy.can(AGENT, "list", "pods")  # --all-namespaces is cluster scope


def test_role_binding_to_a_cluster_role_grants_it_in_the_binding_namespace_only() -> None:
    policy = Policy(cluster_role("reader", rule(["get"], ["pods", "nodes"])),
                    binding("read", "payments", "ClusterRole", "reader", user("alice")))
    assert policy.can(ALICE, "get", "pods", "payments", "api")
    assert not policy.can(ALICE, "get", "pods", "default", "api")
    assert not policy.can(ALICE, "get", "nodes", name="node-1")  # cluster-scoped: never via a RoleBinding


def test_role_binding_cannot_use_a_role_of_another_namespace() -> None:
    policy = Policy(role("pod-reader", "other", rule(["get"], ["pods"])),
                    binding("read", "team-a", "Role", "pod-reader", sa("agent")))
    decision = policy.authorizer.authorize(RequestAttributes(user=AGENT, verb="get", resource="pods",
                                                             namespace="team-a", name="x"))
    assert decision == Decision(False, 'RBAC: role.rbac.authorization.k8s.io "pod-reader" not found')


def test_missing_cluster_roles_are_reported_once_each() -> None:
    policy = Policy(cluster_binding("a", "gone", user("alice")), cluster_binding("b", "gone", group("devs")),
                    binding("c", "ns", "ClusterRole", "absent", user("alice")))
    decision = policy.authorizer.authorize(RequestAttributes(user=ALICE, verb="get", resource="pods", namespace="ns"))
    assert decision.reason == ('RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
                               'clusterrole.rbac.authorization.k8s.io "absent" not found]')


# -- subjects ----------------------------------------------------------------------------------
def test_service_account_subjects() -> None:
    policy = Policy(cluster_role("reader", rule(["get"], ["pods"])),
                    binding("explicit", "payments", "ClusterRole", "reader", sa("agent", "team-a")),
                    binding("implicit", "team-a", "ClusterRole", "reader", sa("agent")),
                    binding("wrong-ns", "default", "ClusterRole", "reader", sa("agent")))
    assert policy.can(AGENT, "get", "pods", "payments", "x")  # a SA of another namespace, named explicitly
    assert policy.can(AGENT, "get", "pods", "team-a", "x")  # no namespace: the binding's namespace
    assert not policy.can(AGENT, "get", "pods", "default", "x")  # means default:agent, not team-a:agent


def test_service_account_subject_without_namespace_in_cluster_binding_matches_nobody() -> None:
    policy = Policy(cluster_role("reader", rule(["get"], ["pods"])),
                    cluster_binding("no-ns", "reader", sa("agent")))
    assert not policy.can(AGENT, "get", "pods", "team-a", "x")


def test_group_subjects_including_service_account_groups() -> None:
    policy = Policy(cluster_role("reader", rule(["list"], ["pods"])),
                    binding("team", "team-a", "ClusterRole", "reader", group("system:serviceaccounts:team-a")),
                    binding("devs", "dev", "ClusterRole", "reader", group("devs")))
    assert policy.can(AGENT, "list", "pods", "team-a")
    assert not policy.can(ALICE, "list", "pods", "team-a")
    assert policy.can(ALICE, "list", "pods", "dev")
    assert not policy.can(AGENT, "list", "pods", "dev")


def test_user_subject_matches_the_exact_name_only() -> None:
    policy = Policy(cluster_role("reader", rule(["list"], ["pods"])),
                    cluster_binding("sa-as-user", "reader", user("system:serviceaccount:team-a:agent")),
                    cluster_binding("by-kind", "reader", {"kind": "Robot", "name": "alice"}))
    assert policy.can(AGENT, "list", "pods", "x")  # a User subject may name a service account's user name
    assert not policy.can(ALICE, "list", "pods", "x")  # unknown subject kinds never match


# -- rule matching -------------------------------------------------------------------------------
def test_wildcards() -> None:
    policy = Policy(role("anything", "ns", rule(["*"], ["*"], ["*"])),
                    role("all-verbs", "ns2", rule(["*"], ["deployments"], ["apps"])),
                    binding("a", "ns", "Role", "anything", user("alice")),
                    binding("b", "ns2", "Role", "all-verbs", user("alice")))
    assert policy.can(ALICE, "deletecollection", "widgets", "ns", group="example.com")
    assert policy.can(ALICE, "get", "pods", "ns", "x", subresource="log")  # "*" covers subresources
    assert policy.can(ALICE, "escalate", "deployments", "ns2", group="apps")
    assert not policy.can(ALICE, "get", "deployments", "ns2", group="extensions")
    assert not policy.can(ALICE, "get", "deployments", "ns2", "d", group="apps", subresource="scale")


def test_core_group_is_the_empty_string() -> None:
    policy = Policy(role("r", "ns", rule(["get"], ["deployments"], [""])),
                    binding("b", "ns", "Role", "r", user("alice")))
    assert not policy.can(ALICE, "get", "deployments", "ns", "d", group="apps")


def test_subresources_must_be_granted_explicitly() -> None:
    policy = Policy(role("r", "ns", rule(["get", "list"], ["pods"]), rule(["get"], ["pods/log"]),
                         rule(["update", "patch"], ["*/scale"], ["apps"])),
                    binding("b", "ns", "Role", "r", user("alice")))
    assert policy.can(ALICE, "get", "pods", "ns", "web")
    assert policy.can(ALICE, "get", "pods", "ns", "web", subresource="log")
    assert not policy.can(ALICE, "create", "pods", "ns", "web", subresource="exec")
    assert not policy.can(ALICE, "get", "pods", "ns", "web", subresource="status")
    assert policy.can(ALICE, "patch", "deployments", "ns", "d", group="apps", subresource="scale")
    assert policy.can(ALICE, "update", "statefulsets", "ns", "s", group="apps", subresource="scale")
    assert not policy.can(ALICE, "patch", "deployments", "ns", "d", group="apps")


def test_resource_names_only_match_requests_with_that_name() -> None:
    policy = Policy(role("r", "ns", rule(["get", "list", "watch", "update", "create", "delete"], ["configmaps"],
                                         names=["app-config"])),
                    binding("b", "ns", "Role", "r", user("alice")))
    assert policy.can(ALICE, "get", "configmaps", "ns", "app-config")
    assert policy.can(ALICE, "update", "configmaps", "ns", "app-config")
    assert not policy.can(ALICE, "get", "configmaps", "ns", "other")
    assert not policy.can(ALICE, "list", "configmaps", "ns")  # a list has no name
    assert not policy.can(ALICE, "create", "configmaps", "ns")  # nor has a create
    assert not policy.can(ALICE, "deletecollection", "configmaps", "ns")
    # list/watch with fieldSelector=metadata.name=app-config carry the name
    assert policy.can(ALICE, "watch", "configmaps", "ns", "app-config")


def test_non_resource_urls() -> None:
    policy = Policy(cluster_role("urls", rule(["get"], urls=["/healthz", "/logs/*", "/metrics"])),
                    cluster_role("all-urls", rule(["get", "post"], urls=["*"])),
                    cluster_role("pods", rule(["*"], ["*"], ["*"])),
                    cluster_binding("a", "urls", user("alice")),
                    cluster_binding("b", "all-urls", group("ops")),
                    cluster_binding("c", "pods", user("bob")))
    assert policy.can_path(ALICE, "/healthz")
    assert not policy.can_path(ALICE, "/healthz/etcd")
    assert policy.can_path(ALICE, "/logs/kube-apiserver.log")
    assert policy.can_path(ALICE, "/logs/")
    assert not policy.can_path(ALICE, "/logs")
    assert not policy.can_path(ALICE, "/metrics", verb="post")
    ops = UserInfo("carol", groups=["ops"])
    assert policy.can_path(ops, "/anything/at/all", verb="post")
    assert not policy.can_path(UserInfo("bob"), "/metrics")  # resource rules never grant paths
    assert not policy.can(ops, "get", "pods", "ns", "x")  # and URL rules never grant resources


# -- aggregation ----------------------------------------------------------------------------------
def test_aggregated_cluster_role_is_evaluated_on_the_fly() -> None:
    label = {"example.com/aggregate-to-monitoring": "true"}
    policy = Policy(cluster_role("monitoring", aggregate=[{"matchLabels": label}]),
                    cluster_binding("mon", "monitoring", user("alice")))
    assert not policy.can(ALICE, "get", "pods", "ns", "x")
    policy.add(cluster_role("pods-part", rule(["get"], ["pods"]), labels=label))
    assert policy.can(ALICE, "get", "pods", "ns", "x")
    policy.add(cluster_role("unlabelled", rule(["get"], ["secrets"])))
    assert not policy.can(ALICE, "get", "secrets", "ns", "x")


def test_aggregation_ignores_stale_stored_rules_and_follows_chains() -> None:
    policy = Policy(
        cluster_role("top", rule(["*"], ["*"], ["*"]), aggregate=[{"matchLabels": {"agg": "top"}}]),
        cluster_role("middle", labels={"agg": "top"}, aggregate=[{"matchExpressions": [
            {"key": "agg", "operator": "In", "values": ["middle", "also-middle"]}]}]),
        cluster_role("leaf", rule(["list"], ["services"]), labels={"agg": "also-middle"}),
        cluster_binding("b", "top", user("alice")))
    assert policy.can(ALICE, "list", "services", "ns")
    assert not policy.can(ALICE, "delete", "services", "ns", "x")


def test_aggregation_cycles_terminate() -> None:
    a = cluster_role("a", rule(["get"], ["pods"]), labels={"x": "1"}, aggregate=[{"matchLabels": {"y": "1"}}])
    b = cluster_role("b", rule(["get"], ["services"]), labels={"y": "1"}, aggregate=[{"matchLabels": {"x": "1"}}])
    rules = aggregate_rules(a, [a, b])
    assert rules == [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]


def test_aggregate_rules_order_and_deduplication() -> None:
    target = cluster_role("target", aggregate=[{"matchLabels": {"agg": "yes"}}])
    roles = [target,
             cluster_role("zeta", rule(["get"], ["pods"]), rule(["list"], ["pods"]), labels={"agg": "yes"}),
             cluster_role("alpha", rule(["list"], ["pods"]), labels={"agg": "yes"})]
    assert aggregate_rules(target, roles) == [
        {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
    ]


# -- messages ---------------------------------------------------------------------------------------
def _attrs(u: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "", group: str = "",
           subresource: str = "") -> RequestAttributes:
    return RequestAttributes(user=u, verb=verb, api_group=group, resource=resource, subresource=subresource,
                             namespace=namespace, name=name)


@pytest.mark.parametrize("attrs, sentence", [
    (_attrs(AGENT, "list", "pods", "payments"),
     'User "system:serviceaccount:team-a:agent" cannot list resource "pods" in API group "" in the namespace '
     '"payments"'),
    (_attrs(ALICE, "get", "nodes", name="node-1"),
     'User "alice" cannot get resource "nodes" in API group "" at the cluster scope'),
    (_attrs(ALICE, "get", "pods", "x", "web-1", subresource="log"),
     'User "alice" cannot get resource "pods/log" in API group "" in the namespace "x"'),
    (_attrs(ALICE, "delete", "deployments", "x", "web", group="apps"),
     'User "alice" cannot delete resource "deployments" in API group "apps" in the namespace "x"'),
    (RequestAttributes(user=ALICE, verb="get", resource_request=False, path="/metrics"),
     'User "alice" cannot get path "/metrics"'),
])
def test_forbidden_reason_sentences(attrs: RequestAttributes, sentence: str) -> None:
    assert forbidden_reason(attrs) == sentence


def test_forbidden_errors_are_worded_like_kube_apiserver() -> None:
    err = forbidden_error(_attrs(ALICE, "get", "pods", "default", "web-1"), Decision(False))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == ('pods "web-1" is forbidden: User "alice" cannot get resource "pods" in API group "" '
                           'in the namespace "default"')
    assert err.status()["details"] == {"name": "web-1", "kind": "pods"}
    log = forbidden_error(_attrs(ALICE, "get", "pods", "x", "web-1", subresource="log"), Decision(False))
    assert log.message.startswith('pods "web-1" is forbidden: User "alice" cannot get resource "pods/log"')
    listing = forbidden_error(_attrs(ALICE, "list", "deployments", "x", group="apps"), Decision(False))
    assert listing.message.startswith('deployments.apps is forbidden: User "alice" cannot list resource')
    assert listing.status()["details"] == {"group": "apps", "kind": "deployments"}
    path = forbidden_error(RequestAttributes(user=ANONYMOUS, verb="get", resource_request=False, path="/"),
                           Decision(False))
    assert path.message == 'forbidden: User "system:anonymous" cannot get path "/"'
    assert "details" not in path.status()
    broken = forbidden_error(_attrs(ALICE, "get", "pods", "ns", "p"),
                             Decision(False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'))
    assert broken.message.endswith('in the namespace "ns": RBAC: clusterrole.rbac.authorization.k8s.io "gone" '
                                   'not found')


def test_allowed_reasons_name_the_binding() -> None:
    policy = Policy(cluster_role("reader", rule(["get"], ["pods"])),
                    cluster_binding("devs-read", "reader", group("devs")),
                    binding("agent-read", "team-a", "ClusterRole", "reader", sa("agent")))
    assert policy.authorizer.authorize(_attrs(ALICE, "get", "pods", "ns", "p")).reason == \
        'RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "reader" to Group "devs"'
    assert policy.authorizer.authorize(_attrs(AGENT, "get", "pods", "team-a", "p")).reason == \
        'RBAC: allowed by RoleBinding "agent-read/team-a" of ClusterRole "reader" to ServiceAccount "agent/team-a"'


def test_verb_for() -> None:
    assert verb_for("GET", False, False) == "get"
    assert verb_for("HEAD", False, False) == "get"
    assert verb_for("GET", True, False) == "list"
    assert verb_for("GET", True, True) == "watch"
    assert verb_for("GET", False, True) == "get"
    assert verb_for("POST", True, False) == "create"
    assert verb_for("PUT", False, False) == "update"
    assert verb_for("patch", False, False) == "patch"
    assert verb_for("DELETE", False, False) == "delete"
    assert verb_for("DELETE", True, False) == "deletecollection"
    assert verb_for("OPTIONS", True, False) is None


# -- bootstrap policy --------------------------------------------------------------------------------
@pytest.fixture
def cluster() -> Policy:
    return Policy(*bootstrap_policy())


def test_bootstrap_objects_are_labelled_and_annotated() -> None:
    objects = {o["metadata"]["name"] + "/" + o["kind"]: o for o in bootstrap_policy()}
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer"):
        for kind in ("ClusterRole",) + (("ClusterRoleBinding",) if name not in ("admin", "edit", "view") else ()):
            obj = objects[f"{name}/{kind}"]
            assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
            assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
            assert obj["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    assert objects["cluster-admin/ClusterRoleBinding"]["subjects"] == [
        {"kind": "Group", "apiGroup": RBAC, "name": "system:masters"}]
    assert objects["cluster-admin/ClusterRole"]["rules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
    view = objects["view/ClusterRole"]
    assert view["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}
    assert not any("secrets" in r.get("resources", []) for r in view["rules"])


def test_bootstrap_aggregated_rules_match_on_the_fly_evaluation() -> None:
    objects = bootstrap_policy()
    roles = [o for o in objects if o["kind"] == "ClusterRole"]
    for obj in roles:
        if "aggregationRule" in obj:
            assert obj["rules"] == aggregate_rules(obj, roles)


def test_bootstrap_non_resource_access(cluster: Policy) -> None:
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        assert cluster.can_path(ANONYMOUS, path)
    for path in ("/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v3", "/openapi/v3/apis/apps/v1"):
        assert not cluster.can_path(ANONYMOUS, path)
        assert cluster.can_path(AGENT, path)
    assert not cluster.can_path(AGENT, "/metrics")
    assert cluster.can_path(UserInfo("prom", groups=["system:monitoring"]), "/metrics")
    assert cluster.can_path(AGENT, "/openid/v1/jwks")
    assert not cluster.can_path(ALICE, "/openid/v1/jwks")
    assert cluster.can(ANONYMOUS, "create", "selfsubjectaccessreviews", group="authorization.k8s.io") is False
    for resource, api_group in (("selfsubjectaccessreviews", "authorization.k8s.io"),
                                ("selfsubjectrulesreviews", "authorization.k8s.io"),
                                ("selfsubjectreviews", "authentication.k8s.io")):
        assert cluster.can(AGENT, "create", resource, group=api_group)


def test_bootstrap_view_edit_admin(cluster: Policy) -> None:
    cluster.add(binding("v", "team-a", "ClusterRole", "view", sa("agent")),
                binding("e", "dev", "ClusterRole", "edit", sa("agent", "team-a")),
                binding("a", "prod", "ClusterRole", "admin", sa("agent", "team-a")))
    assert cluster.can(AGENT, "list", "pods", "team-a")
    assert cluster.can(AGENT, "get", "pods", "team-a", "web", subresource="log")
    assert cluster.can(AGENT, "get", "namespaces", "team-a", "team-a")
    assert cluster.can(AGENT, "list", "events", "team-a")
    assert cluster.can(AGENT, "get", "deployments", "team-a", "web", group="apps", subresource="scale")
    assert cluster.can(AGENT, "list", "pods", "team-a", group="metrics.k8s.io")
    assert not cluster.can(AGENT, "get", "secrets", "team-a", "db")
    assert not cluster.can(AGENT, "patch", "deployments", "team-a", "web", group="apps")
    assert not cluster.can(AGENT, "create", "pods", "team-a", "web", subresource="exec")
    assert not cluster.can(AGENT, "list", "pods", "default")
    assert not cluster.can(AGENT, "list", "nodes")

    assert cluster.can(AGENT, "get", "secrets", "dev", "db")
    assert cluster.can(AGENT, "patch", "deployments", "dev", "web", group="apps")
    assert cluster.can(AGENT, "create", "pods", "dev", "web", subresource="exec")
    assert cluster.can(AGENT, "create", "pods", "dev", "web", subresource="eviction")
    assert cluster.can(AGENT, "delete", "networkpolicies", "dev", "deny", group="networking.k8s.io")
    assert cluster.can(AGENT, "create", "serviceaccounts", "dev", "agent", subresource="token")
    assert not cluster.can(AGENT, "update", "resourcequotas", "dev", "q")
    assert not cluster.can(AGENT, "patch", "pods", "dev", "web", subresource="status")
    assert not cluster.can(AGENT, "create", "rolebindings", "dev", group=RBAC)

    assert cluster.can(AGENT, "create", "rolebindings", "prod", group=RBAC)
    assert cluster.can(AGENT, "list", "pods", "prod")
    assert not cluster.can(AGENT, "delete", "namespaces", "prod", "prod")


# -- reviews ---------------------------------------------------------------------------------------------
def test_self_subject_access_review(cluster: Policy) -> None:
    cluster.add(binding("v", "team-a", "ClusterRole", "view", sa("agent")))
    allowed = access_review(cluster.authorizer, AGENT, {"resourceAttributes": {
        "namespace": "team-a", "verb": "list", "resource": "pods"}})
    assert allowed == {"allowed": True,
                       "reason": 'RBAC: allowed by RoleBinding "v/team-a" of ClusterRole "view" to '
                                 'ServiceAccount "agent/team-a"'}
    assert access_review(cluster.authorizer, AGENT, {"resourceAttributes": {
        "namespace": "team-a", "verb": "get", "resource": "secrets"}}) == {"allowed": False}
    assert access_review(cluster.authorizer, AGENT, {"nonResourceAttributes": {"path": "/api", "verb": "get"}})[
        "allowed"] is True
    assert access_review(cluster.authorizer, ADMIN, {"resourceAttributes": {"verb": "*", "group": "*",
                                                                           "resource": "*"}}) == {"allowed": True}


def test_access_review_validation() -> None:
    with pytest.raises(APIError) as neither:
        access_review(Policy().authorizer, ALICE, {})
    assert neither.value.code == 422
    assert neither.value.message.endswith('"" is invalid: spec.resourceAttributes: Invalid value: "null": exactly '
                                          'one of nonResourceAttributes or resourceAttributes must be specified')
    with pytest.raises(APIError) as both:
        access_review(Policy().authorizer, ALICE, {"resourceAttributes": {"verb": "get"},
                                                   "nonResourceAttributes": {"path": "/api", "verb": "get"}})
    assert ('spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:"/api", '
            'Verb:"get"}: cannot be specified in combination with resourceAttributes') in both.value.message
    with pytest.raises(APIError) as nobody:
        access_review(Policy().authorizer, UserInfo(""), {"resourceAttributes": {"verb": "get"}},
                      kind="SubjectAccessReview")
    assert "at least one of user or group must be specified" in nobody.value.message


def test_self_subject_rules_review(cluster: Policy) -> None:
    cluster.add(role("cm", "team-a", rule(["get", "update"], ["configmaps"], names=["app-config"])),
                binding("cm", "team-a", "Role", "cm", sa("agent")))
    status = rules_review(cluster.authorizer, AGENT, "team-a")
    assert status["incomplete"] is False and "evaluationError" not in status
    assert {"verbs": ["get", "update"], "apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": ["app-config"]} in status["resourceRules"]
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in status["resourceRules"]
    assert {"verbs": ["get"], "nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"]} \
        in status["nonResourceRules"]
    assert all(r["nonResourceURLs"] for r in status["nonResourceRules"])
    elsewhere = rules_review(cluster.authorizer, AGENT, "default")
    assert not any("configmaps" in r["resources"] for r in elsewhere["resourceRules"])
    admin = rules_review(cluster.authorizer, ADMIN, "default")
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in admin["resourceRules"]
    assert {"verbs": ["*"], "nonResourceURLs": ["*"]} in admin["nonResourceRules"]
    with pytest.raises(APIError) as no_ns:
        rules_review(cluster.authorizer, AGENT, "")
    assert (no_ns.value.code, no_ns.value.message) == (400, "no namespace on request")


def test_rules_review_reports_resolution_errors() -> None:
    policy = Policy(binding("b", "ns", "Role", "missing", user("alice")))
    status = rules_review(policy.authorizer, ALICE, "ns")
    assert status == {"resourceRules": [], "nonResourceRules": [], "incomplete": False,
                      "evaluationError": 'role.rbac.authorization.k8s.io "missing" not found'}


# -- escalation prevention -----------------------------------------------------------------------------
@pytest.fixture
def team() -> Policy:
    """Bootstrap policy; the agent is ``admin`` of team-a."""
    policy = Policy(*bootstrap_policy())
    policy.add(binding("agent-admin", "team-a", "ClusterRole", "admin", sa("agent")))
    return policy


def _escalation(policy: Policy, who: UserInfo, resource: str, namespace: str, obj: dict[str, Any],
                old: dict[str, Any] | None = None) -> APIError | None:
    try:
        policy.authorizer.confirm_no_escalation(who, resource, namespace, obj, old)
    except APIError as err:
        return err
    return None


def test_binding_a_role_within_held_permissions_is_allowed(team: Policy) -> None:
    ok = binding("helper-view", "team-a", "ClusterRole", "view", sa("helper"))
    assert _escalation(team, AGENT, "rolebindings", "team-a", ok) is None
    assert _escalation(team, AGENT, "rolebindings", "team-a",
                       binding("helper-edit", "team-a", "ClusterRole", "edit", sa("helper"))) is None


def test_binding_cluster_admin_is_an_escalation(team: Policy) -> None:
    grab = binding("grab", "team-a", "ClusterRole", "cluster-admin", sa("agent"))
    err = _escalation(team, AGENT, "rolebindings", "team-a", grab)
    assert err is not None and err.code == 403
    assert err.message == (
        'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "system:serviceaccount:team-a:agent" '
        '(groups=["system:serviceaccounts" "system:serviceaccounts:team-a" "system:authenticated"]) is attempting '
        'to grant RBAC permissions not currently held:\n'
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n'
        '{NonResourceURLs:["*"], Verbs:["*"]}')


def test_role_with_unheld_permissions_lists_them_compactly(team: Policy) -> None:
    quota = role("quota-editor", "team-a", rule(["get", "update", "patch"], ["resourcequotas", "configmaps"]))
    err = _escalation(team, AGENT, "roles", "team-a", quota)
    assert err is not None
    assert err.message.endswith('not currently held:\n{APIGroups:[""], Resources:["resourcequotas"], '
                                'Verbs:["update" "patch"]}')


def test_escalate_and_bind_verbs_lift_the_check(team: Policy) -> None:
    team.add(role("rbac-power", "team-a", rule(["escalate"], ["roles"], [RBAC]),
                  rule(["bind"], ["clusterroles"], [RBAC], names=["cluster-admin"])),
             binding("power", "team-a", "Role", "rbac-power", sa("agent")))
    assert _escalation(team, AGENT, "roles", "team-a", role("all", "team-a", rule(["*"], ["*"], ["*"]))) is None
    assert _escalation(team, AGENT, "rolebindings", "team-a",
                       binding("grab", "team-a", "ClusterRole", "cluster-admin", sa("agent"))) is None
    assert _escalation(team, AGENT, "clusterrolebindings", "",
                       cluster_binding("grab", "cluster-admin", sa("agent", "team-a"))) is not None


def test_binding_to_a_missing_role_is_not_found(team: Policy) -> None:
    err = _escalation(team, AGENT, "rolebindings", "team-a", binding("b", "team-a", "Role", "nope", sa("x")))
    assert err is not None and (err.code, err.message) == (404, 'roles.rbac.authorization.k8s.io "nope" not found')


def test_aggregation_rule_needs_cluster_admin(team: Policy) -> None:
    sneaky = cluster_role("sneaky", aggregate=[{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin":
                                                                "true"}}])
    team.add(cluster_role("rbac-writer", rule(["create"], ["clusterroles"], [RBAC])),
             cluster_binding("w", "rbac-writer", sa("agent", "team-a")))
    err = _escalation(team, AGENT, "clusterroles", "", sneaky)
    assert err is not None and err.message == ('clusterroles.rbac.authorization.k8s.io "sneaky" is forbidden: '
                                               'must have cluster-admin privileges to use the aggregationRule')
    assert _escalation(team, ADMIN, "clusterroles", "", sneaky) is None


def test_gc_only_updates_and_other_resources_pass(team: Policy) -> None:
    old = binding("grab", "team-a", "ClusterRole", "cluster-admin", sa("agent"))
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["example.com/keep"]}}
    assert _escalation(team, AGENT, "rolebindings", "team-a", new, old) is None
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {"a": "b"}}}
    assert _escalation(team, AGENT, "rolebindings", "team-a", relabelled, old) is not None
    assert _escalation(team, AGENT, "configmaps", "team-a", {"metadata": {"name": "x"}}) is None


# -- impersonation -------------------------------------------------------------------------------------
def test_impersonation_requires_the_impersonate_verb(team: Policy) -> None:
    assert impersonate(team.authorizer, AGENT, [("Accept", "application/json")]) is AGENT
    with pytest.raises(APIError) as denied:
        impersonate(team.authorizer, AGENT, [("Impersonate-User", "kubernetes-admin")])
    assert denied.value.message == ('users "kubernetes-admin" is forbidden: User "system:serviceaccount:team-a:agent" '
                                    'cannot impersonate resource "users" in API group "" at the cluster scope')
    with pytest.raises(APIError) as groups:
        impersonate(team.authorizer, ALICE, [("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")])
    assert groups.value.message.startswith('users "bob" is forbidden')


def test_impersonating_a_service_account(team: Policy) -> None:
    # admin of team-a inherits edit's "impersonate serviceaccounts" in team-a
    acting = impersonate(team.authorizer, AGENT, [("Impersonate-User", "system:serviceaccount:team-a:builder")])
    assert acting == UserInfo("system:serviceaccount:team-a:builder", "", [
        "system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"], {})
    with pytest.raises(APIError) as other_ns:
        impersonate(team.authorizer, AGENT, [("Impersonate-User", "system:serviceaccount:kube-system:admin")])
    assert other_ns.value.message == (
        'serviceaccounts "admin" is forbidden: User "system:serviceaccount:team-a:agent" cannot impersonate '
        'resource "serviceaccounts" in API group "" in the namespace "kube-system"')


def test_impersonating_users_groups_and_extras_when_allowed() -> None:
    policy = Policy(cluster_role("imp", rule(["impersonate"], ["users", "groups"]),
                                 rule(["impersonate"], ["userextras/scopes"], ["authentication.k8s.io"])),
                    cluster_binding("imp", "imp", user("alice")))
    assert impersonate(policy.authorizer, ALICE, [("Impersonate-User", "bob")]) == \
        UserInfo("bob", "", ["system:authenticated"], {})
    acting = impersonate(policy.authorizer, ALICE, [("impersonate-user", "bob"), ("Impersonate-Group", "ops"),
                                                    ("Impersonate-Extra-Scopes", "view")])
    assert acting == UserInfo("bob", "", ["ops"], {"scopes": ["view"]})
    with pytest.raises(APIError) as orphan:
        impersonate(policy.authorizer, ALICE, [("Impersonate-Group", "ops")])
    assert orphan.value.code == 500
    assert orphan.value.message == ("Internal error occurred: requested [{Group  ops    }] without impersonating "
                                    "a user")
