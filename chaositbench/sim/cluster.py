"""One simulated cluster: the store, the API semantics, authn/authz, controllers and bootstrap objects.

:class:`Cluster` assembles the parts and owns their life cycle on one asyncio
loop; :mod:`.server` puts it behind HTTP. Nothing here knows any application.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from . import admission, conversion, defaults, tls, validation
from .auth import TokenAuthenticator, UserInfo
from .controllers import CONTROLLERS
from .controllers.base import Controller
from .controllers.node_lifecycle import bootstrap_nodes
from .errors import unauthorized
from .events import EventRecorder
from .kinds import Kind, all_kinds, preferred
from .logbook import LogBook
from .metrics import ClusterMetrics
from .network import Network, bootstrap_network
from .rbac import Authorizer, bootstrap_policy
from .resources import Hooks, ResourceAPI
from .store import Obj, Store

log = logging.getLogger(__name__)

KUBERNETES_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0",
                      "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                      "buildDate": "2026-08-26T00:00:00Z", "goVersion": "go1.25.1", "compiler": "gc",
                      "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "37",
                      "minCompatibilityMajor": "1", "minCompatibilityMinor": "36"}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ANONYMOUS = UserInfo(username="system:anonymous", uid="", groups=["system:unauthenticated"], extra={})
NAMESPACES = preferred("", "Namespace")
PODS = preferred("", "Pod")
SERVICES = preferred("", "Service")


class MetricsProvider(Protocol):
    """Source of ``metrics.k8s.io`` answers (the behaviour model supplies one)."""

    def pod_metrics(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def node_metrics(self, name: str) -> dict[str, Any] | None: ...
    def list_pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]: ...
    def list_node_metrics(self) -> list[dict[str, Any]]: ...


@dataclass
class ClusterOptions:
    """Knobs of a simulated cluster."""

    #: multiplies every simulated delay (start-up, back-off); < 1 runs faster than reality
    time_scale: float = 1.0
    #: HTTP address clients reach the API server at, for discovery's serverAddressByClientCIDRs
    server_address: str = "127.0.0.1:6443"
    #: addresses the serving certificate is valid for
    hosts: tuple[str, ...] = ("127.0.0.1",)


class Cluster:
    """A simulated Kubernetes cluster living on one asyncio loop."""

    def __init__(self, options: ClusterOptions | None = None) -> None:
        self.options = options or ClusterOptions()
        self.time_scale = self.options.time_scale
        self.server_address = self.options.server_address
        self.certificates = tls.generate(list(self.options.hosts))
        #: the CA bundle pods find in kube-root-ca.crt, the one that signed the serving certificate
        self.ca_bundle = self.certificates.ca_pem.decode()
        self.store = Store()
        hooks = Hooks(decoders=[validation.check_decodable],
                      update_preparers=[defaults.carry_over_allocated_fields],
                      defaults=[defaults.apply_defaults], validators=[validation.validate],
                      admission=list(admission.ADMISSION_CHAIN))
        self.api = ResourceAPI(self.store, hooks)
        self.logbook = LogBook()
        self.events = EventRecorder(self.api)
        self.authenticator = TokenAuthenticator(sa_exists=self._service_account_exists, sa_uid=self._service_account_uid)
        self.authorizer = Authorizer(self._list_for_rbac)
        self.network = Network(self)
        self.metrics: ClusterMetrics | None = ClusterMetrics(self)
        self.controllers: list[Controller] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._bootstrap()

    # -- bootstrap -----------------------------------------------------------------
    def _bootstrap(self) -> None:
        for name in SYSTEM_NAMESPACES:
            self.api.create(NAMESPACES, "", {"metadata": {"name": name}})
        for obj in bootstrap_policy():
            kind = preferred("rbac.authorization.k8s.io", obj["kind"])
            self.api.create(kind, obj["metadata"].get("namespace", ""), obj)
        bootstrap_nodes(self.api)
        self.api.create(SERVICES, "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                          "targetPort": 6443}]}})
        bootstrap_network(self.api)

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Start every controller's reconcile loop on the running loop."""
        self.controllers = [factory(self) for factory in CONTROLLERS]
        for controller in self.controllers:
            self.store.add_listener(controller.on_event)
            self._tasks.append(asyncio.create_task(controller.run(), name=f"controller:{controller.name}"))

    async def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.store.close_all_watches()

    # -- what the API server asks of the cluster ----------------------------------
    def authenticate(self, authorization: str | None) -> UserInfo:
        """The user of a request: a valid bearer token's, anonymous without one; a bad token is 401."""
        if not authorization:
            return ANONYMOUS
        user = self.authenticator.authenticate(authorization)
        if user is None:
            raise unauthorized()
        return user

    def admin_token(self) -> str:
        return self.authenticator.admin_token

    def version_info(self) -> dict[str, str]:
        return dict(KUBERNETES_VERSION)

    def metrics_available(self) -> bool:
        return self.metrics is not None

    def served_kinds(self) -> list[Kind]:
        return [k for k in all_kinds() if self.metrics is not None or k.group != "metrics.k8s.io"]

    def convert_out(self, kind: Kind, obj: Obj) -> Obj:
        """Present a stored object in the version requested (kinds that share storage)."""
        return conversion.from_storage(kind, obj)

    def bind_pod(self, pod: Obj, node: str) -> Obj:
        """The ``pods/binding`` subresource: set the node of an unbound pod."""
        return self.api.assign_node(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], node)

    def finalize_namespace(self, live: Obj, new: Obj) -> Obj:
        """The ``namespaces/finalize`` subresource: only spec.finalizers change; empty ones end a terminating namespace."""
        updated = copy.deepcopy(live)
        updated["spec"] = {**(live.get("spec") or {}), "finalizers": new["spec"]["finalizers"]}
        if not updated["spec"]["finalizers"]:
            del updated["spec"]["finalizers"]
            if live["metadata"].get("deletionTimestamp") and not live["metadata"].get("finalizers"):
                return self.store.delete(NAMESPACES.storage_key, updated)
        return self.api.replace_object(NAMESPACES, updated)

    # -- helpers ---------------------------------------------------------------------
    def _service_account_exists(self, namespace: str, name: str) -> bool:
        return self.api.try_get(preferred("", "ServiceAccount"), namespace, name) is not None

    def _service_account_uid(self, namespace: str, name: str) -> str | None:
        sa = self.api.try_get(preferred("", "ServiceAccount"), namespace, name)
        return sa["metadata"]["uid"] if sa else None

    def _list_for_rbac(self, group: str, plural: str, namespace: str | None) -> list[Obj]:
        kind = next(k for k in all_kinds() if k.group == group and k.plural == plural and k.preferred)
        return self.store.list(kind.storage_key, namespace)
