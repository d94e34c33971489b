"""Services with selectors get Endpoints and EndpointSlices that follow their pods' readiness."""

from __future__ import annotations

from typing import Any

from chaositbench.sim.controllers.endpoints import TRIGGER_TIME, EndpointsController
from chaositbench.sim.controllers.endpointslice import EndpointSliceController
from chaositbench.sim.kinds import preferred

from controller_harness import PODS, Harness, container, run

SERVICES = preferred("", "Service")
ENDPOINTS = preferred("", "Endpoints")
SLICES = preferred("discovery.k8s.io", "EndpointSlice")


def web_pod(name: str, node: str, *, labels: dict[str, str] | None = None, named_port: bool = True) -> dict[str, Any]:
    ports = [{"name": "http", "containerPort": 8080}] if named_port else [{"containerPort": 9090}]
    return {"metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node, "containers": [container(ports=ports)]}}


def service(name: str = "web", *, selector: dict[str, str] | None = None, target: Any = "http") -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": target}]}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name, "labels": {"tier": "front"}}, "spec": spec}


def slices_of(h: Harness, name: str) -> list[dict[str, Any]]:
    return h.items(SLICES, label_selector=f"kubernetes.io/service-name={name}")


def test_ready_and_not_ready_addresses_with_named_target_port() -> None:
    async def body() -> None:
        async with Harness(EndpointsController, EndpointSliceController) as h:
            svc = h.create(SERVICES, service(selector={"app": "web"}))
            ready = h.set_pod_state(h.create(PODS, web_pod("web-a", "chaositbench-worker")), ip="10.244.1.5")
            h.set_pod_state(h.create(PODS, web_pod("web-b", "chaositbench-worker2")), ready=False, ip="10.244.2.6")
            h.set_pod_state(h.create(PODS, web_pod("web-c", "chaositbench-worker3", named_port=False)), ip="10.244.3.7")
            h.create(PODS, web_pod("web-d", "chaositbench-worker3"))  # no IP yet: not listed

            def settled() -> Any:
                ep = h.get(ENDPOINTS, "web")
                return ep if ep and ep.get("subsets") and ep["subsets"][0].get("notReadyAddresses") else None
            ep = await h.wait_for(settled, what="endpoints")
            assert ep["metadata"]["labels"] == {"tier": "front"}
            assert TRIGGER_TIME in ep["metadata"]["annotations"]
            assert ep["subsets"] == [{
                "addresses": [{"ip": "10.244.1.5", "nodeName": "chaositbench-worker", "targetRef": {
                    "kind": "Pod", "namespace": "default", "name": "web-a", "uid": ready["metadata"]["uid"]}}],
                "notReadyAddresses": [{"ip": "10.244.2.6", "nodeName": "chaositbench-worker2", "targetRef": {
                    "kind": "Pod", "namespace": "default", "name": "web-b",
                    "uid": h.get(PODS, "web-b")["metadata"]["uid"]}}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]

            (slice_,) = await h.wait_for(lambda: [s for s in slices_of(h, "web") if len(s.get("endpoints") or []) == 2])
            assert slice_["metadata"]["name"].startswith("web-") and len(slice_["metadata"]["name"]) == len("web-") + 5
            assert slice_["metadata"]["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                                                    "endpointslice.kubernetes.io/managed-by":
                                                    "endpointslice-controller.k8s.io"}
            assert slice_["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
            assert slice_["addressType"] == "IPv4"
            assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
            conditions = {e["targetRef"]["name"]: e["conditions"] for e in slice_["endpoints"]}
            assert conditions == {"web-a": {"ready": True, "serving": True, "terminating": False},
                                  "web-b": {"ready": False, "serving": False, "terminating": False}}

            h.set_pod_state(h.get(PODS, "web-b"), ip="10.244.2.6")
            ep = await h.wait_for(lambda: (lambda e: e if len(e["subsets"][0].get("addresses", [])) == 2 else None)(
                h.get(ENDPOINTS, "web")), what="both ready")
            assert "notReadyAddresses" not in ep["subsets"][0]
    run(body)


def test_terminating_pods_leave_endpoints_but_stay_in_slices() -> None:
    async def body() -> None:
        async with Harness(EndpointsController, EndpointSliceController) as h:
            h.create(SERVICES, service(selector={"app": "web"}, target=8080))
            h.set_pod_state(h.create(PODS, web_pod("web-a", "chaositbench-worker")), ip="10.244.1.5")
            await h.wait_for(lambda: (h.get(ENDPOINTS, "web") or {}).get("subsets"), what="endpoints")
            h.api.delete(PODS, "default", "web-a")  # graceful: the pod is terminating
            await h.wait_for(lambda: not (h.get(ENDPOINTS, "web") or {}).get("subsets"), what="address removed")
            endpoint = await h.wait_for(lambda: next((e for s in slices_of(h, "web") for e in s.get("endpoints") or []
                                                      if e["conditions"]["terminating"]), None))
            assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}
    run(body)


def test_selector_mismatch_gives_empty_endpoints_and_placeholder_slice() -> None:
    async def body() -> None:
        async with Harness(EndpointsController, EndpointSliceController) as h:
            h.set_pod_state(h.create(PODS, web_pod("web-a", "chaositbench-worker")), ip="10.244.1.5")
            h.create(SERVICES, service(selector={"app": "wbe"}))
            ep = await h.wait_for(lambda: h.get(ENDPOINTS, "web"), what="endpoints")
            assert "subsets" not in ep
            (placeholder,) = await h.wait_for(lambda: slices_of(h, "web"), what="placeholder slice")
            assert placeholder["endpoints"] is None and "ports" not in placeholder
            h.change(SERVICES, "web", lambda s: s["spec"].update(selector={"app": "web"}))
            await h.wait_for(lambda: (h.get(ENDPOINTS, "web") or {}).get("subsets"), what="fixed selector")
            (fixed,) = await h.wait_for(lambda: [s for s in slices_of(h, "web") if s.get("endpoints")])
            assert fixed["metadata"]["name"] == placeholder["metadata"]["name"]  # updated in place
    run(body)


def test_services_without_selector_are_left_alone_and_endpoints_follow_service_deletion() -> None:
    async def body() -> None:
        async with Harness(EndpointsController, EndpointSliceController) as h:
            h.create(SERVICES, service("external"))
            manual = h.create(ENDPOINTS, {"metadata": {"name": "external"}, "subsets": [
                {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "http", "port": 80}]}]})
            h.create(SERVICES, service(selector={"app": "web"}))
            await h.wait_for(lambda: h.get(ENDPOINTS, "web"), what="managed endpoints")
            await h.settle()
            assert h.get(ENDPOINTS, "external")["subsets"] == manual["subsets"]
            assert not slices_of(h, "external")
            h.api.delete(SERVICES, "default", "web")
            await h.wait_for(lambda: h.get(ENDPOINTS, "web") is None, what="endpoints deleted")
    run(body)
