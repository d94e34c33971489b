"""The event recorder: core/v1 Events as client-go writes them, correlated and bounded."""

from __future__ import annotations

import re
from datetime import timedelta

from chaositbench.sim.events import EVENTS, EventRecorder
from chaositbench.sim.kinds import preferred
from chaositbench.sim.resources import ResourceAPI
from chaositbench.sim.store import Store

NAMESPACES = preferred("", "Namespace")
NODES = preferred("", "Node")
PODS = preferred("", "Pod")


def _api() -> ResourceAPI:
    api = ResourceAPI(Store())
    api.create(NAMESPACES, "", {"metadata": {"name": "default"}})
    api.create(NAMESPACES, "", {"metadata": {"name": "shop"}})
    return api


def test_event_fields_and_repeats_bump_the_count() -> None:
    api = _api()
    pod = api.create(PODS, "shop", {"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "app"}]}})
    recorder = EventRecorder(api)
    first = recorder.record(pod, "Normal", "Pulled", "pulled", "kubelet", "spec.containers{app}", instance="node-1")
    assert first is not None and re.fullmatch(r"web-1\.[0-9a-f]{16}", first["metadata"]["name"])
    assert first["metadata"]["namespace"] == "shop"
    assert first["involvedObject"] == {"kind": "Pod", "namespace": "shop", "name": "web-1",
                                       "uid": pod["metadata"]["uid"], "apiVersion": "v1",
                                       "resourceVersion": pod["metadata"]["resourceVersion"],
                                       "fieldPath": "spec.containers{app}"}
    assert first["source"] == {"component": "kubelet", "host": "node-1"}
    assert (first["reportingComponent"], first["reportingInstance"], first["count"]) == ("kubelet", "node-1", 1)
    assert first["firstTimestamp"] == first["lastTimestamp"] and first["type"] == "Normal"
    again = recorder.record(pod, "Normal", "Pulled", "pulled", "kubelet", "spec.containers{app}", instance="node-1")
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2
    other = recorder.record(pod, "Normal", "Pulled", "another message", "kubelet", "spec.containers{app}",
                            instance="node-1")
    assert other["metadata"]["name"] != first["metadata"]["name"]


def test_cluster_scoped_objects_report_into_default() -> None:
    api = _api()
    node = api.create(NODES, "", {"metadata": {"name": "node-1"}})
    event = EventRecorder(api).record(node, "Normal", "RegisteredNode", "registered", "node-controller")
    assert event["metadata"]["namespace"] == "default" and "namespace" not in event["involvedObject"]


def test_events_are_capped_per_namespace_and_expire() -> None:
    api = _api()
    ns = api.get(NAMESPACES, "", "shop")
    recorder = EventRecorder(api, max_per_namespace=3)
    for i in range(5):
        recorder.record(ns, "Normal", "Tick", f"tick {i}", "test")
    assert [e["message"] for e in api.list(EVENTS, "default")[0]] == ["tick 2", "tick 3", "tick 4"]
    expiring = EventRecorder(api, ttl=timedelta(0))
    expiring.record(ns, "Normal", "Once", "soon gone", "test")
    expiring.record(ns, "Normal", "Twice", "evicts the first", "test")
    assert [e["message"] for e in api.list(EVENTS, "default")[0] if e["reason"] in ("Once", "Twice")] == [
        "evicts the first"]
