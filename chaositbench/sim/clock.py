"""Wall-clock helpers in the formats the Kubernetes API uses."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(when: datetime | None = None) -> str:
    """``2026-11-25T13:05:53Z``: seconds precision, as metav1.Time serializes."""
    return (when or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(when: datetime | None = None) -> str:
    """``2026-11-25T13:05:53.123456Z``: metav1.MicroTime (events, leases, managedFields)."""
    return (when or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp as the API writes it; None when absent or malformed."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
