"""Chaos Toolkit actions: inject a catalog fault, remove it, restore the cluster.

Each takes the experiment's ``configuration`` (cluster choice, run directory, catalog
directory: see ``chaositbench.target``, ``chaositbench.faults`` and ``actions/README.md``).
"""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from . import faults

__all__ = ["inject_fault", "remove_fault", "restore_cluster"]


def inject_fault(fault: str, configuration: Configuration = None, secrets: Secrets = None) -> dict[str, Any]:
    """Inject fault ``fault`` of the ``actions/`` catalog and record every change for rollback.

    Returns the injection record: the fault id, time, complaint (``{time}`` filled in), SLA,
    namespaces and the changes made with the prior state of each object.
    """
    return faults.inject(fault, configuration)


def remove_fault(fault: str | None = None, configuration: Configuration = None,
                 secrets: Secrets = None) -> list[str]:
    """Undo the recorded changes of ``fault`` (every injected fault when not given); safe to call twice.

    Returns the ids of the faults undone by this call.
    """
    return faults.remove(configuration, fault)


def restore_cluster(configuration: Configuration = None, secrets: Secrets = None) -> dict[str, Any]:
    """Remove every injected fault, then put the faults' namespaces back as they were before the fault.

    Undoes what anyone changed there since (agent included): deletes objects created since,
    recreates deleted ones and reverts changed ones. Safe to call twice.
    """
    return faults.restore(configuration)
