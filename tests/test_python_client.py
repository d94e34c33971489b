"""The official ``kubernetes`` Python client against the simulated cluster, unchanged.

Every call goes over HTTPS through the client's generated API classes, with the
kubeconfig the cluster writes: CRUD, selectors and paging, watches (order,
resourceVersions, resumption, 410 Gone), optimistic concurrency, Status error
bodies, controllers making a Deployment available, delete propagation, and a
ServiceAccount token scoped by a Role.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from chaositbench.sim.kinds import preferred
from chaositbench.sim.kubeconfig import kubeconfig as make_kubeconfig, write_kubeconfig
from chaositbench.sim.server import SimServer
from polling import eventually

CONFIGMAPS = preferred("", "ConfigMap")
WAIT_S = 45.0
CONFLICT_MESSAGE = ('Operation cannot be fulfilled on configmaps "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again")


# --- helpers ---------------------------------------------------------------------------


def status_body(exc: ApiException) -> dict[str, Any]:
    """The ``Status`` object of a failed call, checked for the shape every error must have."""
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def call_error(fn: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as info:
        fn()
    return info.value


def deployment_manifest(name: str, replicas: int, **pod_spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    spec = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}], **pod_spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def stream(fn: Callable[..., Any], *args: Any, count: int, timeout: int = 15, **kwargs: Any) -> list[dict[str, Any]]:
    """The first ``count`` events of a watch (fewer if the server ends it at ``timeout``)."""
    events: list[dict[str, Any]] = []
    w = watch.Watch()
    for event in w.stream(fn, *args, timeout_seconds=timeout, **kwargs):
        events.append(event)
        if len(events) == count:
            w.stop()
    return events


def rv(event: dict[str, Any]) -> int:
    return int(event["raw_object"]["metadata"]["resourceVersion"])


# --- fixtures --------------------------------------------------------------------------


def make_namespace(core: client.CoreV1Api, name: str) -> str:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def namespace(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return make_namespace(core, f"py-{slug}"[:63].rstrip("-"))


# --- CRUD ------------------------------------------------------------------------------


def test_configmap_crud(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"tier": "web"}), data={"mode": "fast"}))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.namespace == namespace and created.data == {"mode": "fast"}

    read = core.read_namespaced_config_map("settings", namespace)
    assert read.metadata.uid == created.metadata.uid
    assert read.metadata.resource_version == created.metadata.resource_version

    read.data["mode"] = "slow"
    replaced = core.replace_namespaced_config_map("settings", namespace, read)
    assert replaced.data == {"mode": "slow"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    patched = core.patch_namespaced_config_map("settings", namespace, {"data": {"extra": "1"},
                                                                      "metadata": {"labels": {"tier": None}}})
    assert patched.data == {"mode": "slow", "extra": "1"}
    assert not patched.metadata.labels

    names = [cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items]
    assert "settings" in names

    core.delete_namespaced_config_map("settings", namespace)
    err = call_error(lambda: core.read_namespaced_config_map("settings", namespace))
    assert err.status == 404


def test_deployment_crud(apps: client.AppsV1Api, namespace: str) -> None:
    created = apps.create_namespaced_deployment(namespace, deployment_manifest("web", 1))
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"  # defaulted by the server
    assert created.spec.template.spec.containers[0].termination_message_path == "/dev/termination-log"

    for _ in range(5):  # read-modify-write, as clients do: the controller may update the status in between
        read = apps.read_namespaced_deployment("web", namespace)
        read.spec.template.spec.containers[0].image = "registry.k8s.io/pause:3.9"
        try:
            replaced = apps.replace_namespaced_deployment("web", namespace, read)
            break
        except ApiException as exc:
            assert exc.status == 409, exc
    assert replaced.metadata.generation == 2
    assert replaced.spec.template.spec.containers[0].image == "registry.k8s.io/pause:3.9"

    patched = apps.patch_namespaced_deployment("web", namespace, {"spec": {"replicas": 0}})
    assert patched.spec.replicas == 0 and patched.metadata.generation == 3

    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.spec.replicas == 0 and scale.status.selector == "app=web"

    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items] == ["web"]
    deleted = apps.delete_namespaced_deployment("web", namespace)  # the client types this answer as a dict
    assert deleted["kind"] == "Status" and deleted["status"] == "Success"
    assert deleted["details"]["name"] == "web" and deleted["details"]["kind"] == "deployments"
    err = call_error(lambda: apps.read_namespaced_deployment("web", namespace))
    body = status_body(err)
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


# --- list: selectors and paging --------------------------------------------------------


def test_list_with_label_and_field_selectors(core: client.CoreV1Api, namespace: str) -> None:
    for name, labels in [("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db", "env": "prod"}),
                         ("c", {"tier": "web", "env": "dev"}), ("d", {})]:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": {"set": "s", **labels}}})

    def names(**kwargs: Any) -> list[str]:
        return [cm.metadata.name for cm in core.list_namespaced_config_map(namespace, **kwargs).items]

    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier=web,env!=dev") == ["a"]
    assert names(label_selector="tier in (web,db),env=prod") == ["a", "b"]
    assert names(label_selector="set=s,!tier") == ["d"]
    assert names(label_selector="env") == ["a", "b", "c"]
    assert names(label_selector="tier notin (web)") == ["b", "d", "kube-root-ca.crt"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b", label_selector="env") == ["a", "c"]
    assert names(field_selector=f"metadata.namespace={namespace},metadata.name==c") == ["c"]
    everywhere = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={namespace}",
                                                         label_selector="set=s")
    assert [cm.metadata.name for cm in everywhere.items] == ["a", "b", "c", "d"]

    err = call_error(lambda: names(field_selector="data.mode=fast"))
    assert err.status == 400
    assert status_body(err)["message"] == "field label not supported: data.mode"
    err = call_error(lambda: names(label_selector="tier in web"))
    assert err.status == 400 and status_body(err)["reason"] == "BadRequest"


def test_list_paging_with_limit_and_continue(core: client.CoreV1Api, namespace: str) -> None:
    for i in range(7):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"cm-{i}", "labels": {"page": "yes"}}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cm-other"}})

    first = core.list_namespaced_config_map(namespace, label_selector="page=yes", limit=3)
    assert [cm.metadata.name for cm in first.items] == ["cm-0", "cm-1", "cm-2"]
    assert first.metadata._continue and first.metadata.remaining_item_count == 4
    seen = [cm.metadata.name for cm in first.items]
    token = first.metadata._continue
    pages = 1
    while token:
        page = core.list_namespaced_config_map(namespace, label_selector="page=yes", limit=3, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        seen += [cm.metadata.name for cm in page.items]
        token = page.metadata._continue
        pages += 1
    assert pages == 3
    assert seen == [f"cm-{i}" for i in range(7)]

    err = call_error(lambda: core.list_namespaced_config_map(namespace, limit=3, _continue="not-a-token"))
    assert err.status == 400 and status_body(err)["reason"] == "BadRequest"


# --- watch -----------------------------------------------------------------------------


def test_watch_delivers_changes_in_order_and_resumes(core: client.CoreV1Api, namespace: str) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    received: list[dict[str, Any]] = []
    watcher = threading.Thread(target=lambda: received.extend(
        stream(core.list_namespaced_config_map, namespace, count=3, resource_version=start)))
    watcher.start()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}, "data": {"v": "1"}})
    core.patch_namespaced_config_map("w", namespace, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w", namespace)
    watcher.join(timeout=30)

    assert [e["type"] for e in received] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(isinstance(e["object"], client.V1ConfigMap) and e["object"].metadata.name == "w" for e in received)
    assert [e["object"].data for e in received[:2]] == [{"v": "1"}, {"v": "2"}]
    versions = [rv(e) for e in received]
    assert int(start) < versions[0] < versions[1] < versions[2]

    resumed = stream(core.list_namespaced_config_map, namespace, count=2, resource_version=str(versions[0]))
    assert [(e["type"], rv(e)) for e in resumed] == [("MODIFIED", versions[1]), ("DELETED", versions[2])]


def test_watch_with_field_selector_sees_only_its_object(core: client.CoreV1Api, namespace: str) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    for name in ("other", "mine"):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    core.patch_namespaced_config_map("other", namespace, {"data": {"x": "1"}})
    core.patch_namespaced_config_map("mine", namespace, {"data": {"x": "1"}})
    events = stream(core.list_namespaced_config_map, namespace, count=2, resource_version=start,
                    field_selector="metadata.name=mine")
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "mine"), ("MODIFIED", "mine")]


def test_watch_from_a_compacted_resource_version_is_gone(tmp_path: Path) -> None:
    """Once the store's event history no longer reaches back, a watch from there answers 410 Gone."""
    with SimServer(time_scale=0.2) as sim:
        assert sim.cluster is not None
        cluster = sim.cluster
        api = config.new_client_from_config(config_file=str(sim.write_kubeconfig(tmp_path / "kubeconfig")))
        core = client.CoreV1Api(api)
        make_namespace(core, "gone")
        old = core.create_namespaced_config_map("gone", {"metadata": {"name": "x"}}).metadata.resource_version

        def churn() -> None:
            """One write more than the history keeps, so that the first change after ``old`` falls out of it."""
            for i in range((cluster.store._history.maxlen or 0) + 1):
                cluster.api.update(CONFIGMAPS, "gone", "x", {"metadata": {"name": "x"}, "data": {"i": str(i)}})
        sim.call(churn)

        err = call_error(lambda: stream(core.list_namespaced_config_map, "gone", count=1, resource_version=old))
        assert err.status == 410
        assert "too old resource version" in f"{err.body} {err.reason}"

        current = core.list_namespaced_config_map("gone").metadata.resource_version
        core.patch_namespaced_config_map("x", "gone", {"data": {"i": "last"}})
        events = stream(core.list_namespaced_config_map, "gone", count=1, resource_version=current)
        assert [(e["type"], e["object"].data) for e in events] == [("MODIFIED", {"i": "last"})]
        api.close()


# --- errors ----------------------------------------------------------------------------


def test_replace_with_a_stale_resource_version_is_a_conflict(core: client.CoreV1Api, namespace: str) -> None:
    stale = core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}, "data": {"k": "1"}})
    fresh = core.read_namespaced_config_map("x", namespace)
    fresh.data = {"k": "2"}
    core.replace_namespaced_config_map("x", namespace, fresh)

    stale.data = {"k": "3"}
    err = call_error(lambda: core.replace_namespaced_config_map("x", namespace, stale))
    assert err.status == 409 and err.reason == "Conflict"
    body = status_body(err)
    assert body["reason"] == "Conflict"
    assert body["message"] == CONFLICT_MESSAGE.format(name="x")
    assert body["details"] == {"name": "x", "kind": "configmaps"}
    assert core.read_namespaced_config_map("x", namespace).data == {"k": "2"}


def test_not_found_body(core: client.CoreV1Api, namespace: str) -> None:
    err = call_error(lambda: core.read_namespaced_config_map("missing", namespace))
    assert err.status == 404
    assert status_body(err) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": 'configmaps "missing" not found', "reason": "NotFound",
                                "details": {"name": "missing", "kind": "configmaps"}, "code": 404}
    err = call_error(lambda: core.read_namespaced_pod("p", "no-such-namespace"))
    assert status_body(err)["message"] == 'pods "p" not found'


def test_invalid_configmap_body(core: client.CoreV1Api, namespace: str) -> None:
    err = call_error(lambda: core.create_namespaced_config_map(namespace, {"metadata": {"name": "Bad_Name"}}))
    assert err.status == 422
    body = status_body(err)
    detail = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
              "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert body["reason"] == "Invalid"
    assert body["message"] == f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {detail}'
    assert body["details"] == {"name": "Bad_Name", "kind": "ConfigMap", "causes": [
        {"reason": "FieldValueInvalid", "message": f'Invalid value: "Bad_Name": {detail}', "field": "metadata.name"}]}


def test_invalid_deployment_body_names_the_group(apps: client.AppsV1Api, namespace: str) -> None:
    """kube-apiserver qualifies the kind with its group in Invalid messages (``Deployment.apps``)."""
    manifest = deployment_manifest("web", 1)
    manifest["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    err = call_error(lambda: apps.create_namespaced_deployment(namespace, manifest))
    assert err.status == 422
    body = status_body(err)
    assert body["details"]["kind"] == "Deployment" and body["details"]["group"] == "apps"
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    assert body["message"].startswith('Deployment.apps "web" is invalid: spec.template.metadata.labels: ')


# --- controllers -----------------------------------------------------------------------


def test_deployment_becomes_available(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))

    def ready() -> client.V1Deployment | None:
        d = apps.read_namespaced_deployment_status("web", namespace)
        return d if d.status.ready_replicas == 2 and d.status.available_replicas == 2 else None

    d = eventually(ready, "2 ready replicas")
    assert d.status.observed_generation == d.metadata.generation
    assert d.status.updated_replicas == 2
    assert {c.type: c.status for c in d.status.conditions}["Available"] == "True"
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2
    assert all(p.status.phase == "Running" and p.spec.node_name and p.status.pod_ip for p in pods)
    assert {p.metadata.owner_references[0].kind for p in pods} == {"ReplicaSet"}


def _web_replicasets(apps: client.AppsV1Api, namespace: str) -> list[client.V1ReplicaSet]:
    return apps.list_namespaced_replica_set(namespace, label_selector="app=web").items


def test_delete_with_foreground_propagation(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    eventually(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=web").items) == 2, "2 pods")
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Foreground")
    try:
        terminating = apps.read_namespaced_deployment("web", namespace)
        assert terminating.metadata.deletion_timestamp is not None
        assert "foregroundDeletion" in terminating.metadata.finalizers
    except ApiException as err:  # the garbage collector may already have finished
        assert err.status == 404

    def deployment_gone() -> bool:
        try:
            apps.read_namespaced_deployment("web", namespace)
            return False
        except ApiException as err:
            assert err.status == 404
            return True

    eventually(deployment_gone, "the deployment to be deleted")
    assert _web_replicasets(apps, namespace) == []  # foreground: dependents go before the owner
    eventually(lambda: not core.list_namespaced_pod(namespace, label_selector="app=web").items, "pods to go")


def test_delete_with_orphan_propagation(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    eventually(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=web").items) == 2, "2 pods")
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Orphan")

    def orphaned() -> list[client.V1ReplicaSet]:
        try:
            apps.read_namespaced_deployment("web", namespace)
            return []
        except ApiException as err:
            assert err.status == 404
        rs = _web_replicasets(apps, namespace)
        return rs if rs and all(not r.metadata.owner_references for r in rs) else []

    replicasets = eventually(orphaned, "the deployment gone and its ReplicaSet orphaned")
    assert len(replicasets) == 1 and replicasets[0].metadata.deletion_timestamp is None
    time.sleep(1)
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2 and all(p.metadata.deletion_timestamp is None for p in pods)
    assert {p.metadata.owner_references[0].name for p in pods} == {replicasets[0].metadata.name}


# --- authentication and RBAC -----------------------------------------------------------


def test_service_account_token_limited_by_a_role(sim: SimServer, core: client.CoreV1Api,
                                                 api_client: client.ApiClient, namespace: str,
                                                 tmp_path: Path) -> None:
    other = make_namespace(core, f"{namespace}-other"[:63])
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "visible"}})
    core.create_namespaced_config_map(other, {"metadata": {"name": "hidden"}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "cm-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})

    request = core.create_namespaced_service_account_token("reader", namespace, client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)))
    assert request.status.token and request.status.expiration_timestamp
    assert sim.certificates is not None
    scoped_config = write_kubeconfig(tmp_path / "reader", make_kubeconfig(
        sim.url, request.status.token, sim.certificates.ca_pem, user="reader", namespace=namespace))
    scoped_api = config.new_client_from_config(config_file=str(scoped_config))
    scoped = client.CoreV1Api(scoped_api)
    user = f"system:serviceaccount:{namespace}:reader"

    listed = [cm.metadata.name for cm in scoped.list_namespaced_config_map(namespace).items]
    assert listed == ["kube-root-ca.crt", "visible"]
    assert scoped.read_namespaced_config_map("visible", namespace).metadata.name == "visible"

    err = call_error(lambda: scoped.list_namespaced_config_map(other))
    assert err.status == 403
    body = status_body(err)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (f'configmaps is forbidden: User "{user}" cannot list resource "configmaps" '
                               f'in API group "" in the namespace "{other}"')
    err = call_error(lambda: scoped.read_namespaced_config_map("hidden", other))
    assert status_body(err)["message"] == (f'configmaps "hidden" is forbidden: User "{user}" cannot get resource '
                                           f'"configmaps" in API group "" in the namespace "{other}"')
    err = call_error(lambda: scoped.create_namespaced_config_map(namespace, {"metadata": {"name": "new"}}))
    assert status_body(err)["message"] == (f'configmaps is forbidden: User "{user}" cannot create resource '
                                           f'"configmaps" in API group "" in the namespace "{namespace}"')
    err = call_error(lambda: scoped.list_namespaced_pod(namespace))
    assert status_body(err)["message"] == (f'pods is forbidden: User "{user}" cannot list resource "pods" '
                                           f'in API group "" in the namespace "{namespace}"')
    scoped_api.close()
