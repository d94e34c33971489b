"""Container logs: what each container instance wrote, kept per restart like the kubelet does."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from . import clock

LogLine = tuple[datetime, str]


class LogBook:
    """Lines per (pod uid, container), one list per container instance (restart)."""

    def __init__(self, max_lines: int = 5000) -> None:
        self._instances: dict[tuple[str, str], list[list[LogLine]]] = defaultdict(list)
        self._max = max_lines

    def start_instance(self, pod_uid: str, container: str) -> None:
        """A new container instance begins; only the current and the previous one are kept."""
        instances = self._instances[(pod_uid, container)]
        instances.append([])
        del instances[:-2]

    def write(self, pod_uid: str, container: str, line: str, when: datetime | None = None) -> None:
        instances = self._instances[(pod_uid, container)]
        if not instances:
            instances.append([])
        current = instances[-1]
        current.append((when or clock.now(), line))
        del current[:-self._max]

    def read(self, pod_uid: str, container: str, *, previous: bool = False) -> list[LogLine] | None:
        """Lines of the current (or previous) instance; None when that instance never existed."""
        instances = self._instances.get((pod_uid, container), [])
        index = -2 if previous else -1
        if len(instances) < (2 if previous else 1):
            return None
        return list(instances[index])

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._instances if k[0] == pod_uid]:
            del self._instances[key]
