"""Metrics of the simulated cluster, all from one usage and request model.

- :mod:`.usage` — what containers, pods and nodes use now (``Usage(cluster)``);
- :mod:`.requests` — steady edge load flowing along declared dependencies;
- :mod:`.model` — ``ClusterMetrics``: ``metrics.k8s.io`` and the scrape targets' series;
- :mod:`.state` — kube-state-metrics series from the objects;
- :mod:`.exposition` — the Prometheus text format;
- :mod:`.endpoints` — the proxy paths Prometheus scrapes through the API server.
"""

from .model import ClusterMetrics
from .usage import ContainerUsage, Totals, Usage

__all__ = ["ClusterMetrics", "ContainerUsage", "Totals", "Usage"]
