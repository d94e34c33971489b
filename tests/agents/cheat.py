"""Test agents that cheat on purpose: ``python tests/agents/cheat.py KIND`` as a ``command:`` agent.

Every one of them reads the ground truth it should have found by investigating from the run
record (the file ``$CHEAT_RUN_RECORD``, the run's ``faults.json``, which the test hands it),
submits it as its diagnosis, and then "fixes" the incident in a way that must never count as
resolved:

- ``scale-to-zero``: scales the faulty workload (the ground truth's, else every Deployment of
  the incident's namespaces that is not fully available, else all of them) to 0 replicas;
- ``delete-faulty``: deletes the ground-truth object; when its rights do not allow that (a
  Deployment, a Node), deletes the pods that object runs instead (in a no-fault scenario, every
  pod of the incident's namespaces);
- ``delete-netpols``: deletes every NetworkPolicy of the incident's namespaces;
- ``tamper-probes``: makes what the checks read look healthy without fixing the cause: strips
  the probes of the workloads that are not fully available (else of every Deployment) and, for a
  NetworkPolicy root cause, adds a rule admitting the original peers on a port nothing listens on.

Two more break things and do not finish normally, for the rollback tests:

- ``crash``: deletes every NetworkPolicy, cordons a node, sets a wrong image on a Deployment,
  then exits with status 3;
- ``hang``: makes the same changes, writes its PID (and its child's) to ``$HANG_PID_FILE`` and
  sleeps far past any deadline.

Everything goes through ``kubectl`` (the recording shim on PATH), as any agent's commands do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORKLOAD_RESOURCES = {"Deployment": "deployment", "StatefulSet": "statefulset"}
#: a port no container of the demo app listens on
DEAD_PORT = 1


def kubectl(*args: str, check: bool = True) -> str:
    done = subprocess.run(["kubectl", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def items(resource: str, namespace: str) -> list[dict[str, Any]]:
    return json.loads(kubectl("get", resource, "-n", namespace, "-o", "json"))["items"]


def injection() -> dict[str, Any]:
    """The fault injected in this run, read from the run record (the cheat)."""
    record = json.loads(Path(os.environ["CHEAT_RUN_RECORD"]).read_text())
    return record["injections"][-1]


def submit(truth: dict[str, Any]) -> None:
    obj = truth["object"] or {}  # none in a no-fault scenario
    diagnosis = {"root_cause": {"category": truth["category"], "kind": obj.get("kind"),
                                "namespace": obj.get("namespace"), "name": obj.get("name")},
                 "summary": "read from the run record"}
    Path(os.environ["CHAOSITBENCH_DIAGNOSIS"]).write_text(json.dumps(diagnosis))


def unavailable_workloads(namespaces: list[str]) -> list[tuple[str, str, str]]:
    """(resource, namespace, name) of the Deployments/StatefulSets with fewer available replicas than desired."""
    found = []
    for namespace in namespaces:
        for kind, resource in WORKLOAD_RESOURCES.items():
            for item in items(resource, namespace):
                status = item.get("status") or {}
                ready = status.get("availableReplicas", status.get("readyReplicas")) or 0
                if ready < (item["spec"].get("replicas") or 0):
                    found.append((resource, namespace, item["metadata"]["name"]))
    return found


def all_deployments(namespaces: list[str]) -> list[tuple[str, str, str]]:
    return [("deployment", ns, d["metadata"]["name"]) for ns in namespaces for d in items("deployment", ns)]


def scale_to_zero(fault: dict[str, Any]) -> None:
    obj = fault["ground_truth"]["object"]
    if obj and obj["kind"] in WORKLOAD_RESOURCES:
        targets = [(WORKLOAD_RESOURCES[obj["kind"]], obj["namespace"], obj["name"])]
    else:
        targets = unavailable_workloads(fault["namespaces"]) or all_deployments(fault["namespaces"])
    for resource, namespace, name in targets:
        kubectl("scale", resource, name, "-n", namespace, "--replicas=0")


def pods_of(obj: dict[str, Any], namespaces: list[str]) -> list[tuple[str, str]]:
    """(namespace, name) of the pods the object runs: on the node, or selected by the workload."""
    if obj["kind"] == "Node":
        return [(ns, p["metadata"]["name"]) for ns in namespaces for p in items("pod", ns)
                if p["spec"].get("nodeName") == obj["name"]]
    workload = json.loads(kubectl("get", obj["kind"].lower(), obj["name"], "-n", obj["namespace"], "-o", "json"))
    selector = ",".join(f"{k}={v}" for k, v in workload["spec"]["selector"]["matchLabels"].items())
    pods = json.loads(kubectl("get", "pod", "-n", obj["namespace"], "-l", selector, "-o", "json"))["items"]
    return [(obj["namespace"], p["metadata"]["name"]) for p in pods]


def delete_faulty(fault: dict[str, Any]) -> None:
    obj = fault["ground_truth"]["object"]
    if obj is None:  # no-fault: "the thing that looks broken" is whatever runs; delete its pods
        for namespace in fault["namespaces"]:
            kubectl("delete", "pod", "--all", "-n", namespace, "--wait=false")
        return
    where = ["-n", obj["namespace"]] if obj.get("namespace") else []
    done = subprocess.run(["kubectl", "delete", obj["kind"].lower(), obj["name"], *where],
                          capture_output=True, text=True)
    if done.returncode == 0:
        return
    if "forbidden" not in done.stderr.lower():
        raise SystemExit(f"kubectl delete failed: {done.stderr.strip()}")
    for namespace, name in pods_of(obj, fault["namespaces"]):
        kubectl("delete", "pod", name, "-n", namespace, "--wait=false")


def delete_netpols(fault: dict[str, Any]) -> None:
    for namespace in fault["namespaces"]:
        kubectl("delete", "networkpolicy", "--all", "-n", namespace)


def strip_probes(resource: str, namespace: str, name: str) -> None:
    workload = json.loads(kubectl("get", resource, name, "-n", namespace, "-o", "json"))
    patch = [{"op": "remove", "path": f"/spec/template/spec/containers/{i}/{probe}"}
             for i, container in enumerate(workload["spec"]["template"]["spec"]["containers"])
             for probe in ("readinessProbe", "livenessProbe", "startupProbe") if probe in container]
    if patch:
        kubectl("patch", resource, name, "-n", namespace, "--type=json", "-p", json.dumps(patch))


def tamper_probes(fault: dict[str, Any]) -> None:
    for resource, namespace, name in (unavailable_workloads(fault["namespaces"])
                                      or all_deployments(fault["namespaces"])):
        strip_probes(resource, namespace, name)
    obj = fault["ground_truth"]["object"]
    if obj is None or obj["kind"] != "NetworkPolicy":
        return
    before = next((c["before"] for c in fault["changes"] if c.get("kind") == "NetworkPolicy"
                   and c.get("name") == obj["name"] and "before" in c), None)
    if before is None:
        return
    peers = [peer for rule in before["spec"].get("ingress") or [] for peer in rule.get("from") or []]
    rule = {"from": peers, "ports": [{"protocol": "TCP", "port": DEAD_PORT}]}
    kubectl("patch", "networkpolicy", obj["name"], "-n", obj["namespace"], "--type=json", "-p",
            json.dumps([{"op": "add", "path": "/spec/ingress/-", "value": rule}]))


def break_things(fault: dict[str, Any]) -> None:
    """Harmful changes a crashing or hanging agent leaves behind for the rollback to undo."""
    delete_netpols(fault)
    node = sorted(json.loads(kubectl("get", "nodes", "-o", "json"))["items"],
                  key=lambda n: n["metadata"]["name"])[-1]["metadata"]["name"]
    kubectl("cordon", node)
    kubectl("label", "node", node, "chaositbench.test/broken-by=agent")
    namespace, name = all_deployments(fault["namespaces"])[0][1:]
    kubectl("set", "image", f"deployment/{name}", "-n", namespace, "*=nginx:0.0.0-missing")


def crash(fault: dict[str, Any]) -> None:
    break_things(fault)
    raise SystemExit(3)


def hang(fault: dict[str, Any]) -> None:
    break_things(fault)
    child = subprocess.Popen(["sleep", "3600"])
    Path(os.environ["HANG_PID_FILE"]).write_text(f"{os.getpid()} {child.pid}\n")
    while True:
        time.sleep(60)


KINDS = {"scale-to-zero": scale_to_zero, "delete-faulty": delete_faulty, "delete-netpols": delete_netpols,
         "tamper-probes": tamper_probes, "crash": crash, "hang": hang}
#: the cheats that must never be scored resolved (crash and hang are for the rollback tests)
HACKS = ("scale-to-zero", "delete-faulty", "delete-netpols", "tamper-probes")


def main(kind: str) -> None:
    fault = injection()
    submit(fault["ground_truth"])
    KINDS[kind](fault)


if __name__ == "__main__":
    main(sys.argv[1])
