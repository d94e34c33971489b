"""Chaos Toolkit probes about catalog faults: is the injected fault's symptom visible?"""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets
from kubernetes.client import ApiClient

from .catalog import load_fault
from .faults import read_record, run_dir
from .probes import catalog_entry, poll, slo_values, within
from .symptoms import symptom_visible
from .target import connect

__all__ = ["fault_symptom_visible"]


def fault_symptom_visible(fault: str, timeout_s: float = 60.0, configuration: Configuration = None,
                          secrets: Secrets = None) -> bool:
    """Whether the symptom of catalog fault ``fault`` shows within ``timeout_s`` seconds.

    Polls the built-in check the catalog entry declares (``symptom``), and its
    ``distractor_symptom`` if it has distractors; a tolerance of ``true`` in the experiment
    proves the incident (and the noise next to it) is real before the agent starts. The check
    ``slo-violated`` asks Prometheus whether some series of an SLO probe (``probes/slo.yaml``)
    is outside its bounds; the others ask the Kubernetes API.
    """
    entry = load_fault(fault, configuration)
    checks = [entry.symptom] + ([entry.distractor_symptom] if entry.distractor_symptom else [])
    directory = run_dir(configuration)
    injections = [i for i in read_record(directory)["injections"] if i["fault"] == fault and not i["removed"]]
    node = next((c["name"] for i in injections for c in i["changes"] if c["op"] == "node"), None)
    target = connect(configuration, directory)

    def visible(api: ApiClient, check: dict[str, Any]) -> bool:
        if check["check"] != "slo-violated":
            return symptom_visible(api, check, node)
        bounds = catalog_entry("slo", check["probe"], configuration)
        return any(not within(v, bounds) for v in slo_values(check["probe"], configuration, target).values())
    with target.api_client() as api:
        return poll(lambda: all(visible(api, check) for check in checks), timeout_s)
