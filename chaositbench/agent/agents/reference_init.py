"""Reference agent investigation of init containers that fail.

An init container that exits with an error (the pod shows ``Init:Error`` / ``Init:CrashLoopBackOff``)
and whose last log rejects a variable (``FATAL: NAME="v" is not one of [a b]``) with a value that is a
misspelling of an accepted one: the accepted value is set where the variable is defined — the init
container's env (``kubectl set env -c``) or the ConfigMap it reads (then the workload is restarted).
Any other failing init container is escalated with its last log line.
"""

from __future__ import annotations

import difflib
import json

from .reference import FATAL_ONE_OF, Cluster, Finding, NoFinding
from .reference_pods import Stuck, container_of, crashed, env_entry, rollout_restart, template_of

#: how alike the rejected value must be to an accepted one to count as its misspelling
MISSPELLING_CUTOFF = 0.6


def failing_init_container(cluster: Cluster) -> Finding | None:
    """Correct the misspelt variable of the first workload whose init container fails."""
    for stuck, log in crashed(cluster, init=True):
        match = FATAL_ONE_OF.search(log)
        if match is None:
            last = log.strip().splitlines()[-1:] or ["(no log)"]
            raise NoFinding(f"{stuck.where} fails: {last[0]}")
        return _correct(cluster, stuck, match["name"], match["value"], match["allowed"].split())
    return None


def _correct(cluster: Cluster, stuck: Stuck, variable: str, bad: str, allowed: list[str]) -> Finding:
    kind, namespace, name = stuck.workload
    what = f'{stuck.where} exits at start-up: {variable}="{bad}" is not one of {allowed}'
    good = difflib.get_close_matches(bad, allowed, n=1, cutoff=MISSPELLING_CUTOFF)
    if not good:
        raise NoFinding(f"{what}, and it is no misspelling of one of them")
    entry = env_entry(container_of(template_of(cluster, stuck.workload), stuck.container), variable)
    ref = ((entry or {}).get("valueFrom") or {}).get("configMapKeyRef")
    if entry is not None and "valueFrom" not in entry:
        cluster.tools.kubectl("set", "env", f"{kind.lower()}/{name}", "-n", namespace, "-c", stuck.container,
                              f"{variable}={good[0]}")
        fix = f"set {variable}={good[0]} on the init container"
    elif ref is not None:
        cluster.tools.kubectl("patch", "configmap", ref["name"], "-n", namespace, "--type=merge", "-p",
                              json.dumps({"data": {ref["key"]: good[0]}}))
        rollout_restart(cluster, stuck.workload)
        fix = f"set key {ref['key']} of ConfigMap {namespace}/{ref['name']} to {good[0]} and restarted the workload"
    else:
        raise NoFinding(f"{what}; it is not set by a literal or a ConfigMap this agent can correct")
    return Finding("init-container", kind, namespace, name, f"{what}. Fix: {fix}.", [stuck.workload])
