"""API semantics of stored resources: the generic registry behind every kind.

:class:`ResourceAPI` is what the HTTP layer and the controllers both call, so a
controller acts exactly as a client would: create/update/patch/delete go
through defaulting, validation, admission, optimistic concurrency, the
status/spec split, ``generation`` bookkeeping, finalizers and graceful deletion.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from . import clock
from .errors import (APIError, FieldError, already_exists, bad_request, conflict, forbidden, invalid, not_found)
from .kinds import Kind, preferred
from .selectors import LabelSelector, parse_field_selector, parse_label_selector
from .conversion import from_storage, storage_kind, to_storage
from .store import Obj, Store

NAMESPACES = preferred("", "Namespace")

#: Kinds whose DELETE answers with the deleted object instead of a Success Status.
_RETURNS_DELETED_OBJECT = {"Pod", "Namespace", "Service"}
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class Admission(Protocol):
    """An admission step: may mutate ``obj`` or raise an APIError. ``old`` is None on create."""

    def __call__(self, api: "ResourceAPI", kind: Kind, obj: Obj, old: Obj | None) -> None: ...


@dataclass
class Hooks:
    """Per-cluster plug points: decoding checks, update preparation, defaulting, validation, admission."""

    #: raise the 400 of a body that cannot be decoded into the kind (bad quantities, bad base64)
    decoders: list[Callable[[Kind, Obj], None]] = field(default_factory=list)
    #: on update, before defaulting: carry over server-allocated fields the client left out
    update_preparers: list[Callable[[Obj, Obj], None]] = field(default_factory=list)
    defaults: list[Callable[[Kind, Obj], None]] = field(default_factory=list)
    validators: list[Callable[[Kind, Obj, Obj | None], list[FieldError]]] = field(default_factory=list)
    admission: list[Admission] = field(default_factory=list)


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(n))


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(raw["rv"]), (str(raw["start"][0]), str(raw["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")


def _spec_of(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class ResourceAPI:
    """CRUD with Kubernetes semantics over a :class:`Store`."""

    def __init__(self, store: Store, hooks: Hooks | None = None) -> None:
        self.store = store
        self.hooks = hooks or Hooks()

    # -- reads ---------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self.store.get(kind.storage_key, namespace if kind.namespaced else "", name)
        if obj is None:
            raise not_found(kind.plural, kind.group, name)
        return from_storage(kind, obj)

    def try_get(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        obj = self.store.get(kind.storage_key, namespace if kind.namespaced else "", name)
        return None if obj is None else from_storage(kind, obj)

    def list(self, kind: Kind, namespace: str | None = None, *, label_selector: str | LabelSelector | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_token: str | None = None) -> tuple[list[Obj], dict[str, Any]]:
        """Objects and ListMeta (resourceVersion, continue, remainingItemCount)."""
        labels = label_selector if isinstance(label_selector, LabelSelector) else parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, kind.storage_key)
        items = self.store.list(kind.storage_key, namespace if kind.namespaced else None)
        rv = self.store.rv
        if continue_token:
            rv, after = _decode_continue(continue_token)
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        matched = [o for o in items if labels.matches(o["metadata"].get("labels")) and fields(o)]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and limit > 0 and len(matched) > limit:
            last = matched[limit - 1]["metadata"]
            meta["continue"] = _encode_continue(rv, (last.get("namespace", ""), last["name"]))
            meta["remainingItemCount"] = len(matched) - limit
            matched = matched[:limit]
        return [from_storage(kind, o) for o in matched], meta

    # -- create --------------------------------------------------------------
    def create(self, kind: Kind, namespace: str, body: Obj, *, dry_run: bool = False) -> Obj:
        obj = copy.deepcopy(body)
        self._check_type(kind, obj)
        if storage_kind(kind) is not kind:
            return from_storage(kind, self.create(storage_kind(kind), namespace, to_storage(kind, obj),
                                                  dry_run=dry_run))
        if obj.get("metadata") is None:
            obj["metadata"] = {}  # "metadata": null decodes as empty ObjectMeta
        meta = obj["metadata"]
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        self._check_namespace(kind, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{random_suffix()}"
        if not meta.get("name"):
            raise invalid(kind.kind, kind.group, "",
                          [FieldError("metadata.name", "FieldValueRequired", "name or generateName is required")])
        if kind.namespaced:
            self._check_namespace_alive(namespace, kind)
        for stale in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(stale, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = clock.rfc3339()
        if kind.has_status or kind.kind == "NetworkPolicy":
            meta["generation"] = 1
        if kind.has_status and kind.kind not in ("Pod", "Node", "Namespace", "Service", "PersistentVolumeClaim"):
            obj.pop("status", None)
        self._default_validate_admit(kind, obj, None)
        if self.store.get(kind.storage_key, meta.get("namespace", ""), meta["name"]) is not None:
            raise already_exists(kind.plural, kind.group, meta["name"])
        if dry_run:
            return obj
        return self.store.put(kind.storage_key, obj, "ADDED")

    # -- update --------------------------------------------------------------
    def update(self, kind: Kind, namespace: str, name: str, body: Obj, *, subresource: str | None = None,
               dry_run: bool = False) -> Obj:
        """PUT semantics: ``resourceVersion`` in the body is a precondition (409 when stale)."""
        self._check_type(kind, body)
        if storage_kind(kind) is not kind:
            return from_storage(kind, self.update(storage_kind(kind), namespace, name, to_storage(kind, body),
                                                  subresource=subresource, dry_run=dry_run))
        old = self.get(kind, namespace, name)
        meta_in = body.get("metadata")
        if meta_in is None:
            meta_in = {}  # "metadata": null decodes as empty ObjectMeta
        elif not isinstance(meta_in, dict):
            raise bad_request("metadata must be an object")
        if meta_in.get("name") not in (None, name):
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (meta_in.get("name"), name))
        if kind.namespaced and meta_in.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        sent_rv = meta_in.get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name)
        if meta_in.get("uid") and meta_in["uid"] != old["metadata"]["uid"]:
            raise conflict(kind.plural, kind.group, name,
                           f"Precondition failed: UID in precondition: {meta_in['uid']}, "
                           f"UID in object meta: {old['metadata']['uid']}")
        new = self._merge_update(kind, old, body, subresource)
        return self._commit_update(kind, old, new, dry_run=dry_run)

    def _merge_update(self, kind: Kind, old: Obj, body: Obj, subresource: str | None) -> Obj:
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(body.get("status"))
            if new["status"] is None:
                new.pop("status")
            return new
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        if new.get("metadata") is None:
            new["metadata"] = {}
        meta = new["metadata"]
        for fixed in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
            else:
                meta.pop(fixed, None)
        if kind.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        return new

    def _commit_update(self, kind: Kind, old: Obj, new: Obj, *, dry_run: bool = False) -> Obj:
        meta = new["metadata"]
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._default_validate_admit(kind, new, old)
        if "generation" in old["metadata"] and _spec_of(new) != _spec_of(old):
            meta["generation"] = old["metadata"]["generation"] + 1
        if self._deletion_complete(kind, new):
            if dry_run:
                return new
            return self.store.delete(kind.storage_key, new)
        if new == old or dry_run:
            return old if new == old else new
        return self.store.put(kind.storage_key, new, "MODIFIED")

    @staticmethod
    def _deletion_complete(kind: Kind, obj: Obj) -> bool:
        """A terminating object goes once no finalizer (nor a namespace's spec finalizer) nor grace period holds it."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers") or meta.get("deletionGracePeriodSeconds"):
            return False
        return not (kind.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"))

    def replace_object(self, kind: Kind, new: Obj, *, subresource: str | None = None) -> Obj:
        """Controller-side update of an object read from the store (precondition: its resourceVersion)."""
        meta = new["metadata"]
        return self.update(kind, meta.get("namespace", ""), meta["name"], new, subresource=subresource)

    def patch_object(self, kind: Kind, namespace: str, name: str, mutate: Callable[[Obj], None], *,
                     subresource: str | None = None, retries: int = 5) -> Obj:
        """Read-modify-write with retry on conflict (what client-go's RetryOnConflict does)."""
        for attempt in range(retries):
            current = copy.deepcopy(self.get(kind, namespace, name))
            mutate(current)
            try:
                return self.update(kind, namespace, name, current, subresource=subresource)
            except APIError as err:
                if err.code != 409 or attempt == retries - 1:
                    raise
        raise AssertionError("unreachable")

    # -- delete --------------------------------------------------------------
    def delete(self, kind: Kind, namespace: str, name: str, *, propagation: str | None = None,
               grace_period: int | None = None, preconditions: dict[str, Any] | None = None,
               dry_run: bool = False) -> Obj:
        """DELETE: finalizers and graceful pod deletion leave the object terminating."""
        if storage_kind(kind) is not kind:
            return from_storage(kind, self.delete(storage_kind(kind), namespace, name, propagation=propagation,
                                                  grace_period=grace_period, preconditions=preconditions,
                                                  dry_run=dry_run))
        obj = self.get(kind, namespace, name)
        meta = obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise conflict(kind.plural, kind.group, name,
                           f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name,
                           f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                           f"ResourceVersion in object meta: {meta['resourceVersion']}")
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise invalid("DeleteOptions", "meta.k8s.io", "", [FieldError(
                "propagationPolicy", "FieldValueNotSupported", 'supported values: "Foreground", "Background", "Orphan", "nil"',
                propagation)])
        new = copy.deepcopy(obj)
        nmeta = new["metadata"]
        finalizers = list(nmeta.get("finalizers") or [])
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        graceful = self._grace_period(kind, obj, grace_period)
        if not finalizers and not graceful and not (kind.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers")):
            if dry_run:
                return obj
            return self.store.delete(kind.storage_key, obj)
        if nmeta.get("deletionTimestamp"):
            if graceful is not None and graceful < (nmeta.get("deletionGracePeriodSeconds") or 0):
                nmeta["deletionGracePeriodSeconds"] = graceful
            elif finalizers == list(nmeta.get("finalizers") or []):
                return obj
        else:
            nmeta["deletionTimestamp"] = clock.rfc3339()
            nmeta["deletionGracePeriodSeconds"] = graceful or 0
        if finalizers:
            nmeta["finalizers"] = finalizers
        if kind.kind == "Namespace":
            new.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return new
        return self.store.put(kind.storage_key, new, "MODIFIED")

    @staticmethod
    def _grace_period(kind: Kind, obj: Obj, requested: int | None) -> int | None:
        """Pods on a node terminate gracefully; everything else goes at once."""
        if kind.kind != "Pod" or not (obj.get("spec") or {}).get("nodeName"):
            return None
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return None
        if requested is not None:
            return requested if requested > 0 else None
        return int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    def assign_node(self, kind: Kind, namespace: str, name: str, node: str) -> Obj:
        """The ``pods/binding`` storage path: set spec.nodeName of an unbound pod (no update validation)."""
        pod = self.get(kind, namespace, name)
        if (pod.get("spec") or {}).get("nodeName"):
            raise conflict(kind.plural, kind.group, name,
                           f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"')
        if pod["metadata"].get("deletionTimestamp"):
            raise conflict(kind.plural, kind.group, name, f"pod {name} is being deleted, cannot be assigned to a host")
        bound = copy.deepcopy(pod)
        bound.setdefault("spec", {})["nodeName"] = node
        status = bound.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": clock.rfc3339()})
        status["conditions"] = conditions
        return self.store.put(kind.storage_key, bound, "MODIFIED")

    def deletion_response(self, kind: Kind, deleted: Obj) -> Obj:
        """The body a DELETE answers: the object for some kinds, a Success Status otherwise."""
        if kind.kind in _RETURNS_DELETED_OBJECT or deleted["metadata"].get("deletionTimestamp"):
            return deleted
        details = {"name": deleted["metadata"]["name"], "kind": kind.plural, "uid": deleted["metadata"]["uid"]}
        if kind.group:
            details = {"name": details["name"], "group": kind.group, "kind": kind.plural, "uid": details["uid"]}
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def remove_finalizer(self, kind: Kind, obj: Obj, finalizer: str) -> Obj | None:
        """Drop one finalizer; the object goes away if it was terminating and had no other."""
        meta = obj["metadata"]
        current = self.try_get(kind, meta.get("namespace", ""), meta["name"])
        if current is None or finalizer not in (current["metadata"].get("finalizers") or []):
            return current
        new = copy.deepcopy(current)
        new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"] if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        return self._commit_update(kind, current, new)

    def finish_delete(self, kind: Kind, obj: Obj) -> None:
        """Remove a terminating object whose grace period is over (the kubelet's final delete)."""
        meta = obj["metadata"]
        current = self.try_get(kind, meta.get("namespace", ""), meta["name"])
        if current is not None and current["metadata"]["uid"] == meta["uid"] and not current["metadata"].get("finalizers"):
            self.store.delete(kind.storage_key, current)

    # -- helpers -------------------------------------------------------------
    def _check_type(self, kind: Kind, obj: Obj) -> None:
        if not isinstance(obj, dict):
            raise bad_request("Object 'Kind' is missing in the request body")
        api_version, obj_kind = obj.get("apiVersion"), obj.get("kind")
        if obj_kind and obj_kind != kind.kind:
            raise bad_request(f"the kind of the object ({obj_kind}) does not match the kind on the URL ({kind.kind})")
        if api_version and api_version != kind.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                              f"({kind.api_version})")
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind

    @staticmethod
    def _check_namespace(kind: Kind, namespace: str, meta: dict[str, Any]) -> None:
        if kind.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _check_namespace_alive(self, namespace: str, kind: Kind) -> None:
        ns = self.store.get(NAMESPACES.storage_key, "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp") or ns.get("status", {}).get("phase") == "Terminating":
            raise forbidden(kind.plural, kind.group, None,
                            f"unable to create new content in namespace {namespace} because it is being terminated")

    def _default_validate_admit(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        for decode in self.hooks.decoders:
            decode(kind, obj)
        if old is not None:
            for prepare in self.hooks.update_preparers:
                prepare(obj, old)
        for default in self.hooks.defaults:
            default(kind, obj)
        errors: list[FieldError] = []
        for validator in self.hooks.validators:
            errors.extend(validator(kind, obj, old))
        if errors:
            raise invalid(kind.kind, kind.group, obj["metadata"].get("name", ""), errors)
        for admit in self.hooks.admission:
            admit(self, kind, obj, old)
