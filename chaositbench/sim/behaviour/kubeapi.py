"""The Kubernetes API requests a container declares (``kubernetesApi``), authorized as its ServiceAccount.

A program that reads objects through the API with its pod's ServiceAccount
token is ``system:serviceaccount:<namespace>:<serviceAccountName>`` in the
groups ``system:serviceaccounts``, ``system:serviceaccounts:<namespace>`` and
``system:authenticated``. Each declared request is put to the cluster's own
RBAC authorizer (:mod:`..rbac`), so Roles, ClusterRoles and their bindings
decide exactly as for a real client; a denial is the API server's 403 message.
Only authorization is modelled: reaching the API server (network policies
towards it) is not.
"""

from __future__ import annotations

from typing import Any

from ..auth import AUTHENTICATED_GROUP, UserInfo, service_account_groups, service_account_username
from ..rbac import Authorizer, RequestAttributes, forbidden_error
from .needs import ContainerNeeds


def service_account_user(pod: dict[str, Any]) -> UserInfo:
    """The identity a pod's ServiceAccount token authenticates as."""
    namespace = pod["metadata"].get("namespace", "")
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    return UserInfo(service_account_username(namespace, account),
                    groups=[*service_account_groups(namespace), AUTHENTICATED_GROUP])


def api_denials(authorizer: Authorizer, pod: dict[str, Any], needs: ContainerNeeds) -> list[str]:
    """The 403 messages of the container's declared API requests that RBAC denies now."""
    user = service_account_user(pod)
    denials = []
    for need in needs.kubernetes_api:
        attrs = RequestAttributes(user=user, verb=need.verb, api_group=need.group, resource=need.resource,
                                  namespace=need.namespace or pod["metadata"].get("namespace", ""),
                                  name=need.name or "")
        decision = authorizer.authorize(attrs)
        if not decision.allowed:
            denials.append(forbidden_error(attrs, decision).message)
    return denials
