"""The Kubernetes schemas: lookups, merge metadata and strict field checks."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest

from chaositbench.sim import schema


#: measured in a fresh interpreter: here, the clusters other tests of this worker serve share the cache
LOAD_TWICE = """
import time
from chaositbench.sim import schema
started = time.perf_counter()
defs = schema.definitions()
elapsed = time.perf_counter() - started
assert "io.k8s.api.core.v1.Pod" in defs and schema.definitions() is defs
print(elapsed)
"""


def test_definitions_load_fast_and_once() -> None:
    done = subprocess.run([sys.executable, "-c", LOAD_TWICE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 0.5  # ~10-60 ms on a warm disk; generous for loaded CI machines


def test_schema_file_is_the_wheel_copy() -> None:
    path = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", schema.SCHEMA_VERSION,
                                                           "_definitions.json")
    assert json.loads(path.read_text())["$defs"].keys() == schema.definitions().keys()


@pytest.mark.parametrize(("group", "version", "kind", "name"), [
    ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
    ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("networking.k8s.io", "v1", "NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"),
    ("", "v1", "PodList", "io.k8s.api.core.v1.PodList"),
    ("apps", "v1", "DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
])
def test_definition_name(group: str, version: str, kind: str, name: str) -> None:
    assert schema.definition_name(group, version, kind) == name


def test_unknown_kind_has_no_definition() -> None:
    assert schema.definition_name("metrics.k8s.io", "v1beta1", "PodMetrics") is None
    assert schema.definition_name("apps", "v1", "Pod") is None
    assert schema.kind_schema("example.com", "v1", "Widget") is None


@pytest.mark.parametrize(("group", "kind", "path", "key", "strategy", "list_type"), [
    ("", "Pod", ("spec", "containers"), "name", "merge", "map"),
    ("", "Pod", ("spec", "initContainers"), "name", "merge", "map"),
    ("", "Pod", ("spec", "containers", "env"), "name", "merge", "map"),
    ("", "Pod", ("spec", "containers", "ports"), "containerPort", "merge", "map"),
    ("", "Pod", ("spec", "containers", "volumeMounts"), "mountPath", "merge", "map"),
    ("", "Pod", ("spec", "volumes"), "name", "merge,retainKeys", "map"),
    ("", "Pod", ("spec", "imagePullSecrets"), "name", "merge", "map"),
    ("", "Pod", ("spec", "topologySpreadConstraints"), "topologyKey", "merge", "map"),
    ("", "Pod", ("status", "conditions"), "type", "merge", "map"),
    ("", "Pod", ("metadata", "ownerReferences"), "uid", "merge", "map"),
    ("", "Pod", ("metadata", "finalizers"), None, "merge", "set"),
    ("", "Pod", ("spec", "tolerations"), None, None, "atomic"),
    ("", "Pod", ("spec", "containers", "envFrom"), None, None, "atomic"),
    ("", "Pod", ("spec", "containers", "command"), None, None, "atomic"),
    ("", "Service", ("spec", "ports"), "port", "merge", "map"),
    ("", "Node", ("status", "addresses"), "type", "merge", "map"),
    ("apps", "Deployment", ("spec", "template", "spec", "containers"), "name", "merge", "map"),
    ("apps", "Deployment", ("spec", "strategy"), None, "retainKeys", None),
    ("networking.k8s.io", "NetworkPolicy", ("spec", "ingress"), None, None, "atomic"),
])
def test_field_meta(group: str, kind: str, path: tuple[str, ...], key: str | None, strategy: str | None,
                    list_type: str | None) -> None:
    meta = schema.field_meta_at(group, "v1", kind, path)
    assert meta.merge_key == key
    assert meta.patch_strategy == strategy
    assert meta.list_type == list_type


def test_field_meta_flags_and_keys() -> None:
    volumes = schema.field_meta_at("", "v1", "Pod", ("spec", "volumes"))
    assert volumes.merges and volumes.retains_keys and not volumes.replaces
    ports = schema.field_meta_at("", "v1", "Pod", ("spec", "containers", "ports"))
    assert ports.associative_keys == ("containerPort", "protocol")
    assert schema.field_meta_at("", "v1", "Pod", ("spec", "tolerations")).associative_keys == ()
    selector = schema.field_meta_at("apps", "v1", "Deployment", ("spec", "selector"))
    assert selector.map_type == "atomic"
    assert schema.field_meta_at("", "v1", "Pod", ("spec", "nope")) == schema.FieldMeta()
    assert schema.field_meta(None) == schema.FieldMeta()


def test_walking_maps_and_refs() -> None:
    limits = schema.schema_at("", "v1", "Pod", ("spec", "containers", "resources", "limits"))
    assert limits is not None and "additionalProperties" in schema.resolve(limits)
    cpu = schema.child_schema(limits, "cpu")
    assert schema.ref_name(cpu) == "io.k8s.apimachinery.pkg.api.resource.Quantity"
    labels = schema.schema_at("", "v1", "Pod", ("metadata", "labels"))
    assert schema.child_schema(labels, "anything") == {"type": ["string", "null"]}
    assert schema.resolve(schema.schema_at("", "v1", "Pod", ("spec",))) is schema.definitions()[
        "io.k8s.api.core.v1.PodSpec"]
    assert schema.item_schema(schema.schema_at("", "v1", "Pod", ("spec", "containers"))) == {
        "$ref": "#/$defs/io.k8s.api.core.v1.Container"}
    assert schema.schema_at("", "v1", "Pod", ()) is schema.kind_schema("", "v1", "Pod")


def test_free_form() -> None:
    assert schema.is_free_form(None)
    assert schema.is_free_form({})
    assert schema.is_free_form({"$ref": "#/$defs/io.k8s.apimachinery.pkg.runtime.RawExtension"})
    assert schema.is_free_form({"type": "object", "properties": {"a": {}}, "x-kubernetes-preserve-unknown-fields": True})
    assert not schema.is_free_form({"$ref": "#/$defs/io.k8s.api.core.v1.Container"})
    assert schema.child_schema({"type": "object", "additionalProperties": True}, "x") == {}


def _deployment(**container: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a/b": "c"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx",
                                                           "resources": {"limits": {"cpu": "1"}},
                                                           "env": [{"name": "A", "value": "1"}],
                                                           **container}]}}}}


def test_no_unknown_fields_in_a_valid_object() -> None:
    assert schema.unknown_fields(_deployment(), "apps", "v1", "Deployment") == []


def test_unknown_fields_paths() -> None:
    obj = _deployment(imagePullPolicyy="Always")
    obj["spec"]["foo"] = 1
    obj["metadata"]["bogus"] = {"x": 1}
    obj["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "B", "valu": "2"})
    assert schema.unknown_fields(obj, "apps", "v1", "Deployment") == [  # in document order
        "metadata.bogus", "spec.template.spec.containers[0].env[1].valu",
        "spec.template.spec.containers[0].imagePullPolicyy", "spec.foo"]


def test_unknown_fields_tolerates_free_form_and_type_kind() -> None:
    revision = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"},
                "revision": 1, "data": {"anything": {"goes": [1, {"x": 2}]}}}
    assert schema.unknown_fields(revision, "apps", "v1", "ControllerRevision") == []
    # a type mismatch is validation's business, not an unknown field
    assert schema.unknown_fields({"kind": "Pod", "spec": {"containers": "x", "nodeName": {"a": 1}}},
                                 "", "v1", "Pod") == []
    assert schema.unknown_fields({"kind": "Widget", "foo": 1}, "example.com", "v1", "Widget") == []
