"""The one fixed taxonomy of root-cause categories.

Faults in ``actions/`` declare their ground truth with one of these categories, agents submit
one in their diagnosis, and the score compares them. Adding a category is a deliberate change
of the benchmark: it changes what agents are told they may answer.
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "network-policy": "A NetworkPolicy blocks (or fails to allow) traffic the workload needs.",
    "resource-limits": "Container CPU/memory requests or limits are too low or too high for the workload "
                       "(OOMKilled, CPU throttling, unschedulable requests).",
    "config-env": "An environment variable has a wrong value (in the pod template, a ConfigMap or a Secret).",
    "config-missing": "A ConfigMap, Secret or one of their keys that the workload needs is missing.",
    "image": "The container image is wrong or cannot be pulled (tag typo, missing registry credentials).",
    "probe": "A liveness, readiness or startup probe is misconfigured (path, port, timing).",
    "service-selector": "A Service selects no (or the wrong) pods, or targets the wrong port.",
    "node-pressure": "A node is under memory, disk or PID pressure and evicts or rejects pods.",
    "node-scheduling": "Pods cannot be scheduled: cordoned or tainted nodes, selectors or affinity nobody satisfies.",
    "dns": "Name resolution fails for the workload (DNS egress blocked, wrong host name, CoreDNS down).",
    "quota": "A ResourceQuota or LimitRange rejects the workload's pods.",
    "rbac": "The workload's ServiceAccount lacks a permission it needs (Role, RoleBinding).",
    "scaling": "A workload runs too few replicas (scaled to zero, or below what the load needs).",
    "autoscaling": "A HorizontalPodAutoscaler is misconfigured (maximum too low, wrong target).",
    "init-container": "An init container fails, so the pods never start.",
    "no-fault": "Nothing is broken: the right answer is to change nothing.",
}


def is_category(value: object) -> bool:
    """Whether ``value`` is one of the taxonomy's categories."""
    return isinstance(value, str) and value in CATEGORIES
