"""Garbage collection by ownerReferences, namespace deletion, and the per-namespace defaults."""

from __future__ import annotations

from typing import Any

from chaositbench.sim.controllers.garbage_collector import GarbageCollector
from chaositbench.sim.controllers.namespace import NamespaceController
from chaositbench.sim.controllers.rootca import DESCRIPTION, RootCAPublisher
from chaositbench.sim.kinds import preferred

from controller_harness import NAMESPACES, PODS, Harness, container, run

CONFIGMAPS = preferred("", "ConfigMap")
SERVICES = preferred("", "Service")
SERVICE_ACCOUNTS = preferred("", "ServiceAccount")
CLUSTER_ROLES = preferred("rbac.authorization.k8s.io", "ClusterRole")


def ref(owner: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    out = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"]}
    if block:
        out["blockOwnerDeletion"] = True
    return out


def configmap(name: str, *owners: dict[str, Any], finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"metadata": meta, "data": {"k": "v"}}


def test_background_deletion_removes_dependents_of_vanished_owners() -> None:
    async def body() -> None:
        async with Harness(GarbageCollector) as h:
            owner = h.create(CONFIGMAPS, configmap("owner"))
            h.create(CONFIGMAPS, configmap("child", ref(owner)))
            other = h.create(CONFIGMAPS, configmap("other"))
            h.create(CONFIGMAPS, configmap("shared", ref(owner), ref(other)))
            h.create(CONFIGMAPS, configmap("dangling", {**ref(owner), "uid": "00000000-0000-0000-0000-000000000000"}))
            await h.wait_for(lambda: h.get(CONFIGMAPS, "dangling") is None, what="dangling dependent deleted")
            h.api.delete(CONFIGMAPS, "default", "owner")
            await h.wait_for(lambda: h.get(CONFIGMAPS, "child") is None, what="child deleted")
            shared = await h.wait_for(lambda: (lambda s: s if len(s["metadata"]["ownerReferences"]) == 1 else None)(
                h.get(CONFIGMAPS, "shared")), what="stale reference dropped")
            assert shared["metadata"]["ownerReferences"][0]["uid"] == other["metadata"]["uid"]
    run(body)


def test_cluster_scoped_owner_of_namespaced_dependent() -> None:
    async def body() -> None:
        async with Harness(GarbageCollector) as h:
            role = h.create(CLUSTER_ROLES, {"metadata": {"name": "reader"}, "rules": []})
            h.create(CONFIGMAPS, configmap("grant", ref(role)))
            await h.settle()
            assert h.get(CONFIGMAPS, "grant") is not None
            h.api.delete(CLUSTER_ROLES, "", "reader")
            await h.wait_for(lambda: h.get(CONFIGMAPS, "grant") is None, what="dependent of cluster-scoped owner")
    run(body)


def test_foreground_deletion_waits_for_blocking_dependents() -> None:
    async def body() -> None:
        async with Harness(GarbageCollector) as h:
            owner = h.create(CONFIGMAPS, configmap("owner"))
            h.create(CONFIGMAPS, configmap("held", ref(owner, block=True), finalizers=["example.com/hold"]))
            h.api.delete(CONFIGMAPS, "default", "owner", propagation="Foreground")
            held = await h.wait_for(lambda: (h.get(CONFIGMAPS, "held") or {}).get("metadata", {}).get(
                "deletionTimestamp"), what="dependent deleted first")
            assert held
            await h.settle()
            waiting = h.get(CONFIGMAPS, "owner")
            assert waiting is not None and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
            h.change(CONFIGMAPS, "held", lambda cm: cm["metadata"].pop("finalizers"))
            await h.wait_for(lambda: h.get(CONFIGMAPS, "owner") is None, what="owner deleted after its dependent")
    run(body)


def test_orphan_deletion_keeps_dependents_without_the_reference() -> None:
    async def body() -> None:
        async with Harness(GarbageCollector) as h:
            owner = h.create(CONFIGMAPS, configmap("owner"))
            h.create(CONFIGMAPS, configmap("child", ref(owner, block=True)))
            h.api.delete(CONFIGMAPS, "default", "owner", propagation="Orphan")
            await h.wait_for(lambda: h.get(CONFIGMAPS, "owner") is None, what="owner gone")
            child = h.get(CONFIGMAPS, "child")
            assert child is not None and "ownerReferences" not in child["metadata"]
    run(body)


def test_namespace_deletion_removes_content_then_the_namespace() -> None:
    async def body() -> None:
        async with Harness(NamespaceController, RootCAPublisher) as h:
            h.create_namespace("shop")
            await h.wait_for(lambda: h.get(SERVICE_ACCOUNTS, "default", "shop"), what="default ServiceAccount")
            h.create(CONFIGMAPS, configmap("settings"), "shop")
            h.create(SERVICES, {"metadata": {"name": "api"}, "spec": {"ports": [{"port": 80}]}}, "shop")
            running = h.create(PODS, {"metadata": {"name": "api-0"}, "spec": {
                "nodeName": "chaositbench-worker", "containers": [container()]}}, "shop")
            h.set_pod_state(running)
            h.api.delete(NAMESPACES, "", "shop")
            await h.wait_for(lambda: not h.items(CONFIGMAPS, "shop") and not h.items(SERVICES, "shop"),
                             what="content deleted")
            ns = await h.wait_for(lambda: (lambda n: n if n and n.get("status", {}).get("conditions") else None)(
                h.get(NAMESPACES, "shop", "")), what="deletion conditions")
            conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in ns["status"]["conditions"]}
            assert ns["status"]["phase"] == "Terminating"
            assert conditions["NamespaceContentRemaining"] == (
                "True", "SomeResourcesRemain", "Some resources are remaining: pods. has 1 resource instances")
            assert conditions["NamespaceFinalizersRemaining"] == (
                "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished")
            assert conditions["NamespaceDeletionDiscoveryFailure"][1] == "ResourcesDiscovered"
            pod = h.get(PODS, "api-0", "shop")
            assert pod["metadata"]["deletionTimestamp"]
            h.api.finish_delete(PODS, pod)  # the kubelet's final delete after the grace period
            await h.wait_for(lambda: h.get(NAMESPACES, "shop", "") is None, what="namespace gone")
    run(body)


def test_every_namespace_gets_default_service_account_and_root_ca() -> None:
    async def body() -> None:
        async with Harness(RootCAPublisher) as h:
            h.create_namespace("team")
            await h.wait_for(lambda: h.get(SERVICE_ACCOUNTS, "default", "team"), what="ServiceAccount")
            ca = await h.wait_for(lambda: h.get(CONFIGMAPS, "kube-root-ca.crt", "team"), what="root CA")
            bundle = h.cluster.ca_bundle
            assert ca["data"] == {"ca.crt": bundle} and bundle == h.cluster.certificates.ca_pem.decode()
            assert bundle.startswith("-----BEGIN CERTIFICATE-----")
            assert ca["metadata"]["annotations"] == {"kubernetes.io/description": DESCRIPTION}
            h.api.delete(SERVICE_ACCOUNTS, "team", "default")
            h.api.delete(CONFIGMAPS, "team", "kube-root-ca.crt")
            await h.wait_for(lambda: h.get(SERVICE_ACCOUNTS, "default", "team"), what="ServiceAccount again")
            await h.wait_for(lambda: h.get(CONFIGMAPS, "kube-root-ca.crt", "team"), what="root CA again")
            h.change(CONFIGMAPS, "kube-root-ca.crt", lambda cm: cm.update(data={"ca.crt": "tampered"}), "team")
            await h.wait_for(lambda: h.get(CONFIGMAPS, "kube-root-ca.crt", "team")["data"]["ca.crt"] == bundle,
                             what="root CA restored")
    run(body)
