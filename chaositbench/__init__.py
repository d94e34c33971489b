"""chaositbench: a benchmark of AI agents on Kubernetes incident response."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaoslib.types import Discovery

__version__ = "0.1.0"
#: activity modules listed by ``chaos discover chaositbench``: (module, "action" | "probe")
ACTIVITY_MODULES = (("chaositbench.actions", "action"), ("chaositbench.fault_probes", "probe"),
                    ("chaositbench.probes", "probe"), ("chaositbench.blast_radius", "probe"),
                    ("chaositbench.agent.actions", "action"))


def discover(discover_system: bool = True) -> Discovery:
    """The activities chaositbench offers to Chaos Toolkit experiments (``chaos discover chaositbench``)."""
    # imported here: chaoslib costs a quarter of a second, which `chaositbench sim serve` need not pay
    from chaoslib.discovery.discover import discover_actions, discover_probes, initialize_discovery_result

    discovery = initialize_discovery_result("chaositbench", __version__, "kubernetes")
    for module, activity_type in ACTIVITY_MODULES:
        found = discover_probes(module) if activity_type == "probe" else discover_actions(module)
        discovery["activities"].extend(found)
    return discovery
