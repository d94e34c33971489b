"""The fault catalog and engine against a simulated cluster running the demo chart.

Each seed fault injects (the objects change as the catalog says) and rollback restores a full
snapshot of the affected namespaces and nodes; rollback twice is a no-op; bad input is refused
with a clear error and leaves nothing behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import helm_python
import pytest
import yaml
from chaoslib.exceptions import ActivityFailed
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from chaositbench import actions, discover
from chaositbench.catalog import DEFAULT_DIR, load_fault
from chaositbench.faults import DECLARED_KINDS, normalized, read_record
from chaositbench.fault_probes import fault_symptom_visible
from chaositbench.symptoms import symptom_visible
from chaositbench.sim.server import SimServer
from polling import eventually

CHART = Path(__file__).resolve().parent.parent / "helm" / "chaositbench-demo"
NAMESPACES = ("shop", "payments", "data")
SEED_FAULTS = ("oomkilled", "netpol", "disk-pressure", "wrong-env", "payment-502")


def _demo_manifests() -> list[dict[str, Any]]:
    rendered = helm_python.Chart.load(str(CHART)).render({}, name="demo", namespace="default", is_install=True)
    docs = [d for path, text in sorted(rendered.items()) if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    return sorted(docs, key=lambda d: d["kind"] != "Namespace")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DynamicClient]]:
    """A simulated cluster with the demo app deployed; its admin kubeconfig and a dynamic client."""
    with SimServer(time_scale=0.2) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path_factory.mktemp("faults") / "kubeconfig")
        api = config.new_client_from_config(config_file=str(kubeconfig))
        dynamic = DynamicClient(api)
        for doc in _demo_manifests():
            dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).create(
                body=doc, namespace=doc["metadata"].get("namespace"))
        core = client.CoreV1Api(api)
        deadline = time.monotonic() + 20
        while not all(p.spec.node_name for p in core.list_namespaced_pod("shop").items) \
                or not core.list_namespaced_pod("shop").items:
            assert time.monotonic() < deadline, "demo pods were never scheduled"
            time.sleep(0.1)
        yield kubeconfig, dynamic
        api.close()


@pytest.fixture
def configuration(cluster: tuple[Path, DynamicClient], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The run's configuration; whatever a test leaves injected is restored afterwards."""
    conf = {"chaositbench_cluster": "kubeconfig", "chaositbench_kubeconfig": str(cluster[0]),
            "chaositbench_context": "chaositbench-sim", "chaositbench_run_dir": str(tmp_path / "run")}
    yield conf
    actions.restore_cluster(conf)


def snapshot(dynamic: DynamicClient) -> dict[str, Any]:
    """Every declared object of the demo namespaces and every node's labels and annotations.

    Node conditions and their taints are the kubelet's to report (pressure lingers for its
    transition period after the cause is gone), so they are compared only where a test sets them.
    """
    objects = {}
    for namespace in NAMESPACES:
        for api_version, kind in DECLARED_KINDS:
            for item in dynamic.resources.get(api_version=api_version, kind=kind).get(namespace=namespace).items:
                obj = normalized({**item.to_dict(), "apiVersion": api_version, "kind": kind})
                objects[f"{kind}/{namespace}/{obj['metadata']['name']}"] = obj
    for node in dynamic.resources.get(api_version="v1", kind="Node").get().items:
        node = node.to_dict()
        objects[f"Node/{node['metadata']['name']}"] = {"labels": node["metadata"].get("labels"),
                                                       "annotations": node["metadata"].get("annotations")}
    return objects


def node_state(dynamic: DynamicClient, name: str) -> dict[str, Any]:
    """A node's labels, annotations, taints and conditions (without heartbeat times, nor the time a controller
    last added its taint: the node lifecycle controller may take a pressure taint off and put it back)."""
    node = read(dynamic, "v1", "Node", None, name)
    return {"metadata": {k: node["metadata"].get(k) for k in ("labels", "annotations")},
            "taints": [{k: v for k, v in t.items() if k != "timeAdded"} for t in node["spec"].get("taints") or []],
            "conditions": [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in node["status"]["conditions"]]}


def read(dynamic: DynamicClient, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
    return dynamic.resources.get(api_version=api_version, kind=kind).get(name=name, namespace=namespace).to_dict()


def app_container(deployment: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "app")


def check_oomkilled(dynamic: DynamicClient, record: dict[str, Any]) -> None:
    deployment = read(dynamic, "apps/v1", "Deployment", "shop", "inventory")
    assert app_container(deployment)["resources"]["limits"]["memory"] == "48Mi"
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def check_netpol(dynamic: DynamicClient, record: dict[str, Any]) -> None:
    policy = read(dynamic, "networking.k8s.io/v1", "NetworkPolicy", "payments", "payment-ingress")
    peer = policy["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "payments-internal"}


def check_payment_502(dynamic: DynamicClient, record: dict[str, Any]) -> None:
    policy = read(dynamic, "networking.k8s.io/v1", "NetworkPolicy", "data", "postgres-ingress")
    sources = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for p in policy["spec"]["ingress"][0]["from"]]
    assert sources == ["shop"]


def check_wrong_env(dynamic: DynamicClient, record: dict[str, Any]) -> None:
    env = {e["name"]: e for e in app_container(read(dynamic, "apps/v1", "Deployment", "payments", "payment"))["env"]}
    assert env["PAYMENT_MODE"] == {"name": "PAYMENT_MODE", "value": "production"}
    assert env["DB_PORT"]["valueFrom"]["configMapKeyRef"]["name"] == "payment-config"


def check_disk_pressure(dynamic: DynamicClient, record: dict[str, Any]) -> None:
    name = record["changes"][0]["name"]
    assert record["ground_truth"]["object"] == {"kind": "Node", "namespace": None, "name": name}
    assert name in record["ground_truth"]["propagation"][0]
    node = read(dynamic, "v1", "Node", None, name)
    assert node["metadata"]["annotations"]["chaositbench.io/node-disk-used"] == "94Gi"


CHECKS = {"oomkilled": check_oomkilled, "netpol": check_netpol, "payment-502": check_payment_502,
          "wrong-env": check_wrong_env, "disk-pressure": check_disk_pressure}


@pytest.mark.parametrize("fault", SEED_FAULTS)
def test_seed_fault_injects_and_rolls_back_exactly(fault: str, cluster: tuple[Path, DynamicClient],
                                                   configuration: dict[str, Any]) -> None:
    dynamic = cluster[1]
    before = snapshot(dynamic)
    record = actions.inject_fault(fault, configuration)
    assert "{time}" not in record["complaint"] and record["complaint"]
    assert record["ground_truth"]["category"] == load_fault(fault).ground_truth.category
    CHECKS[fault](dynamic, record)
    assert snapshot(dynamic) != before
    assert actions.remove_fault(configuration=configuration) == [fault]
    assert snapshot(dynamic) == before
    assert actions.remove_fault(configuration=configuration) == []
    assert actions.restore_cluster(configuration) == {"faults_removed": [], "restored": [], "deleted": []}
    assert snapshot(dynamic) == before


@pytest.mark.parametrize("fault", SEED_FAULTS)
def test_seed_fault_symptom_shows(fault: str, configuration: dict[str, Any]) -> None:
    actions.inject_fault(fault, configuration)
    assert fault_symptom_visible(fault, 20, configuration), f"the symptom of {fault} never showed"


def test_restore_cluster_undoes_what_an_agent_changed_too(cluster: tuple[Path, DynamicClient],
                                                          configuration: dict[str, Any]) -> None:
    dynamic = cluster[1]
    before = snapshot(dynamic)
    actions.inject_fault("netpol", configuration)
    policies = dynamic.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy")
    policies.delete(name="payment-ingress", namespace="payments")  # the agent "fixes" by deleting the policy
    dynamic.resources.get(api_version="apps/v1", kind="Deployment").patch(
        name="checkout", namespace="shop", body={"spec": {"replicas": 0}},
        content_type="application/merge-patch+json")
    dynamic.resources.get(api_version="v1", kind="ConfigMap").create(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "agent-notes"}}, namespace="shop")
    outcome = actions.restore_cluster(configuration)
    assert outcome["faults_removed"] == ["netpol"]
    assert outcome["deleted"] == ["ConfigMap/shop/agent-notes"]
    assert "Deployment/shop/checkout" in outcome["restored"]
    assert snapshot(dynamic) == before
    assert actions.restore_cluster(configuration) == {"faults_removed": [], "restored": [], "deleted": []}


def test_restore_cluster_puts_back_a_node_the_agent_cordoned_labelled_and_tainted(
        cluster: tuple[Path, DynamicClient], configuration: dict[str, Any]) -> None:
    dynamic = cluster[1]
    nodes = dynamic.resources.get(api_version="v1", kind="Node")
    before = node_state(dynamic, "chaositbench-worker2")
    actions.inject_fault("netpol", configuration)
    nodes.patch(name="chaositbench-worker2", content_type="application/merge-patch+json", body={
        "metadata": {"labels": {"team": "agent"}, "annotations": {"note": "drained"}},
        "spec": {"unschedulable": True, "taints": [{"key": "agent", "value": "x", "effect": "NoSchedule"}]}})
    outcome = actions.restore_cluster(configuration)
    assert "Node/chaositbench-worker2" in outcome["restored"]
    deadline = time.monotonic() + 10  # the node lifecycle controller drops its unschedulable taint
    while (now := node_state(dynamic, "chaositbench-worker2")) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {k: now[k] for k in ("metadata", "taints")} == {k: before[k] for k in ("metadata", "taints")}
    assert "unschedulable" not in read(dynamic, "v1", "Node", None, "chaositbench-worker2")["spec"]


def test_unknown_fault_lists_the_known_ones_and_changes_nothing(cluster: tuple[Path, DynamicClient],
                                                               configuration: dict[str, Any]) -> None:
    before = snapshot(cluster[1])
    with pytest.raises(ActivityFailed, match=r"unknown fault 'no-such-fault'.*\(known faults: ") as err:
        actions.inject_fault("no-such-fault", configuration)
    known = str(err.value).rsplit("(known faults: ", 1)[1].rstrip(")").split(", ")
    assert known == sorted(known) and {"disk-pressure", "netpol", "oomkilled"} <= set(known)
    assert snapshot(cluster[1]) == before
    assert read_record(Path(configuration["chaositbench_run_dir"])) == {"injections": []}


def _catalog_with(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / "catalog"
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(text)
    return directory


@pytest.mark.parametrize(("text", "message"), [
    ("id: bad\ntitle: [unclosed\n", r"bad\.yaml: not valid YAML"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad").replace("sla_seconds: 600\n", ""),
     r"bad\.yaml: field sla_seconds: is required"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad")
     .replace("category: network-policy", "category: gremlins"),
     r"bad\.yaml: field ground_truth\.category: 'gremlins' is not in the taxonomy"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad")
     .replace("namespace: payments\n      name: payment-ingress", "namespace: kube-system\n      name: x"),
     r"bad\.yaml: field changes\[0\]\.patch: namespace 'kube-system' is not in the fault's namespaces"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad").replace("type: json", "type: yaml"),
     r"bad\.yaml: field changes\[0\]\.patch\.type: must be one of strategic, merge, json"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad").split("changes:")[0] + "changes: []\n",
     r"bad\.yaml: field changes: must not be empty \(only a no-fault entry changes nothing\)"),
    ((DEFAULT_DIR / "netpol.yaml").read_text().replace("id: netpol", "id: bad")
     .replace("symptom: {check: pods-not-ready, namespace: shop, selector: app.kubernetes.io/name=checkout}",
              "symptom: {check: none}"),
     r"bad\.yaml: field symptom\.check: none is only for a no-fault entry"),
    ((DEFAULT_DIR / "no-fault-quiet.yaml").read_text().replace("id: no-fault-quiet", "id: bad")
     .replace("changes: []", "changes:\n  - scale: {apiVersion: apps/v1, kind: Deployment, namespace: shop, "
                             "name: checkout, replicas: 1}"),
     r"bad\.yaml: field changes: must be empty when ground_truth\.category is no-fault"),
    ((DEFAULT_DIR / "no-fault-quiet.yaml").read_text().replace("id: no-fault-quiet", "id: bad")
     .replace("  category: no-fault\n", "  category: no-fault\n  object: {kind: Deployment, name: checkout}\n"),
     r"bad\.yaml: field ground_truth\.object: must be left out when the category is no-fault"),
    ((DEFAULT_DIR / "no-fault-noisy.yaml").read_text().replace("id: no-fault-noisy", "id: bad")
     .replace("distractors:\n  - create:", "distractors:\n  - delete: {apiVersion: v1, kind: Pod, namespace: shop, "
                                           "name: x}\n  - create:"),
     r"bad\.yaml: field distractors\[0\]: must be a mapping with exactly create"),
    ((DEFAULT_DIR / "no-fault-noisy.yaml").read_text().replace("id: no-fault-noisy", "id: bad")
     .split("distractor_symptom:")[0] + "ground_truth:" + (DEFAULT_DIR / "no-fault-noisy.yaml").read_text()
     .split("ground_truth:")[1],
     r"bad\.yaml: field distractor_symptom: is required with distractors, and only with them"),
])
def test_malformed_catalog_entries_are_refused_before_any_change(text: str, message: str, tmp_path: Path,
                                                                 cluster: tuple[Path, DynamicClient],
                                                                 configuration: dict[str, Any]) -> None:
    configuration["chaositbench_actions_dir"] = str(_catalog_with(tmp_path, "bad", text))
    before = snapshot(cluster[1])
    with pytest.raises(ActivityFailed, match=message):
        actions.inject_fault("bad", configuration)
    assert snapshot(cluster[1]) == before


def test_a_failing_change_undoes_the_ones_before_it(tmp_path: Path, cluster: tuple[Path, DynamicClient],
                                                    configuration: dict[str, Any]) -> None:
    entry = yaml.safe_load((DEFAULT_DIR / "netpol.yaml").read_text())
    entry["id"] = "partial"
    entry["changes"] = [
        {"create": {"manifest": {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "fault-marker", "namespace": "shop"}, "data": {"a": "b"}}}},
        {"scale": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "checkout",
                   "replicas": 0}},
        {"delete": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "checkout-config"}},
        {"patch": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "namespace": "payments",
                   "name": "payment-ingress", "type": "json",
                   "patch": [{"op": "test", "path": "/spec/podSelector", "value": {"nope": 1}}]}},
    ]
    configuration["chaositbench_actions_dir"] = str(_catalog_with(tmp_path, "partial", yaml.safe_dump(entry)))
    before = snapshot(cluster[1])
    with pytest.raises(ActivityFailed, match="injecting fault 'partial' failed and was undone"):
        actions.inject_fault("partial", configuration)
    assert snapshot(cluster[1]) == before
    assert actions.remove_fault(configuration=configuration) == []


def test_node_changes_are_restored_exactly(tmp_path: Path, cluster: tuple[Path, DynamicClient],
                                           configuration: dict[str, Any]) -> None:
    entry = yaml.safe_load((DEFAULT_DIR / "disk-pressure.yaml").read_text())
    entry["id"] = "node-changes"
    entry["changes"] = [{"node": {
        "select": {"labels": "kubernetes.io/hostname=chaositbench-worker3"},
        "labels": {"example.com/pool": "spot"},
        "taints": [{"key": "example.com/maintenance", "effect": "NoSchedule"}],
        "conditions": [{"type": "example.com/Degraded", "status": "True", "reason": "Test", "message": "degraded"}]}}]
    configuration["chaositbench_actions_dir"] = str(_catalog_with(tmp_path, "node-changes", yaml.safe_dump(entry)))
    dynamic = cluster[1]
    before = node_state(dynamic, "chaositbench-worker3")
    actions.inject_fault("node-changes", configuration)
    during = node_state(dynamic, "chaositbench-worker3")
    assert during["metadata"]["labels"]["example.com/pool"] == "spot"
    assert {"key": "example.com/maintenance", "effect": "NoSchedule"} in during["taints"]
    assert any(c["type"] == "example.com/Degraded" and c["status"] == "True" for c in during["conditions"])
    actions.remove_fault(configuration=configuration)
    assert node_state(dynamic, "chaositbench-worker3") == before
    actions.remove_fault(configuration=configuration)
    assert node_state(dynamic, "chaositbench-worker3") == before


def _bare_pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "picked"}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example/app:1"}]}}


def test_a_node_selected_by_pod_is_one_running_it_not_one_it_was_evicted_from(
        tmp_path: Path, cluster: tuple[Path, DynamicClient], configuration: dict[str, Any]) -> None:
    """An evicted pod stays listed (Failed, reason Evicted) with its old nodeName: the node running the
    selected pods is where the live one runs, even when the evicted one comes first by name."""
    dynamic = cluster[1]
    core = client.CoreV1Api(dynamic.client)
    core.create_namespace({"metadata": {"name": "node-select"}})
    try:
        core.create_namespaced_pod("node-select", _bare_pod("a-evicted", "chaositbench-worker"))
        core.create_namespaced_pod("node-select", _bare_pod("b-running", "chaositbench-worker2"))
        core.patch_namespaced_pod_status("a-evicted", "node-select", {"status": {
            "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. "}})
        entry = yaml.safe_load((DEFAULT_DIR / "memory-pressure.yaml").read_text())
        entry["id"] = "node-of-pod"
        entry["changes"] = [{"node": {"select": {"pod": {"namespace": "node-select", "selector": "app=picked"}},
                                      "annotations": {"example.com/picked": "yes"}}}]
        configuration["chaositbench_actions_dir"] = str(_catalog_with(tmp_path, "node-of-pod", yaml.safe_dump(entry)))
        record = actions.inject_fault("node-of-pod", configuration)
        assert [c["name"] for c in record["changes"]] == ["chaositbench-worker2"]
    finally:
        core.delete_namespace("node-select")


def test_an_evicted_pod_does_not_show_as_not_ready(cluster: tuple[Path, DynamicClient]) -> None:
    """``pods-not-ready`` judges the live pods: an evicted one (Failed) stays listed but serves nothing."""
    core = client.CoreV1Api(cluster[1].client)
    symptom = {"check": "pods-not-ready", "namespace": "shop", "selector": "app.kubernetes.io/name=inventory"}
    eventually(lambda: not symptom_visible(cluster[1].client, symptom), "the inventory pods to be Ready")
    evicted = {**_bare_pod("inventory-evicted", "chaositbench-worker"), "metadata": {
        "name": "inventory-evicted", "labels": {"app.kubernetes.io/name": "inventory"}}}
    core.create_namespaced_pod("shop", evicted)
    try:
        core.patch_namespaced_pod_status("inventory-evicted", "shop", {"status": {
            "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. "}})
        assert symptom_visible(cluster[1].client, symptom) is False
    finally:
        core.delete_namespaced_pod("inventory-evicted", "shop")


@pytest.mark.parametrize("fault", ["no-fault-noisy", "wrong-env-distractor"])
def test_distractors_are_created_marked_shown_and_rolled_back_with_their_pods(
        fault: str, cluster: tuple[Path, DynamicClient], configuration: dict[str, Any]) -> None:
    dynamic = cluster[1]
    entry = load_fault(fault)
    before = snapshot(dynamic)
    record = actions.inject_fault(fault, configuration)
    (manifest,) = [d["create"]["manifest"] for d in entry.distractors]
    assert [(c["kind"], c["name"]) for c in record["changes"] if c.get("distractor")] == [
        (manifest["kind"], manifest["metadata"]["name"])]
    assert len(record["changes"]) == len(entry.changes) + 1
    assert (record["ground_truth"]["object"] is None) == entry.no_fault
    assert fault_symptom_visible(fault, 30, configuration), f"the distractor of {fault} never showed"
    assert actions.remove_fault(configuration=configuration) == [fault]
    pods = client.CoreV1Api(dynamic.client)
    namespace, selector = entry.distractor_symptom["namespace"], entry.distractor_symptom["selector"]
    deadline = time.monotonic() + 30
    while pods.list_namespaced_pod(namespace, label_selector=selector).items:  # a Job's pods go with it
        assert time.monotonic() < deadline, f"the pods of {fault}'s distractor were left behind"
        time.sleep(0.2)
    assert snapshot(dynamic) == before


def test_every_catalog_entry_validates() -> None:
    ids = sorted(p.stem for p in DEFAULT_DIR.glob("*.yaml"))
    assert set(SEED_FAULTS) <= set(ids)
    for fault in ids:
        assert load_fault(fault).id == fault



def test_chaos_discover_lists_the_fault_activities() -> None:
    activities = {(a["name"], a["type"], a["mod"]) for a in discover(discover_system=False)["activities"]}
    assert {("inject_fault", "action", "chaositbench.actions"), ("remove_fault", "action", "chaositbench.actions"),
            ("restore_cluster", "action", "chaositbench.actions"),
            ("fault_symptom_visible", "probe", "chaositbench.fault_probes"),
            ("slo_holds", "probe", "chaositbench.probes"), ("workloads_healthy", "probe", "chaositbench.probes"),
            ("root_cause_gone", "probe", "chaositbench.probes"),
            ("take_snapshot", "probe", "chaositbench.blast_radius"),
            ("collateral_since", "probe", "chaositbench.blast_radius")} <= activities


def test_a_node_change_of_every_matching_node_cordons_them_and_names_each_as_the_root_cause(
        cluster: tuple[Path, DynamicClient], configuration: dict[str, Any]) -> None:
    dynamic = cluster[1]
    workers = ["chaositbench-worker", "chaositbench-worker2", "chaositbench-worker3"]
    before = {name: node_state(dynamic, name) for name in workers}
    record = actions.inject_fault("node-cordoned", configuration)
    assert [c["name"] for c in record["changes"] if c["op"] == "node"] == workers
    assert record["ground_truth"]["object"]["name"] == workers[0]
    assert [o["name"] for o in record["ground_truth"]["aliases"]["objects"]] == workers[1:]
    for name in workers:
        assert read(dynamic, "v1", "Node", None, name)["spec"]["unschedulable"] is True
    assert not read(dynamic, "v1", "Node", None, "chaositbench-control-plane")["spec"].get("unschedulable")
    actions.remove_fault(configuration=configuration)
    for name in workers:
        assert not read(dynamic, "v1", "Node", None, name)["spec"].get("unschedulable")
    deadline = time.monotonic() + 20  # the node lifecycle controller takes the unschedulable taint off again
    while any(node_state(dynamic, name) != before[name] for name in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {name: node_state(dynamic, name) for name in workers} == before
