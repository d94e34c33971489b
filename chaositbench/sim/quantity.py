"""Kubernetes resource quantities (``100m``, ``1Gi``, ``1e3``, ``1.5G``).

Values are exact :class:`fractions.Fraction` numbers, parsed and printed the
way ``k8s.io/apimachinery/pkg/api/resource.Quantity`` does:

* a quantity is ``<signed number><suffix>`` where the suffix is a decimal SI
  prefix (``n u m "" k M G T P E``), a binary SI prefix (``Ki Mi Gi Ti Pi Ei``)
  or a decimal exponent (``e3``, ``E-2``);
* non-zero values are rounded up (away from zero) to nanounits;
* the canonical text keeps the kind of suffix that was parsed, uses the largest
  suffix that loses no precision and never prints a fraction, so ``1.5`` is
  ``1500m``, ``1.5Gi`` is ``1536Mi`` and ``1000`` is ``1k``.

Controllers and the scheduler compare capacities with :func:`cpu_millis` and
:func:`bytes_of`; the API server canonicalises stored quantities with
:func:`canonical_quantity`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Mapping

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

#: The exact texts of the errors ``resource.ParseQuantity`` returns.
FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = 10 ** 9

QuantityLike = str | int | float | Fraction


class QuantityError(ValueError):
    """A malformed quantity; ``str(err)`` is the text the API server reports."""


def _scan(text: str) -> tuple[bool, str, str, str]:
    """Split ``text`` into sign, integer digits, fraction digits and suffix."""
    pos, end = 0, len(text)
    positive = True
    if pos < end and text[pos] in "+-":
        positive = text[pos] == "+"
        pos += 1
    start = pos
    while pos < end and text[pos].isdigit():
        pos += 1
    whole = text[start:pos]
    fraction = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit():
            pos += 1
        fraction = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit():
        pos += 1
    if pos != end:
        raise QuantityError(FORMAT_ERROR)
    return positive, whole, fraction, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, as the apimachinery suffixer reads it."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), DECIMAL_EXPONENT
        except ValueError:
            pass
    raise QuantityError(SUFFIX_ERROR)


def parse_quantity_with_format(text: str) -> tuple[Fraction, str]:
    """Parse ``text``; returns the exact value and the suffix format it was written in."""
    if not isinstance(text, str) or not text:
        raise QuantityError(FORMAT_ERROR)
    positive, whole, fraction, suffix = _scan(text)
    base, exponent, fmt = _interpret_suffix(suffix)
    magnitude = _round_away(Fraction(int(whole + fraction or "0"), 10 ** len(fraction)) * Fraction(base) ** exponent,
                            _NANO)
    if fmt == BINARY_SI and 0 < magnitude < 1:
        fmt = DECIMAL_SI
    return (magnitude if positive else -magnitude), fmt


def parse_quantity(value: QuantityLike) -> Fraction:
    """The exact value of a quantity given as API text (or a JSON number)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise QuantityError(FORMAT_ERROR)
    if isinstance(value, (int, float)):
        value = repr(value)
    return parse_quantity_with_format(value)[0]


def _round_away(value: Fraction, per_unit: int) -> Fraction:
    """``value`` rounded away from zero to a multiple of ``1/per_unit``."""
    scaled = value * per_unit
    if scaled.denominator == 1:
        return value
    steps = math.ceil(abs(scaled))
    return Fraction(steps if value > 0 else -steps, per_unit)


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """``value`` (positive, at most nanounit precision) as ``mantissa * 10**exponent``
    with the exponent a multiple of three and no avoidable trailing zeros."""
    mantissa, exponent = int(value * _NANO), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    return mantissa * 10 ** shift, exponent - shift


def format_quantity(value: Fraction | int, fmt: str = DECIMAL_SI) -> str:
    """The canonical text of ``value`` in format ``fmt`` (``DecimalSI``, ``BinarySI``
    or ``DecimalExponent``)."""
    value = _round_away(Fraction(value), _NANO)
    if value == 0:
        return "0"
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    if fmt == BINARY_SI and magnitude >= 1024 and magnitude.denominator == 1:
        mantissa, power = int(magnitude), 0
        while mantissa % 1024 == 0 and power < 60:
            mantissa //= 1024
            power += 10
        return f"{sign}{mantissa}{_BINARY_BY_EXPONENT.get(power, '')}"
    mantissa, exponent = _decimal_parts(magnitude)
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent > 18:
        mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
    return f"{sign}{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


def canonical_quantity(value: QuantityLike) -> str:
    """The text the API server stores for a quantity (``0.5`` → ``500m``)."""
    if isinstance(value, str):
        number, fmt = parse_quantity_with_format(value)
        return format_quantity(number, fmt)
    return format_quantity(parse_quantity(value))


def round_up_to_milli(value: QuantityLike) -> str:
    """Canonical text after the API server's resource-list rounding to milliunits."""
    if isinstance(value, str):
        number, fmt = parse_quantity_with_format(value)
    else:
        number, fmt = parse_quantity(value), DECIMAL_SI
    return format_quantity(_round_away(number, 1000), fmt)


def cpu_millis(value: QuantityLike) -> int:
    """Millicores of a CPU quantity, rounded up like ``Quantity.MilliValue``."""
    return math.ceil(parse_quantity(value) * 1000)


def bytes_of(value: QuantityLike) -> int:
    """The integer value of a quantity (bytes for memory), rounded up like ``Quantity.Value``."""
    return math.ceil(parse_quantity(value))


def container_limit(container: Mapping[str, Any], resource: str) -> Fraction | None:
    """A container spec's limit of ``resource`` (``cpu``, ``memory``, ...), if it has a valid one."""
    raw = ((container.get("resources") or {}).get("limits") or {}).get(resource)
    try:
        return parse_quantity(str(raw)) if raw is not None else None
    except QuantityError:
        return None


def memory_limit(container: Mapping[str, Any]) -> int | None:
    """A container spec's memory limit in bytes (rounded up like ``Quantity.Value``), if it has one."""
    limit = container_limit(container, "memory")
    return None if limit is None else math.ceil(limit)


def cpu_limit(container: Mapping[str, Any]) -> float | None:
    """A container spec's CPU limit in millicores (rounded up like ``Quantity.MilliValue``), if it has one."""
    limit = container_limit(container, "cpu")
    return None if limit is None else float(math.ceil(limit * 1000))
