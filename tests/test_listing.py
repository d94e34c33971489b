"""The lister of snapshots and probes (``chaositbench.listing``) on a served cluster, with the real kubectl as
the oracle."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from chaositbench.listing import LIST_CONCURRENCY, namespaced_objects
from conftest import Kubectl

NAMESPACES = ("listing-a", "listing-b", "listing-c")
#: a namespace with objects of the same kinds that is not asked for
OTHER = "listing-other"
KINDS = (("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"))
RESOURCES = {"ConfigMap": "configmaps", "Service": "services", "Deployment": "deployments"}


def _manifests(namespace: str, count: int) -> list[dict]:
    objects: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    for i in range(count):
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"config-{i}", "namespace": namespace},
                        "data": {"index": str(i)}})
    objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    return objects


@pytest.fixture(scope="module")
def populated(kubectl: Kubectl) -> None:
    """A different number of ConfigMaps in each namespace, a Service and a Deployment in each."""
    items = [obj for count, namespace in enumerate((*NAMESPACES, OTHER), start=1) for obj in _manifests(namespace, count)]
    kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(obj) for obj in items))


def test_every_object_of_the_kinds_in_the_namespaces_kind_by_kind(populated: None, api_client: client.ApiClient,
                                                                  kubectl: Kubectl) -> None:
    """Kind by kind, then namespace by namespace, in the API's order, with apiVersion and kind filled in; more
    lists than are made at once, so their results are put back in order."""
    assert len(KINDS) * len(NAMESPACES) > LIST_CONCURRENCY
    listed = namespaced_objects(DynamicClient(api_client), KINDS, iter(NAMESPACES))
    expected = [(kind, namespace, item["metadata"]["uid"])
                for _, kind in KINDS for namespace in NAMESPACES
                for item in json.loads(kubectl("get", RESOURCES[kind], "-n", namespace, "-o", "json"))["items"]]
    assert [(kind, namespace, obj["metadata"]["uid"]) for kind, namespace, obj in listed] == expected
    assert {(obj["apiVersion"], obj["kind"]) for _, _, obj in listed} == set(KINDS)
    assert all(obj["metadata"]["namespace"] == namespace for _, namespace, obj in listed)
    assert [obj["data"] for kind, namespace, obj in listed if kind == "ConfigMap" and namespace == "listing-b"
            and obj["metadata"]["name"].startswith("config-")] == [{"index": "0"}, {"index": "1"}]


def test_nothing_is_listed_without_namespaces_or_kinds(populated: None, api_client: client.ApiClient) -> None:
    dynamic = DynamicClient(api_client)
    assert namespaced_objects(dynamic, KINDS, []) == [] and namespaced_objects(dynamic, [], NAMESPACES) == []
