"""Reading a run's objects kind by kind and namespace by namespace: what snapshots and probes list.

Lists are made per namespace, never cluster-wide: a real cluster may be huge, and a run's RBAC
may cover only the scenario's namespaces. Several lists are in flight at once, so that their
round trips overlap (a remote API server's latency, or a loaded machine's scheduling).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from kubernetes.dynamic import DynamicClient

#: a kind as the API names it: ``(apiVersion, kind)``
ApiKind = tuple[str, str]
#: list requests in flight at once (the official client's ApiClient is thread-safe for requests, and its
#: connection pool holds more)
LIST_CONCURRENCY = 4


def namespaced_objects(dynamic: DynamicClient, kinds: Iterable[ApiKind],
                       namespaces: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(kind, namespace, object)`` for every object of ``kinds`` in ``namespaces``, kind by kind.

    One list request per kind and namespace. The object is the API's JSON as a dict, with its
    ``apiVersion`` and ``kind`` filled in (the items of a list leave them out).
    """
    namespaces = list(namespaces)
    resources = [(api_version, kind, dynamic.resources.get(api_version=api_version, kind=kind))
                 for api_version, kind in kinds]
    lists = [(*resource, namespace) for resource in resources for namespace in namespaces]

    def listed(api_version: str, kind: str, resource: Any, namespace: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(kind, namespace, {**item.to_dict(), "apiVersion": api_version, "kind": kind})
                for item in resource.get(namespace=namespace).items]
    pool = ThreadPoolExecutor(LIST_CONCURRENCY, thread_name_prefix="chaositbench-list")
    try:
        return [entry for entries in pool.map(lambda args: listed(*args), lists) for entry in entries]
    finally:  # on Ctrl-C too: the lists not started yet are dropped, the caller does not wait for the others
        pool.shutdown(wait=False, cancel_futures=True)
