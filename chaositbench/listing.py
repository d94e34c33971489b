"""Reading a run's objects kind by kind and namespace by namespace: what snapshots and probes list.

Lists are made per namespace, never cluster-wide: a real cluster may be huge, and a run's RBAC
may cover only the scenario's namespaces.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from kubernetes.dynamic import DynamicClient

#: a kind as the API names it: ``(apiVersion, kind)``
ApiKind = tuple[str, str]


def namespaced_objects(dynamic: DynamicClient, kinds: Iterable[ApiKind],
                       namespaces: Iterable[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(kind, namespace, object)`` for every object of ``kinds`` in ``namespaces``, kind by kind.

    One list request per kind and namespace. The object is the API's JSON as a dict, with its
    ``apiVersion`` and ``kind`` filled in (the items of a list leave them out).
    """
    namespaces = list(namespaces)
    for api_version, kind in kinds:
        resource = dynamic.resources.get(api_version=api_version, kind=kind)
        for namespace in namespaces:
            for item in resource.get(namespace=namespace).items:
                yield kind, namespace, {**item.to_dict(), "apiVersion": api_version, "kind": kind}
