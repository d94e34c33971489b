"""The /openapi/v3 index and per group-version documents kubectl downloads."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from chaositbench.sim import openapi, schema
from chaositbench.sim.kinds import all_kinds


def _refs(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref)
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)
    return out


def test_build_time_and_caching() -> None:
    openapi._documents.cache_clear()
    schema.definitions()
    started = time.perf_counter()
    index = openapi.openapi_v3_index(all_kinds())
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0  # ~50 ms for every group-version here
    assert openapi.openapi_v3_index(list(all_kinds())) == index
    assert openapi.openapi_v3_document("apps", "v1", all_kinds()) is openapi.openapi_v3_document(
        "apps", "v1", all_kinds())


def test_index_lists_served_group_versions_with_hashes() -> None:
    paths = openapi.openapi_v3_index(all_kinds())["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/networking.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1", "apis/autoscaling/v1", "apis/autoscaling/v2"} <= set(paths)
    assert "apis/metrics.k8s.io/v1beta1" not in paths  # no schema for the metrics kinds
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    digest = url.split("hash=")[1]
    document = openapi.openapi_v3_document("apps", "v1", all_kinds())
    encoded = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    assert digest == hashlib.sha512(encoded).hexdigest().upper()


def test_unknown_group_version_is_none() -> None:
    assert openapi.openapi_v3_document("example.com", "v1", all_kinds()) is None
    assert openapi.openapi_v3_document("metrics.k8s.io", "v1beta1", all_kinds()) is None


def test_patch_operations_declare_field_validation() -> None:
    """What kubectl's --validate=strict looks for: a PATCH for the GVK with the fieldValidation query param."""
    for kind in all_kinds():
        if "patch" not in kind.verbs or schema.definition_name(kind.group, kind.version, kind.kind) is None:
            continue
        document = openapi.openapi_v3_document(kind.group, kind.version, all_kinds())
        assert document is not None
        gvk = {"group": kind.group, "kind": kind.kind, "version": kind.version}
        patches = [item["patch"] for item in document["paths"].values()
                   if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"] == gvk]
        assert patches, kind
        assert all(any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
                   for op in patches)


def test_core_paths_and_operations() -> None:
    document = openapi.openapi_v3_document("", "v1", all_kinds())
    assert document["openapi"] == "3.0.0"
    pods = document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert {"get", "put", "patch", "delete", "parameters"} <= set(pods)
    assert pods["get"]["operationId"] == "readCoreV1NamespacedPod"
    assert pods["get"]["x-kubernetes-action"] == "get"
    assert pods["get"]["tags"] == ["core_v1"]
    assert pods["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}
    collection = document["paths"]["/api/v1/namespaces/{namespace}/pods"]
    assert collection["get"]["operationId"] == "listCoreV1NamespacedPod"
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert collection["delete"]["operationId"] == "deleteCoreV1CollectionNamespacedPod"
    assert document["paths"]["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert document["paths"]["/api/v1/nodes/{name}"]["get"]["operationId"] == "readCoreV1Node"
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in document["paths"]


def test_subresources_and_create_only_kinds() -> None:
    apps = openapi.openapi_v3_document("apps", "v1", all_kinds())
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale",
                                                                 "version": "v1"}
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
    authz = openapi.openapi_v3_document("authorization.k8s.io", "v1", all_kinds())
    review = authz["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(review) == {"post", "parameters"}
    assert review["post"]["operationId"] == "createAuthorizationV1SelfSubjectAccessReview"
    rbac = openapi.openapi_v3_document("rbac.authorization.k8s.io", "v1", all_kinds())
    assert rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["get"]["tags"] == [
        "rbacAuthorization_v1"]


def test_components_are_closed_and_openapi_shaped() -> None:
    for path in openapi.openapi_v3_index(all_kinds())["paths"]:
        parts = path.split("/")
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        document = openapi.openapi_v3_document(group, version, all_kinds())
        schemas = document["components"]["schemas"]
        for ref in _refs(document, set()):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in schemas, ref
    schemas = openapi.openapi_v3_document("apps", "v1", all_kinds())["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["type"] == "object"
    assert deployment["properties"]["kind"] == {"description": deployment["properties"]["kind"]["description"],
                                                "type": "string"}
    assert deployment["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment",
                                                              "version": "v1"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert "$defs" not in json.dumps(schemas)
    assert "\"null\"" not in json.dumps(schemas)
