"""Cron schedules as the CronJob controller reads them (standard five fields).

``minute hour day-of-month month day-of-week`` with ``*``/``?``, values,
ranges ``a-b``, steps ``*/n``, ``a-b/n`` and ``a/n``, comma lists, month and
weekday names (``JAN``, ``mon``...), and the descriptors ``@yearly``,
``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``,
``@hourly`` and ``@every <duration>``. As in the scheduling library Kubernetes
uses, when both day fields are restricted a day matching either one runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: (low, high, names) of minute, hour, day of month, month, day of week
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 6, WEEKDAYS))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
#: how far ahead a schedule is searched before it is declared never to fire
SEARCH_YEARS = 5


class ScheduleError(ValueError):
    """An unparseable schedule; ``str(err)`` says why, as the library words it."""


@dataclass(frozen=True)
class Field:
    """One parsed field: the values it allows, and whether it was written as a wildcard."""

    values: frozenset[int]
    star: bool  # written as * or ? (possibly with a step): relevant for the day-of-month/week rule


def _number(text: str, names: dict[str, int], low: int, high: int) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise ScheduleError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
        value = int(text)
    if value < low:
        raise ScheduleError(f"beginning of range ({value}) below minimum ({low}): {text}")
    if value > high:
        raise ScheduleError(f"end of range ({value}) above maximum ({high}): {text}")
    return value


def _parse_field(text: str, low: int, high: int, names: dict[str, int]) -> Field:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        range_part, _, step_text = part.partition("/")
        if range_part in ("*", "?"):
            start, end, star = low, high, True
        elif "-" in range_part:
            first, _, last = range_part.partition("-")
            start, end = _number(first, names, low, high), _number(last, names, low, high)
        else:
            start = _number(range_part, names, low, high)
            end = high if step_text else start
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"step of range should be a positive number: {part}")
            step = int(step_text)
        if start > end:
            raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        values.update(range(start, end + 1, step))
    return Field(frozenset(values), star)


def parse_duration(text: str) -> timedelta:
    """A Go duration (``1h30m``, ``90s``) as ``@every`` takes it."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ScheduleError(f"failed to parse duration @every {text}: time: invalid duration {text!r}")
    return timedelta(seconds=total)


class Schedule:
    """A parsed schedule in a time zone; :meth:`next_after` gives the next firing time."""

    def __init__(self, fields: tuple[Field, ...] | None, every: timedelta | None, zone: tzinfo) -> None:
        self.fields, self.every, self.zone = fields, every, zone

    def next_after(self, when: datetime) -> datetime:
        """The first firing time strictly after ``when``."""
        if self.every is not None:
            step = max(self.every, timedelta(seconds=1))
            return when.replace(microsecond=0) + step
        minute, hour, dom, month, dow = self.fields or ()
        t = when.astimezone(self.zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = t.year + SEARCH_YEARS
        while t.year <= horizon:
            if t.month not in month.values:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t, dom, dow):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in hour.values:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in minute.values:
                t += timedelta(minutes=1)
            else:
                return t
        raise ScheduleError("schedule never fires")

    @staticmethod
    def _day_matches(t: datetime, dom: Field, dow: Field) -> bool:
        dom_ok = t.day in dom.values
        dow_ok = (t.weekday() + 1) % 7 in dow.values
        if dom.star or dow.star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok


def zone_of(name: str | None) -> tzinfo:
    """The zone of ``spec.timeZone`` (the controller's local zone, UTC here, when unset)."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleError(f"unknown time zone {name}") from err


def parse_schedule(text: str, time_zone: str | None = None) -> Schedule:
    """Parse a CronJob ``schedule`` (and optional ``timeZone``)."""
    zone = zone_of(time_zone)
    spec = text.strip()
    if spec.startswith("@every "):
        return Schedule(None, parse_duration(spec[len("@every "):].strip()), zone)
    if spec.startswith("@"):
        if spec.lower() not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec.lower()]
    parts = spec.split()
    if len(parts) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(parts)}: {text}")
    fields = tuple(_parse_field(part, low, high, names) for part, (low, high, names) in zip(parts, FIELDS))
    return Schedule(fields, None, zone)
