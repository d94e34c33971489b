"""Controllers of the simulated cluster: reconcile loops fed by watch events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .cronjob import CronJobController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .eviction_manager import EvictionManager
from .garbage_collector import GarbageCollector
from .hpa import HorizontalPodAutoscalerController
from .job import JobController
from .kubelet import KubeletController
from .namespace import NamespaceController
from .node_lifecycle import NodeLifecycleController
from .replicaset import ReplicaSetController, ReplicationControllerController
from .rootca import RootCAPublisher
from .scheduler import Scheduler
from .serviceaccount import ServiceAccountController
from .statefulset import StatefulSetController
from .taint_eviction import TaintEvictionController
from .volume_binder import VolumeBinder

if TYPE_CHECKING:
    from ..cluster import Cluster
    from .base import Controller


def behaviour_kubelet(cluster: "Cluster") -> KubeletController:
    """The kubelet every cluster runs: containers behave as their declared needs and the real objects say."""
    from ..behaviour.runtime import BehaviourRuntime  # imported here: the behaviour model builds on this package
    return KubeletController(cluster, BehaviourRuntime(cluster))


#: Factories of the controllers every cluster runs (``Cluster.start`` builds ``cluster.controllers`` from them).
CONTROLLERS: list[Callable[["Cluster"], "Controller"]] = [
    DeploymentController,
    ReplicaSetController,
    ReplicationControllerController,
    behaviour_kubelet,
    ServiceAccountController,
    RootCAPublisher,
    NamespaceController,
    GarbageCollector,
    Scheduler,
    EndpointsController,
    EndpointSliceController,
    JobController,
    CronJobController,
    StatefulSetController,
    DaemonSetController,
    VolumeBinder,
    NodeLifecycleController,
    TaintEvictionController,
    EvictionManager,
    DisruptionController,
    HorizontalPodAutoscalerController,
]
