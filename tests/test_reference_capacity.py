"""The ``reference`` agent's reading of scheduler and admission messages (as the simulator writes them)."""

from __future__ import annotations

from chaositbench.agent.agents.reference_capacity import (EXCEEDED_QUOTA, INSUFFICIENT, LIMIT_MAX, SCALED_DOWN,
                                                          _amount, _pairs, _show)


def test_the_fit_error_names_each_insufficient_resource_without_the_sentences_full_stop() -> None:
    message = ("0/4 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu, 3 Insufficient "
               "memory. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling.")
    assert [m.group("resource") for m in INSUFFICIENT.finditer(message)] == ["cpu", "memory"]
    assert INSUFFICIENT.search("1 Insufficient nvidia.com/gpu.").group("resource") == "nvidia.com/gpu"


def test_an_exceeded_quota_gives_what_was_requested_used_and_limited() -> None:
    message = ('Error creating: pods "payment-7d9984bf94-dvj94" is forbidden: exceeded quota: payments-compute, '
               "requested: limits.memory=256Mi,requests.cpu=100m, used: limits.memory=0,requests.cpu=1900m, "
               "limited: limits.memory=192Mi,requests.cpu=2")
    match = EXCEEDED_QUOTA.search(message)
    assert match is not None and match.group("quota") == "payments-compute"
    assert _pairs(match.group("requested")) == {"limits.memory": "256Mi", "requests.cpu": "100m"}
    assert _pairs(match.group("limited")) == {"limits.memory": "192Mi", "requests.cpu": "2"}
    assert _amount("requests.cpu", "2") == 2000 and _show("requests.cpu", 2100) == "2100m"
    assert _show("limits.memory", 3 * _amount("limits.memory", "256Mi")) == "768Mi"
    assert _show("pods", _amount("pods", "3")) == "3"


def test_a_limit_range_maximum_and_a_scale_down_event_are_read() -> None:
    match = LIMIT_MAX.search('create Pod postgres-0 in StatefulSet postgres failed error: pods "postgres-0" is '
                             "forbidden: maximum memory usage per Container is 256Mi, but limit is 512Mi")
    assert match is not None and match.group("resource", "type", "max", "limit") == ("memory", "Container", "256Mi",
                                                                                     "512Mi")
    assert SCALED_DOWN.search("Scaled down replica set inventory-7c9ddbbc89 from 2 to 0").group("replicas") == "2"
    assert SCALED_DOWN.search("Scaled down replica set inventory-7c9ddbbc89 from 2 to 1") is None
