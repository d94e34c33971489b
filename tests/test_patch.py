"""Patch engines: JSON patch, merge patch, strategic merge patch, server-side apply, managedFields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chaositbench.sim import fieldmanager
from chaositbench.sim.errors import APIError
from chaositbench.sim.patch import (json_patch, merge_patch, record_update_manager, server_side_apply,
                                    strategic_merge_patch)

REJECTED = "the server rejected our request due to an error in our request"


def _pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "fe"},
                         "finalizers": ["a/x", "b/y"],
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                              "uid": "u1"}]},
            "spec": {"containers": [
                {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80}, {"containerPort": 443}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "side", "image": "busybox", "command": ["sleep", "1"]}],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k1", "operator": "Exists"}]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}


def _deployment(replicas: int = 2, image: str = "nginx:1", env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "ports": [{"containerPort": 80}]}
    if env is not None:
        container["env"] = env
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}}


def _fail(fn: Any, *args: Any) -> APIError:
    with pytest.raises(APIError) as info:
        fn(*args)
    return info.value


# -- JSON patch ---------------------------------------------------------------------------------------

def test_json_patch_all_operations() -> None:
    doc = {"a": {"b": 1, "c": [1, 2, 3]}, "x/y": {"t~s": "v"}}
    ops = [
        {"op": "test", "path": "/a/b", "value": 1},
        {"op": "add", "path": "/a/c/1", "value": 9},
        {"op": "add", "path": "/a/c/-", "value": 4},
        {"op": "remove", "path": "/a/c/0"},
        {"op": "replace", "path": "/a/b", "value": {"n": True}},
        {"op": "copy", "from": "/a/b", "path": "/copied"},
        {"op": "move", "from": "/x~1y/t~0s", "path": "/moved"},
        {"op": "add", "path": "/a/c/-1", "value": "neg"},  # json-patch v4: -1 inserts at len(list)
    ]
    result = json_patch(doc, ops)
    assert result == {"a": {"b": {"n": True}, "c": [9, 2, 3, 4, "neg"]}, "x/y": {},
                      "copied": {"n": True}, "moved": "v"}
    assert doc == {"a": {"b": 1, "c": [1, 2, 3]}, "x/y": {"t~s": "v"}}
    result["copied"]["n"] = False
    assert json_patch(doc, [{"op": "copy", "from": "/a", "path": "/b"}])["b"] is not doc["a"]


def test_json_patch_replace_whole_document_and_missing_member() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
    # json-patch v4, as vendored by the API server, lets replace create an object member
    assert json_patch({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}]) == {"a": 1, "b": 2}


def test_json_patch_test_semantics() -> None:
    doc = {"n": 1, "b": True, "z": None}
    assert json_patch(doc, [{"op": "test", "path": "/n", "value": 1.0}]) == doc
    assert json_patch(doc, [{"op": "test", "path": "/missing", "value": None}]) == doc
    for op in ({"op": "test", "path": "/b", "value": 1}, {"op": "test", "path": "/n", "value": 2},
               {"op": "test", "path": "/n"}, {"op": "test", "path": "/missing", "value": 0}):
        error = _fail(json_patch, doc, [op])
        assert (error.code, error.reason, error.message) == (422, "Invalid", REJECTED)
        assert "test failed" in str(error.__cause__)


@pytest.mark.parametrize(("op", "why"), [
    ({"op": "replace", "path": "/spec/nope/x", "value": 1}, "doc is missing path"),
    ({"op": "remove", "path": "/nope"}, "Unable to remove nonexistent key: nope"),
    ({"op": "add", "path": "/list/5", "value": 1}, "invalid index"),
    ({"op": "replace", "path": "/list/2", "value": 1}, "doc is missing key"),
    ({"op": "remove", "path": "/list/x"}, "invalid index"),
    ({"op": "move", "from": "/nope", "path": "/x"}, "Unable to remove nonexistent key"),
    ({"op": "copy", "from": "/nope/deeper", "path": "/x"}, "missing from path"),
    ({"op": "add", "value": 1}, "failed to decode path"),
    ({"op": "bogus", "path": "/x"}, "Unexpected kind: bogus"),
    ({"op": "add", "path": "no-slash", "value": 1}, "doc is missing path"),
])
def test_json_patch_failures_are_the_servers_opaque_422(op: dict[str, Any], why: str) -> None:
    error = _fail(json_patch, {"spec": {}, "list": [1, 2]}, [op])
    assert error.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": REJECTED, "reason": "Invalid", "code": 422}
    assert why in str(error.__cause__)


def test_json_patch_bad_bodies() -> None:
    error = _fail(json_patch, {}, {"op": "add"})
    assert (error.code, error.message) == (400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    error = _fail(json_patch, {}, ["add"])
    assert (error.code, error.message) == (400,
                                           "json: cannot unmarshal string into Go value of type jsonpatch.Operation")
    error = _fail(json_patch, {}, [{"op": "test", "path": ""}] * 10001)
    assert error.code == 413 and "10000, got 10001" in error.message


def test_json_patch_rollout_undo_shape() -> None:
    deployment = _deployment()
    template = copy.deepcopy(deployment["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "nginx:0"
    ops = [{"op": "replace", "path": "/spec/template", "value": template},
           {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "3"}}]
    result = json_patch(deployment, ops)
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:0"
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3"}


# -- merge patch --------------------------------------------------------------------------------------

def test_merge_patch_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None, "n": {"x": None, "y": 1}}, "l": [3], "new": None}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e", "n": {"y": 1}}, "l": [3]}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert merge_patch({"a": {"b": 1}}, {"a": "scalar"}) == {"a": "scalar"}


def test_merge_patch_bad_bodies() -> None:
    assert _fail(merge_patch, {}, None).message == "Invalid JSON Patch"
    error = _fail(merge_patch, {}, [1])
    assert error.code == 400 and "cannot unmarshal array" in error.message


# -- strategic merge patch ----------------------------------------------------------------------------

def _smp(obj: dict[str, Any], patch: dict[str, Any], group: str = "", kind: str = "Pod") -> dict[str, Any]:
    before = copy.deepcopy(obj)
    frozen = copy.deepcopy(patch)
    result = strategic_merge_patch(obj, patch, group, "v1", kind)
    assert obj == before and patch == frozen, "inputs must not be mutated"
    assert "$patch" not in json.dumps(result) and "$setElementOrder" not in json.dumps(result)
    return result


def test_smp_merges_containers_env_ports_and_mounts_by_key() -> None:
    result = _smp(_pod(), {"spec": {"containers": [{"name": "app", "image": "nginx:2",
                                                    "env": [{"name": "B", "value": "x"}, {"name": "C", "value": "3"}],
                                                    "ports": [{"containerPort": 443, "name": "https"}],
                                                    "volumeMounts": [{"name": "data", "mountPath": "/data",
                                                                      "readOnly": True}]}]}})
    app, side = result["spec"]["containers"]
    assert app["image"] == "nginx:2" and side["name"] == "side"
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "x"}, {"name": "C", "value": "3"}]
    assert app["ports"] == [{"containerPort": 80}, {"containerPort": 443, "name": "https"}]
    assert app["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]


def test_smp_order_follows_patch_then_server() -> None:
    pod = _pod()
    pod["spec"]["containers"].append({"name": "third", "image": "x"})
    result = _smp(pod, {"spec": {"containers": [{"name": "new", "image": "n"}, {"name": "app", "image": "a"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["new", "app", "side", "third"]
    result = _smp(pod, {"spec": {"containers": [{"name": "third", "image": "t"}, {"name": "new", "image": "n"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["app", "side", "third", "new"]


def test_smp_service_ports_owner_references_conditions() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    result = _smp(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, kind="Service")
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}]
    result = _smp(_pod(), {"metadata": {"ownerReferences": [{"uid": "u2", "name": "other", "kind": "ReplicaSet",
                                                             "apiVersion": "apps/v1"}]},
                           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    # strategicpatch puts items the server does not know before server-only items
    assert [o["uid"] for o in result["metadata"]["ownerReferences"]] == ["u2", "u1"]
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                              {"type": "Initialized", "status": "True"}]


def test_smp_replaces_lists_without_merge_strategy() -> None:
    result = _smp(_pod(), {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}],
                                    "containers": [{"name": "side", "command": ["sh"]}]}})
    assert result["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    assert result["spec"]["containers"][1]["command"] == ["sh"]
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
              "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}
    result = _smp(policy, {"spec": {"ingress": []}}, group="networking.k8s.io", kind="NetworkPolicy")
    assert result["spec"]["ingress"] == []


def test_smp_primitive_set_merge_and_delete_from_primitive_list() -> None:
    result = _smp(_pod(), {"metadata": {"finalizers": ["c/z", "a/x"]}})
    assert result["metadata"]["finalizers"] == ["c/z", "a/x", "b/y"]
    result = _smp(_pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}})
    assert result["metadata"]["finalizers"] == ["b/y"]


def test_smp_null_deletes_and_maps_merge() -> None:
    result = _smp(_pod(), {"metadata": {"labels": {"tier": None, "new": "1"}}, "spec": {"volumes": None}})
    assert result["metadata"]["labels"] == {"app": "web", "new": "1"}
    assert "volumes" not in result["spec"]


def test_smp_patch_directives_on_list_items_and_maps() -> None:
    result = _smp(_pod(), {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["app"]
    result = _smp(_pod(), {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}})
    assert result["spec"]["containers"] == [{"name": "only", "image": "x"}]
    result = _smp(_pod(), {"metadata": {"labels": {"$patch": "replace", "fresh": "1"}}})
    assert result["metadata"]["labels"] == {"fresh": "1"}
    result = _smp(_pod(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert result["metadata"]["labels"] == {}
    result = _smp(_pod(), {"metadata": {"labels": {"$patch": "merge", "x": "1"}}})
    assert result["metadata"]["labels"] == {"app": "web", "tier": "fe", "x": "1"}
    result = _smp(_pod(), {"spec": {"newList": [{"name": "n", "$patch": "merge"}]}})
    assert result["spec"]["newList"] == [{"name": "n"}]


def test_smp_retain_keys() -> None:
    deployment = _deployment()
    deployment["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    result = _smp(deployment, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                  group="apps", kind="Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    error = _fail(strategic_merge_patch, deployment,
                  {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, "apps", "v1", "Deployment")
    assert (error.code, error.message) == (400, "invalid patch format of retainKeys")
    result = _smp(_pod(), {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "configMap"],
                                                 "configMap": {"name": "cm"}}]}})
    assert result["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]


def test_smp_set_element_order() -> None:
    result = _smp(_pod(), {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["side", "app"]
    result = _smp(_pod(), {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "new"},
                                                                    {"name": "app"}],
                                    "containers": [{"name": "new", "image": "n"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["side", "new", "app"]
    result = _smp(_pod(), {"metadata": {"$setElementOrder/finalizers": ["b/y", "a/x"]}})
    assert result["metadata"]["finalizers"] == ["b/y", "a/x"]


def test_smp_errors() -> None:
    error = _fail(strategic_merge_patch, _pod(), {"spec": {"containers": [{"image": "x"}]}}, "", "v1", "Pod")
    assert (error.code, error.message) == (500, "map: map[image:x] does not contain declared merge key: name")
    error = _fail(strategic_merge_patch, _pod(), {"spec": {"$patch": "bogus"}}, "", "v1", "Pod")
    assert error.code == 500 and error.message.startswith("unknown patch type: bogus in map:")
    error = _fail(strategic_merge_patch, _pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}},
                  "", "v1", "Pod")
    assert (error.code, error.message) == (400, "invalid patch format of primitive list")
    error = _fail(strategic_merge_patch, _pod(), {"metadata": {"finalizers": [["nested"]]}}, "", "v1", "Pod")
    assert (error.code, error.reason) == (422, "Invalid")
    assert _fail(strategic_merge_patch, _pod(), [1], "", "v1", "Pod").code == 400


def test_smp_rollout_restart_and_scale_shapes() -> None:
    deployment = _deployment()
    result = _smp(deployment, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}, group="apps", kind="Deployment")
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}
    assert _smp(deployment, {"spec": {"replicas": 0}}, group="apps", kind="Deployment")["spec"]["replicas"] == 0


def test_smp_unknown_kind_merges_maps_and_replaces_lists() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"items": [{"name": "a"}], "m": {"a": 1}}}
    result = strategic_merge_patch(obj, {"spec": {"items": [{"name": "b"}], "m": {"b": 2}}},
                                   "example.com", "v1", "Widget")
    assert result["spec"] == {"items": [{"name": "b"}], "m": {"a": 1, "b": 2}}


# -- field sets ---------------------------------------------------------------------------------------

def test_fields_v1_round_trip_and_shape() -> None:
    paths = fieldmanager.field_set(_deployment(env=[{"name": "A", "value": "1"}]), None)
    assert ("f:spec", "f:replicas") in paths
    applied = fieldmanager.field_set(_deployment(), fieldmanager.schema.kind_schema("apps", "v1", "Deployment"))
    trie = fieldmanager.to_fields_v1(applied)
    containers = trie["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {},
                                               "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                                                   ".": {}, "f:containerPort": {}}}}}
    assert trie["f:spec"]["f:selector"] == {}
    assert "f:name" not in trie["f:metadata"]
    assert fieldmanager.from_fields_v1(trie) == applied
    assert fieldmanager.path_string(("f:spec", 'k:{"name":"app"}', "f:image")) == '.spec[name="app"].image'
    assert fieldmanager.path_string(("f:metadata", "f:finalizers", 'v:"a"')) == '.metadata.finalizers[="a"]'


# -- server-side apply --------------------------------------------------------------------------------

def _ssa(live: dict[str, Any] | None, applied: dict[str, Any], manager: str = "kubectl",
         force: bool = False) -> dict[str, Any]:
    before = copy.deepcopy(live)
    result = server_side_apply(live, applied, "apps", "v1", "Deployment", manager, force)
    assert live == before
    return result


def _managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def test_ssa_creates_with_apply_entry() -> None:
    created = _ssa(None, _deployment())
    entry, = created["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "fieldsType")} == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}
    assert entry["time"].endswith("Z")
    assert created["spec"] == _deployment()["spec"]


def test_ssa_merges_list_maps_and_prunes_removed_fields() -> None:
    live = _ssa(None, _deployment(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"  # server default
    updated = _ssa(live, _deployment(image="nginx:2", env=[{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]))
    container = updated["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:2"
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert _managers(updated) == [("kubectl", "Apply")]
    labels_removed = _deployment()
    del labels_removed["metadata"]["labels"]
    assert "labels" not in _ssa(updated, labels_removed)["metadata"]  # no empty map left behind


def test_ssa_ignores_status_and_rejects_managed_fields() -> None:
    applied = _deployment()
    applied["status"] = {"replicas": 9}
    assert "status" not in _ssa(None, applied)
    applied = _deployment()
    applied["metadata"]["managedFields"] = [{"manager": "x"}]
    error = _fail(server_side_apply, None, applied, "apps", "v1", "Deployment", "kubectl", False)
    assert (error.code, error.message) == (400, "metadata.managedFields must be nil")


def test_ssa_conflicts_with_another_manager_and_force() -> None:
    live = _ssa(None, _deployment())
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update_manager(live, scaled, "apps", "v1", "Deployment", "kubectl-scale")
    assert _managers(scaled) == [("kubectl", "Apply"), ("kubectl-scale", "Update")]
    # the same value is shared ownership, not a conflict
    assert _ssa(scaled, _deployment(replicas=5))["spec"]["replicas"] == 5
    error = _fail(server_side_apply, scaled, _deployment(replicas=3), "apps", "v1", "Deployment", "kubectl", False)
    assert error.code == 409 and error.reason == "Conflict"
    assert error.message == ('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: '
                             '.spec.replicas')
    assert error.details == {"causes": [{"reason": "FieldManagerConflict",
                                         "message": 'conflict with "kubectl-scale" using apps/v1',
                                         "field": ".spec.replicas"}]}
    forced = _ssa(scaled, _deployment(replicas=3), force=True)
    assert forced["spec"]["replicas"] == 3
    assert _managers(forced) == [("kubectl", "Apply")]  # kubectl-scale lost its only field


def test_ssa_multiple_conflicts_message() -> None:
    live = _ssa(None, _deployment(), manager="alpha")
    error = _fail(server_side_apply, live, _deployment(replicas=7, image="other"), "apps", "v1", "Deployment",
                  "beta", False)
    assert error.message == ('Apply failed with 2 conflicts: conflicts with "alpha":\n- .spec.replicas\n'
                             '- .spec.template.spec.containers[name="app"].image')


def test_ssa_on_object_without_managed_fields_is_before_first_apply() -> None:
    live = _deployment()
    error = _fail(server_side_apply, live, _deployment(replicas=4), "apps", "v1", "Deployment", "kubectl", False)
    assert '"before-first-apply" using apps/v1: .spec.replicas' in error.message
    result = _ssa(live, _deployment(image="nginx:1"))
    assert _managers(result) == [("before-first-apply", "Update"), ("kubectl", "Apply")]


def test_ssa_keeps_fields_other_managers_own() -> None:
    live = _ssa(None, _deployment(env=[{"name": "A", "value": "1"}]))
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "EXTRA", "value": "x"})
    edited = record_update_manager(live, edited, "apps", "v1", "Deployment", "kubectl-edit")
    result = _ssa(edited, _deployment(env=[]))
    names = [e["name"] for e in result["spec"]["template"]["spec"]["containers"][0].get("env", [])]
    assert names == ["EXTRA"]


# -- managers of plain writes -------------------------------------------------------------------------

def test_record_update_manager_on_create_and_update() -> None:
    created = record_update_manager(None, _deployment(), "apps", "v1", "Deployment", "kubectl-create")
    assert _managers(created) == [("kubectl-create", "Update")]
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 9
    del scaled["metadata"]["labels"]
    result = record_update_manager(created, scaled, "apps", "v1", "Deployment", "kubectl-scale", subresource="scale")
    entries = {e["manager"]: e for e in result["metadata"]["managedFields"]}
    assert entries["kubectl-scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entries["kubectl-scale"]["subresource"] == "scale"
    owned = fieldmanager.from_fields_v1(entries["kubectl-create"]["fieldsV1"])
    assert ("f:spec", "f:replicas") not in owned and ("f:metadata", "f:labels", "f:app") not in owned
    assert record_update_manager(result, result, "apps", "v1", "Deployment", "noop") == result
