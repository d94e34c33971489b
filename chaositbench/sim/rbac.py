"""RBAC authorization, evaluated as kube-apiserver evaluates it.

The :class:`Authorizer` is the union kube-apiserver builds: members of
``system:masters`` are always allowed (the privileged-group authorizer), every
other request is decided by the RBAC authorizer from the stored Roles,
RoleBindings, ClusterRoles and ClusterRoleBindings:

* ClusterRoleBindings grant their ClusterRole's rules everywhere; RoleBindings
  grant a Role of their namespace, or a ClusterRole, in their namespace only
  (so never for cluster-scoped requests, whose namespace is empty);
* a subject matches by user name, by group, or as a ServiceAccount
  (``system:serviceaccount:<ns>:<name>``; a RoleBinding's subject without a
  namespace means the binding's namespace);
* a rule matches a verb / API group / resource (``*`` wildcards, ``pods/log``
  and ``*/scale`` style subresources, ``resourceNames`` which only ever match
  requests that carry a name) or, for non-resource requests, a
  ``nonResourceURLs`` entry (exact, ``*``, or a ``prefix*``);
* a ClusterRole with an ``aggregationRule`` has the union of the rules of the
  ClusterRoles its label selectors pick (evaluated here on the fly, with the
  same ordering as the aggregation controller; :func:`aggregate_rules` gives a
  controller the rules to store);
* a binding that references a missing role contributes the error to the
  reason (``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``).

Also here: the exact 403 sentences, the access reviews behind
``kubectl auth can-i`` (``--list`` included), impersonation (``--as``), the
escalation checks the RBAC registry applies when roles and bindings are
written, and the bootstrap policy of a fresh cluster.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from .auth import (AUTHENTICATED_GROUP, MASTERS_GROUP, UNAUTHENTICATED_GROUP, UserInfo, go_quote_list,
                   service_account_groups, service_account_username, split_service_account_username)
from .errors import APIError, FieldError, bad_request, forbidden, internal, invalid, not_found
from .selectors import selector_from_object

RBAC_GROUP = "rbac.authorization.k8s.io"

#: ``list_objects(group, plural, namespace)``: stored objects of a kind; namespace None means all.
ListObjects = Callable[[str, str, str | None], list[dict[str, Any]]]
Rule = dict[str, Any]

_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


@dataclass
class RequestAttributes:
    """What a request asks to do, as the apiserver's RequestInfo describes it.

    For resource requests ``verb`` comes from :func:`verb_for`, ``namespace``
    is empty for cluster-scoped and all-namespaces requests (but for
    ``/api/v1/namespaces/{name}`` it is ``{name}`` itself), ``name`` is empty
    for collections (list/watch with ``fieldSelector=metadata.name=X`` carry
    ``X``). For non-resource requests (``resource_request=False``) only
    ``verb`` (the lower-cased HTTP method) and ``path`` matter.
    """

    user: UserInfo
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


@dataclass(frozen=True)
class Decision:
    """The authorizer's answer and its reason (``RBAC: allowed by ...`` or resolution errors)."""

    allowed: bool
    reason: str = ""


def verb_for(method: str, is_collection: bool, watch: bool) -> str | None:
    """The RBAC verb of a resource request; None for a method the API does not serve.

    ``watch`` is whether the request asks to watch (``?watch=true``, or the
    legacy ``/watch/`` path prefix); like the apiserver's RequestInfo, the
    parameter only turns a GET of a collection into ``watch``.
    """
    method = method.upper()
    if method in ("GET", "HEAD"):
        if is_collection:
            return "watch" if watch else "list"
        return "get"
    if method == "DELETE":
        return "deletecollection" if is_collection else "delete"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)


# -- the 403 sentence ----------------------------------------------------------------
def forbidden_reason(attrs: RequestAttributes, reason: str = "") -> str:
    """The sentence kube-apiserver puts in a 403 (after ``... is forbidden: ``).

    ``reason`` is the authorizer's reason for a denial; when not empty it is
    appended after a colon, as the apiserver does.
    """
    user = attrs.user.username
    if not attrs.resource_request:
        sentence = f"User {_q(user)} cannot {attrs.verb} path {_q(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        sentence = (f"User {_q(user)} cannot {attrs.verb} resource {_q(resource)} "
                    f"in API group {_q(attrs.api_group)} {where}")
    return f"{sentence}: {reason}" if reason else sentence


def forbidden_error(attrs: RequestAttributes, decision: Decision) -> APIError:
    """The complete 403 for a denied request, exactly as kube-apiserver words it.

    ``pods "web-1" is forbidden: User ...`` (the resource without its
    subresource, the name when the request has one), or ``forbidden: User ...
    cannot get path "/metrics"`` for non-resource requests.
    """
    sentence = forbidden_reason(attrs, decision.reason)
    if not attrs.resource_request:
        return forbidden("", "", None, sentence)
    return forbidden(attrs.resource, attrs.api_group, attrs.name or None, sentence)


def _q(text: str) -> str:
    """Go's ``%q`` of a string (how Kubernetes quotes names in messages)."""
    return go_quote_list([text])[1:-1]


# -- rule matching ---------------------------------------------------------------------
def _field(rule: Mapping[str, Any], key: str) -> list[str]:
    return list(rule.get(key) or [])


def rule_allows(attrs: RequestAttributes, rule: Mapping[str, Any]) -> bool:
    """Whether one PolicyRule allows the request (RBAC's ``RuleAllows``)."""
    verbs = _field(rule, "verbs")
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return any(url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url.rstrip("*")))
                   for url in _field(rule, "nonResourceURLs"))
    groups = _field(rule, "apiGroups")
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not any(r == "*" or r == combined or (attrs.subresource and r == f"*/{attrs.subresource}")
               for r in _field(rule, "resources")):
        return False
    names = _field(rule, "resourceNames")
    return not names or attrs.name in names


def _subject_applies(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.username == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.username == service_account_username(namespace, name)
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount {_q(subject.get("name", "") + "/" + (subject.get("namespace") or binding_namespace))}'
    return f"{subject.get('kind', '')} {_q(subject.get('name', ''))}"


def _aggregate_errors(errors: list[str]) -> str:
    """apimachinery's error aggregate: one message, or ``[a, b]`` without duplicates."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _normalized(rule: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(_field(rule, key)) for key in _RULE_FIELDS)


def _clean_rule(rule: Mapping[str, Any]) -> Rule:
    """A rule as the API serializes it: PolicyRule field order, empty lists omitted."""
    return {key: list(rule[key]) for key in _RULE_FIELDS if rule.get(key)}


# -- aggregation -------------------------------------------------------------------------
def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _effective_cluster_role_rules(role: Mapping[str, Any], by_name: Mapping[str, Mapping[str, Any]],
                                  visiting: frozenset[str]) -> list[Rule]:
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
    name = _name(role)
    if role.get("aggregationRule") is None or name in visiting:
        return [_clean_rule(r) for r in role.get("rules") or []]
    rules: list[Rule] = []
    seen: set[tuple[tuple[str, ...], ...]] = set()
    for selector in selectors or []:
        matcher = selector_from_object(selector)
        for other_name in sorted(by_name):
            other = by_name[other_name]
            if other_name == name or not matcher.matches((other.get("metadata") or {}).get("labels")):
                continue
            for rule in _effective_cluster_role_rules(other, by_name, visiting | {name}):
                key = _normalized(rule)
                if key not in seen:
                    seen.add(key)
                    rules.append(rule)
    return rules


def aggregate_rules(cluster_role: Mapping[str, Any], cluster_roles: list[dict[str, Any]]) -> list[Rule]:
    """The rules of ``cluster_role`` once its ``aggregationRule`` is applied.

    What the clusterrole-aggregation controller writes into ``rules``: the
    rules of every other ClusterRole a selector matches (in name order,
    duplicates dropped); a role without an aggregation rule keeps its own.
    """
    by_name = {_name(r): r for r in cluster_roles}
    by_name[_name(cluster_role)] = cluster_role
    return _effective_cluster_role_rules(cluster_role, by_name, frozenset())


# -- the authorizer ------------------------------------------------------------------------
class _PolicyView:
    """The RBAC objects one decision reads, each listed at most once."""

    def __init__(self, list_objects: ListObjects) -> None:
        self._list = list_objects
        self._cluster_roles: dict[str, dict[str, Any]] | None = None
        self._roles: dict[str, dict[str, dict[str, Any]]] = {}

    def cluster_role_bindings(self) -> list[dict[str, Any]]:
        return sorted(self._list(RBAC_GROUP, "clusterrolebindings", None), key=_name)

    def role_bindings(self, namespace: str) -> list[dict[str, Any]]:
        return sorted(self._list(RBAC_GROUP, "rolebindings", namespace), key=_name)

    def cluster_roles(self) -> dict[str, dict[str, Any]]:
        if self._cluster_roles is None:
            self._cluster_roles = {_name(r): r for r in self._list(RBAC_GROUP, "clusterroles", None)}
        return self._cluster_roles

    def roles(self, namespace: str) -> dict[str, dict[str, Any]]:
        if namespace not in self._roles:
            self._roles[namespace] = {_name(r): r for r in self._list(RBAC_GROUP, "roles", namespace)}
        return self._roles[namespace]

    def role_ref_rules(self, role_ref: Mapping[str, Any], binding_namespace: str, *,
                       registry_errors: bool = False) -> list[Rule]:
        """Rules of a binding's roleRef; raises :class:`_RoleRefError` when it cannot be resolved.

        The authorizer's listers report a missing role as ``clusterrole.rbac...``
        (singular); the registry the escalation check reads says
        ``clusterroles.rbac...`` (plural).
        """
        kind, name = role_ref.get("kind"), str(role_ref.get("name", ""))
        if kind == "ClusterRole":
            roles = self.cluster_roles()
            if name not in roles:
                raise _RoleRefError("clusterroles" if registry_errors else "clusterrole", name)
            return _effective_cluster_role_rules(roles[name], roles, frozenset())
        if kind == "Role":
            ns_roles = self.roles(binding_namespace)
            if name not in ns_roles:
                raise _RoleRefError("roles" if registry_errors else "role", name)
            return [_clean_rule(r) for r in ns_roles[name].get("rules") or []]
        raise _RoleRefError("", name, f"unsupported role reference kind: {_q(str(kind))}")


class _RoleRefError(Exception):
    def __init__(self, resource: str, name: str, message: str | None = None) -> None:
        self.resource, self.name = resource, name
        super().__init__(message or f"{resource}.{RBAC_GROUP} {_q(name)} not found")


class Authorizer:
    """kube-apiserver's authorizer chain: privileged group, then RBAC."""

    def __init__(self, list_objects: ListObjects) -> None:
        self._list_objects = list_objects

    def _visit(self, view: _PolicyView, user: UserInfo, namespace: str
               ) -> Iterator[tuple[str, Rule | None, str | None]]:
        """``(source, rule, None)`` for each rule granted to ``user`` in ``namespace``; ``("", None, error)``."""
        for binding in view.cluster_role_bindings():
            subject = next((s for s in binding.get("subjects") or [] if _subject_applies(s, user, "")), None)
            if subject is None:
                continue
            role_ref = binding.get("roleRef") or {}
            try:
                rules = view.role_ref_rules(role_ref, "")
            except _RoleRefError as err:
                yield "", None, str(err)
                continue
            source = (f"ClusterRoleBinding {_q(_name(binding))} of {role_ref.get('kind', '')} "
                      f"{_q(str(role_ref.get('name', '')))} to {_describe_subject(subject, '')}")
            for rule in rules:
                yield source, rule, None
        if not namespace:
            return
        for binding in view.role_bindings(namespace):
            subject = next((s for s in binding.get("subjects") or [] if _subject_applies(s, user, namespace)), None)
            if subject is None:
                continue
            role_ref = binding.get("roleRef") or {}
            try:
                rules = view.role_ref_rules(role_ref, namespace)
            except _RoleRefError as err:
                yield "", None, str(err)
                continue
            source = (f"RoleBinding {_q(_name(binding) + '/' + namespace)} of {role_ref.get('kind', '')} "
                      f"{_q(str(role_ref.get('name', '')))} to {_describe_subject(subject, namespace)}")
            for rule in rules:
                yield source, rule, None

    def authorize(self, attrs: RequestAttributes) -> Decision:
        """Allow or deny one request, with the reason kube-apiserver gives."""
        if MASTERS_GROUP in attrs.user.groups:
            return Decision(True, "")
        errors: list[str] = []
        for source, rule, error in self._visit(_PolicyView(self._list_objects), attrs.user, attrs.namespace):
            if rule is not None and rule_allows(attrs, rule):
                return Decision(True, f"RBAC: allowed by {source}")
            if error is not None:
                errors.append(error)
        return Decision(False, f"RBAC: {_aggregate_errors(errors)}" if errors else "")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule granted to ``user`` in ``namespace`` (cluster-wide ones first) and resolution errors."""
        rules: list[Rule] = []
        errors: list[str] = []
        for _source, rule, error in self._visit(_PolicyView(self._list_objects), user, namespace):
            if rule is not None:
                rules.append(rule)
            if error is not None:
                errors.append(error)
        return rules, errors

    # -- escalation prevention (the RBAC registry's create/update checks) -----------------
    def confirm_no_escalation(self, user: UserInfo, resource: str, namespace: str, obj: Mapping[str, Any],
                              old: Mapping[str, Any] | None = None) -> None:
        """Refuse to write a role or binding that grants more than ``user`` holds.

        Call before storing a create (``old`` None) or an update of
        ``roles``, ``clusterroles``, ``rolebindings`` or ``clusterrolebindings``
        (``namespace`` empty for the cluster-scoped ones); other resources pass.
        As in Kubernetes: ``system:masters`` may always; the ``escalate`` verb
        on the role, or ``bind`` on the role a binding refers to, lifts the
        check; an update that only touches ownerReferences/finalizers passes;
        otherwise every permission granted must be held by the user in that
        namespace, and an ``aggregationRule`` needs full authority. Raises
        the 403 (or 404 for a binding to a missing role) the apiserver sends.
        """
        if resource not in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            return
        if MASTERS_GROUP in user.groups or (old is not None and _only_gc_fields_changed(obj, old)):
            return
        name = _name(obj)
        if resource in ("roles", "clusterroles"):
            escalate = RequestAttributes(user=user, verb="escalate", api_group=RBAC_GROUP, resource=resource,
                                         namespace=namespace, name=name if old is not None else "")
            if self.authorize(escalate).allowed:
                return
            self._confirm_covers(user, namespace, resource, name, list(obj.get("rules") or []))
            if resource == "clusterroles" and obj.get("aggregationRule") is not None \
                    and (old is None or obj.get("aggregationRule") != old.get("aggregationRule")):
                owner, _errors = self.rules_for(user, namespace)
                if _uncovered(owner, _FULL_AUTHORITY):
                    raise forbidden(resource, RBAC_GROUP, name,
                                    "must have cluster-admin privileges to use the aggregationRule")
            return
        role_ref = obj.get("roleRef") or {}
        ref_kind = role_ref.get("kind")
        if ref_kind in ("Role", "ClusterRole"):
            bind = RequestAttributes(user=user, verb="bind", api_group=str(role_ref.get("apiGroup", "")),
                                     resource="roles" if ref_kind == "Role" else "clusterroles",
                                     namespace=namespace, name=str(role_ref.get("name", "")))
            if self.authorize(bind).allowed:
                return
        try:
            granted = _PolicyView(self._list_objects).role_ref_rules(role_ref, namespace, registry_errors=True)
        except _RoleRefError as err:
            if err.resource:
                raise not_found(err.resource, RBAC_GROUP, err.name) from None
            raise internal(str(err)) from None
        self._confirm_covers(user, namespace, resource, name, granted)

    def _confirm_covers(self, user: UserInfo, namespace: str, resource: str, name: str,
                        rules: list[Mapping[str, Any]]) -> None:
        owner, errors = self.rules_for(user, namespace)
        missing = _uncovered(owner, rules)
        if not missing:
            return
        described = sorted(set(_compact_string(r) for r in _compact_rules(missing)))
        message = (f"user {_q(user.username)} (groups={go_quote_list(user.groups)}) is attempting to grant "
                   f"RBAC permissions not currently held:\n" + "\n".join(described))
        if errors:
            message += f"; resolution errors: [{_aggregate_errors(errors)}]"
        raise forbidden(resource, RBAC_GROUP, name, message)


_FULL_AUTHORITY: list[Rule] = [
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
]
_GC_FIELDS = ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")


def _only_gc_fields_changed(obj: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    def strip(o: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(o))
        meta = out.get("metadata") or {}
        for key in _GC_FIELDS:
            meta.pop(key, None)
        return out
    return strip(obj) == strip(old)


def _breakdown(rule: Mapping[str, Any]) -> list[Rule]:
    """One rule per (group, resource, verb, name) and per (url, verb): the atoms of coverage."""
    atoms: list[Rule] = []
    names = _field(rule, "resourceNames")
    for group in _field(rule, "apiGroups"):
        for resource in _field(rule, "resources"):
            for verb in _field(rule, "verbs"):
                base = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                atoms.extend([{**base, "resourceNames": [n]} for n in names] if names else [base])
    for url in _field(rule, "nonResourceURLs"):
        for verb in _field(rule, "verbs"):
            atoms.append({"verbs": [verb], "nonResourceURLs": [url]})
    return atoms


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or all(r in owner for r in wanted):
        return True
    for resource in wanted:
        if resource in owner:
            continue
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, url: str) -> bool:
    return owner == url or (owner.endswith("*") and url.startswith(owner.rstrip("*")))


def _rule_covers(owner: Mapping[str, Any], atom: Mapping[str, Any]) -> bool:
    owner_verbs, owner_groups, owner_names = _field(owner, "verbs"), _field(owner, "apiGroups"), \
        _field(owner, "resourceNames")
    atom_names = _field(atom, "resourceNames")
    return (("*" in owner_verbs or all(v in owner_verbs for v in _field(atom, "verbs")))
            and ("*" in owner_groups or all(g in owner_groups for g in _field(atom, "apiGroups")))
            and _resources_cover(_field(owner, "resources"), _field(atom, "resources"))
            and all(any(_url_covers(o, u) for o in _field(owner, "nonResourceURLs"))
                    for u in _field(atom, "nonResourceURLs"))
            and (not owner_names or (bool(atom_names) and all(n in owner_names for n in atom_names))))


def _uncovered(owner: list[Rule], rules: list[Mapping[str, Any]]) -> list[Rule]:
    """The atoms of ``rules`` that no rule of ``owner`` covers (RBAC's ``Covers``)."""
    return [atom for rule in rules for atom in _breakdown(rule)
            if not any(_rule_covers(o, atom) for o in owner)]


def _compact_rules(rules: list[Rule]) -> list[Rule]:
    """Merge atoms that differ only by verb, as the escalation message lists them."""
    merged: dict[tuple[str, str, str | None], Rule] = {}
    out: list[Rule] = []
    for rule in rules:
        groups, resources, names = _field(rule, "apiGroups"), _field(rule, "resources"), _field(rule, "resourceNames")
        simple = (len(groups) == 1 and len(resources) == 1 and len(names) <= 1 and not rule.get("nonResourceURLs"))
        if not simple:
            out.append(rule)
            continue
        key = (groups[0], resources[0], names[0] if names else None)
        if key in merged:
            merged[key]["verbs"].extend(_field(rule, "verbs"))
        else:
            merged[key] = {k: list(v) for k, v in rule.items()}
            out.append(merged[key])
    return out


def _compact_string(rule: Mapping[str, Any]) -> str:
    parts = [f"{label}:{go_quote_list(_field(rule, key))}" for label, key in
             (("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
              ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


# -- reviews (kubectl auth can-i) ------------------------------------------------------
class _GoStruct:
    """A value that Go's field errors print raw (``%#v`` of a struct)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def access_review(authorizer: Authorizer, user: UserInfo, spec: Mapping[str, Any],
                  kind: str = "SelfSubjectAccessReview") -> dict[str, Any]:
    """The ``status`` of a (Self)SubjectAccessReview: ``allowed``, ``reason`` when there is one.

    ``spec`` holds exactly one of ``resourceAttributes`` / ``nonResourceAttributes``
    (422 otherwise, named after ``kind``).
    """
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    problems: list[FieldError] = []
    if kind == "SubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
        problems.append(FieldError("spec.user", "FieldValueInvalid", "at least one of user or group must be specified",
                                   spec.get("user") or ""))
    if resource is not None and non_resource is not None:
        shown = _GoStruct(f'authorization.NonResourceAttributes{{Path:{_q(str(non_resource.get("path", "")))}, '
                          f'Verb:{_q(str(non_resource.get("verb", "")))}}}')
        problems.append(FieldError("spec.nonResourceAttributes", "FieldValueInvalid",
                                   "cannot be specified in combination with resourceAttributes", shown))
    if resource is None and non_resource is None:
        problems.append(FieldError("spec.resourceAttributes", "FieldValueInvalid",
                                   "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                                   "null"))
    if problems:
        raise invalid(kind, "authorization.k8s.io", "", problems)
    if resource is not None:
        attrs = RequestAttributes(user=user, verb=str(resource.get("verb", "")),
                                  api_group=str(resource.get("group", "")),
                                  resource=str(resource.get("resource", "")),
                                  subresource=str(resource.get("subresource", "")),
                                  namespace=str(resource.get("namespace", "")), name=str(resource.get("name", "")))
    else:
        attrs = RequestAttributes(user=user, verb=str(non_resource.get("verb", "")), resource_request=False,
                                  path=str(non_resource.get("path", "")))
    decision = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def rules_review(authorizer: Authorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    """The ``status`` of a SelfSubjectRulesReview (``kubectl auth can-i --list``) in ``namespace``."""
    if not namespace:
        raise bad_request("no namespace on request")
    rules, errors = authorizer.rules_for(user, namespace)
    status: dict[str, Any] = {
        "resourceRules": [
            {key: _field(rule, key) for key in ("verbs", "apiGroups", "resources", "resourceNames")
             if key == "verbs" or rule.get(key)}
            for rule in rules if rule.get("resources")],
        "nonResourceRules": [{"verbs": _field(rule, "verbs"), "nonResourceURLs": _field(rule, "nonResourceURLs")}
                             for rule in rules if rule.get("nonResourceURLs")],
        "incomplete": False,
    }
    if errors:
        status["evaluationError"] = _aggregate_errors(errors)
    return status


# -- impersonation (kubectl --as / --as-group) ------------------------------------------------
IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_EXTRA_PREFIX = "Impersonate-Extra-"


def impersonate(authorizer: Authorizer, requester: UserInfo, headers: list[tuple[str, str]]) -> UserInfo:
    """The user a request acts as after its ``Impersonate-*`` headers (the requester when there are none).

    Each impersonated identity needs the ``impersonate`` verb on ``users``,
    ``groups``, ``serviceaccounts`` (in their namespace), ``uids`` or
    ``userextras/<key>`` (authentication.k8s.io); otherwise this raises the
    403 the apiserver sends, e.g. ``users "admin" is forbidden: User "x"
    cannot impersonate resource "users" in API group "" at the cluster scope``.
    ``headers`` is every request header as (name, value) pairs.
    """
    user_name = next((v for k, v in headers if k.lower() == IMPERSONATE_USER.lower()), "")
    groups_asked = [v for k, v in headers if k.lower() == IMPERSONATE_GROUP.lower()]
    uid = next((v for k, v in headers if k.lower() == IMPERSONATE_UID.lower()), "")
    extras: dict[str, list[str]] = {}
    for key, value in headers:
        if key.lower().startswith(IMPERSONATE_EXTRA_PREFIX.lower()):
            extras.setdefault(key[len(IMPERSONATE_EXTRA_PREFIX):].lower(), []).append(value)
    if not user_name:
        if groups_asked or extras or uid:
            # Go prints each requested v1.ObjectReference with %v (seven space-separated fields).
            refs = [f"{{Group  {g}    }}" for g in groups_asked]
            refs += [f"{{UserExtra  {v}  authentication.k8s.io/v1  {k}}}" for k, vs in extras.items() for v in vs]
            refs += [f"{{UID  {uid}  authentication.k8s.io/v1  }}"] if uid else []
            raise internal(f"requested [{' '.join(refs)}] without impersonating a user")
        return requester
    checks: list[RequestAttributes] = []
    account = split_service_account_username(user_name)
    if account is not None:
        checks.append(RequestAttributes(user=requester, verb="impersonate", resource="serviceaccounts",
                                        namespace=account[0], name=account[1]))
    else:
        checks.append(RequestAttributes(user=requester, verb="impersonate", resource="users", name=user_name))
    checks += [RequestAttributes(user=requester, verb="impersonate", resource="groups", name=g) for g in groups_asked]
    checks += [RequestAttributes(user=requester, verb="impersonate", api_group="authentication.k8s.io",
                                 resource="userextras", subresource=key, name=value)
               for key, values in extras.items() for value in values]
    if uid:
        checks.append(RequestAttributes(user=requester, verb="impersonate", api_group="authentication.k8s.io",
                                        resource="uids", name=uid))
    for attrs in checks:
        decision = authorizer.authorize(attrs)
        if not decision.allowed:
            raise forbidden_error(attrs, decision)
    groups = list(groups_asked)
    if not groups_asked:
        if account is not None:
            groups = service_account_groups(account[0])
        if user_name != "system:anonymous" and AUTHENTICATED_GROUP not in groups \
                and UNAUTHENTICATED_GROUP not in groups:
            groups.append(AUTHENTICATED_GROUP)
    return UserInfo(username=user_name, uid=uid, groups=groups, extra=extras)


# -- bootstrap policy ---------------------------------------------------------------------------
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_READ_WRITE = sorted(_READ + _WRITE)
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None,
          urls: list[str] | None = None) -> Rule:
    """A rule as the bootstrap policy builds it (every list sorted)."""
    rule: Rule = {"verbs": sorted(set(verbs))}
    if groups is not None:
        rule["apiGroups"] = sorted(set(groups))
    if resources is not None:
        rule["resources"] = sorted(set(resources))
    if urls is not None:
        rule["nonResourceURLs"] = sorted(set(urls))
    return rule


def _cluster_role(name: str, rules: list[Rule], *, labels: dict[str, str] | None = None,
                  aggregate_from: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**_BOOTSTRAP_LABELS, **(labels or {})}, "annotations": dict(_AUTOUPDATE)},
    }
    if aggregate_from is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {_AGGREGATE_TO + aggregate_from: "true"}}]}
    role["rules"] = rules
    return role


def _cluster_role_binding(name: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS), "annotations": dict(_AUTOUPDATE)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "Group", "apiGroup": RBAC_GROUP, "name": g} for g in groups],
    }


def _view_rules() -> list[Rule]:
    return [
        _rule(_READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                            "services", "services/status", "endpoints", "persistentvolumeclaims",
                            "persistentvolumeclaims/status", "configmaps"]),
        _rule(_READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                            "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                            "pods/log"]),
        _rule(_READ, [""], ["namespaces"]),
        _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
        _rule(_READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                                "daemonsets", "daemonsets/status", "deployments", "deployments/status",
                                "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"]),
        _rule(_READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        _rule(_READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        _rule(_READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                      "deployments/status", "ingresses", "ingresses/status", "replicasets",
                                      "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
                                      "networkpolicies"]),
        _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        _rule(_READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
    ]


def _edit_rules() -> list[Rule]:
    return [
        _rule(_READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                            "services/proxy"]),
        _rule(["impersonate"], [""], ["serviceaccounts"]),
        _rule(_WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        _rule(["create"], [""], ["pods/eviction"]),
        _rule(_WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                             "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
        _rule(["create"], [""], ["serviceaccounts/token"]),
        _rule(_WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                                 "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"]),
        _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        _rule(_WRITE, ["batch"], ["jobs", "cronjobs"]),
        _rule(_WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                                       "ingresses", "replicasets", "replicasets/scale",
                                       "replicationcontrollers/scale", "networkpolicies"]),
        _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
        _rule(_WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
        _rule(_READ_WRITE, ["coordination.k8s.io"], ["leases"]),
    ]


def bootstrap_policy() -> list[dict[str, Any]]:
    """The ClusterRoles and ClusterRoleBindings of a fresh cluster that matter to its users.

    ``cluster-admin`` (bound to ``system:masters``); the aggregated
    ``admin``/``edit``/``view`` with the ``system:aggregate-to-*`` roles they
    gather (their ``rules`` already aggregated, as the controller leaves them;
    ``view`` has no Secrets); ``system:basic-user`` (self reviews),
    ``system:discovery`` and ``system:public-info-viewer`` (``/version``,
    ``/api``, ``/apis``, ``/openapi``, health), ``system:monitoring`` and
    ``system:service-account-issuer-discovery`` with their bindings; and
    metrics-server's ``system:aggregated-metrics-reader`` (so ``view`` can
    ``kubectl top``), since the cluster serves ``metrics.k8s.io``.
    """
    every = {_AGGREGATE_TO + level: "true" for level in ("admin", "edit", "view")}
    roles = [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])]),
        _cluster_role("admin", [], aggregate_from="admin"),
        _cluster_role("edit", [], labels={_AGGREGATE_TO + "admin": "true"}, aggregate_from="edit"),
        _cluster_role("view", [], labels={_AGGREGATE_TO + "edit": "true"}, aggregate_from="view"),
        _cluster_role("system:aggregate-to-admin", [
            _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
            _rule(_READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
        ], labels={_AGGREGATE_TO + "admin": "true"}),
        _cluster_role("system:aggregate-to-edit", _edit_rules(), labels={_AGGREGATE_TO + "edit": "true"}),
        _cluster_role("system:aggregate-to-view", _view_rules(), labels={_AGGREGATE_TO + "view": "true"}),
        _cluster_role("system:basic-user", [
            _rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        ]),
        _cluster_role("system:discovery", [_rule(["get"], urls=[
            "/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*",
            "/api", "/api/*", "/apis", "/apis/*"])]),
        _cluster_role("system:public-info-viewer", [_rule(["get"], urls=[
            "/livez", "/readyz", "/healthz", "/version", "/version/"])]),
        _cluster_role("system:monitoring", [_rule(["get"], urls=[
            "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*", "/healthz/*"])]),
        _cluster_role("system:service-account-issuer-discovery", [_rule(["get"], urls=[
            "/.well-known/openid-configuration", "/openid/v1/jwks"])]),
    ]
    metrics_reader = {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:aggregated-metrics-reader", "labels": {"k8s-app": "metrics-server", **every}},
        "rules": [{"verbs": _READ, "apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"]}],
    }
    roles.append(metrics_reader)
    for role in roles:
        if "aggregationRule" in role:
            role["rules"] = aggregate_rules(role, roles)
    bindings = [
        _cluster_role_binding("cluster-admin", [MASTERS_GROUP]),
        _cluster_role_binding("system:basic-user", [AUTHENTICATED_GROUP]),
        _cluster_role_binding("system:discovery", [AUTHENTICATED_GROUP]),
        _cluster_role_binding("system:public-info-viewer", [AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP]),
        _cluster_role_binding("system:monitoring", ["system:monitoring"]),
        _cluster_role_binding("system:service-account-issuer-discovery", ["system:serviceaccounts"]),
    ]
    return [*roles, *bindings]
