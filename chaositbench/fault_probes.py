"""Chaos Toolkit probes about catalog faults: is the injected fault's symptom visible?"""

from __future__ import annotations

from chaoslib.types import Configuration, Secrets

from .catalog import load_fault
from .faults import read_record, run_dir
from .probes import poll
from .symptoms import symptom_visible
from .target import connect

__all__ = ["fault_symptom_visible"]


def fault_symptom_visible(fault: str, timeout_s: float = 60.0, configuration: Configuration = None,
                          secrets: Secrets = None) -> bool:
    """Whether the symptom of catalog fault ``fault`` shows within ``timeout_s`` seconds.

    Polls the built-in check the catalog entry declares (``symptom``), and its
    ``distractor_symptom`` if it has distractors; a tolerance of ``true`` in the experiment
    proves the incident (and the noise next to it) is real before the agent starts.
    """
    entry = load_fault(fault, configuration)
    checks = [entry.symptom] + ([entry.distractor_symptom] if entry.distractor_symptom else [])
    directory = run_dir(configuration)
    injections = [i for i in read_record(directory)["injections"] if i["fault"] == fault and not i["removed"]]
    node = next((c["name"] for i in injections for c in i["changes"] if c["op"] == "node"), None)
    target = connect(configuration, directory)
    with target.api_client() as api:
        return poll(lambda: all(symptom_visible(api, check, node) for check in checks), timeout_s)
