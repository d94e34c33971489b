"""Kubernetes API errors as real ``Status`` objects.

Every failure the simulated API server reports is an :class:`APIError` carrying
the HTTP code, the ``reason`` and the ``message`` a real kube-apiserver would
send, so that kubectl prints e.g. ``Error from server (NotFound): pods "x" not
found`` and client libraries raise their usual exceptions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldError:
    """One field-level validation failure (a ``StatusCause``)."""

    field: str
    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    detail: str
    value: Any = None

    #: Human text for each cause reason, as the apimachinery field errors print them.
    _TEXT = {
        "FieldValueRequired": "Required value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueNotFound": "Not found",
        "FieldValueTooLong": "Too long",
        "FieldValueTypeInvalid": "Invalid value",
    }

    def message(self) -> str:
        """The ``field: Type: detail`` text used in the aggregate Invalid message."""
        if self.reason == "FieldValueInvalid":
            body = f"Invalid value: {_render_value(self.value)}: {self.detail}"
        elif self.reason == "FieldValueNotSupported":
            body = f"Unsupported value: {_render_value(self.value)}: {self.detail}"
        else:
            text = self._TEXT.get(self.reason, self.reason)
            body = f"{text}: {self.detail}" if self.detail else text
        return f"{self.field}: {body}"

    def cause(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message().split(": ", 1)[1], "field": self.field}


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class APIError(Exception):
    """An error answered to the client as a ``metav1.Status`` object."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        """The JSON body of the error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """``pods`` or ``deployments.apps``: how messages name a resource."""
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(resource: str, group: str, name: str) -> APIError:
    return APIError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                    _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> APIError:
    return APIError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                    _details(name, group, resource))


def conflict(resource: str, group: str, name: str, why: str | None = None) -> APIError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return APIError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
                    _details(name, group, resource))


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> APIError:
    """422 Invalid, aggregating field errors as apimachinery does."""
    messages = [e.message() for e in errors]
    joined = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errors]
    qualified_kind = f"{kind}.{group}" if group else kind
    return APIError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {joined}', details)


def forbidden(resource: str, group: str, name: str | None, why: str) -> APIError:
    """403 Forbidden; ``why`` is the authorizer's sentence (``User "x" cannot ...``).

    ``resource`` is the plural without any subresource (``pods "x" is forbidden:
    ... cannot get resource "pods/log" ...``); an empty ``resource`` and
    ``group`` (a non-resource path) gives ``forbidden: User "x" cannot get path ...``.
    """
    if not resource and not group:
        return APIError(403, "Forbidden", f"forbidden: {why}")
    subject = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return APIError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, group, resource))


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> APIError:
    return APIError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json',
                    {})


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def resource_not_found() -> APIError:
    """404 for a path the server does not serve (unknown resource type)."""
    return APIError(404, "NotFound", "the server could not find the requested resource")


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}")
