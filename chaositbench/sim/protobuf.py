"""Kubernetes protobuf request bodies, decoded into the objects their JSON encoding would carry.

Since client-go 1.31 the typed clientsets (and so kubectl's ``create namespace``,
``create deployment``, ``auth can-i``, ``create token``, eviction...) send request
bodies as ``application/vnd.kubernetes.protobuf``: the 4-byte magic ``k8s\\x00``
followed by a ``runtime.Unknown`` envelope whose ``typeMeta`` names the apiVersion
and kind and whose ``raw`` bytes are the protobuf encoding of the typed object.

Decoding is generic: a declarative table (``protobuf_messages.yaml``) gives, for
each message, its field numbers with JSON name, type and presence rules, and one
wire-format walker turns bytes into the JSON object, leaving out the zero values
``omitempty`` would drop. Only the well-known types with a JSON form of their own
(Time, MicroTime, IntOrString) have code; single-value wrappers (Quantity,
ExtraValue, RawExtension, FieldsV1) are declared ``unwrap`` in the table. Field
numbers the table does not know are skipped, as protobuf readers do.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Callable, Iterator

import yaml

from .errors import bad_request

#: The media type of Kubernetes protobuf bodies.
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
#: Every Kubernetes protobuf body starts with these bytes.
MAGIC = b"k8s\x00"

# Protobuf wire types.
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_SCALARS = {"bool": _VARINT, "int32": _VARINT, "int64": _VARINT, "string": _LENGTH, "bytes": _LENGTH,
            "json": _LENGTH}

# The runtime.Unknown envelope and its runtime.TypeMeta.
_UNKNOWN_TYPE_META, _UNKNOWN_RAW, _UNKNOWN_CONTENT_ENCODING, _UNKNOWN_CONTENT_TYPE = 1, 2, 3, 4
_TYPE_META_API_VERSION, _TYPE_META_KIND = 1, 2


class ProtobufError(ValueError):
    """The bytes are not a valid encoding of the expected message."""


@dataclass(frozen=True)
class FieldSpec:
    """One field of a message: where its value goes in the JSON object and how it is encoded."""

    number: int
    json_name: str
    type: str  # a scalar type of _SCALARS or a message name
    repeated: bool = False
    map_value: bool = False  # a map[string]<type>: repeated {key=1, value=2} entries
    keep: bool = False  # zero scalars are part of the JSON too
    inline: bool = False  # the message's fields merge into the enclosing object

    @property
    def scalar(self) -> bool:
        """Whether the field holds a scalar (else a message of the table)."""
        return self.type in _SCALARS


@dataclass(frozen=True)
class MessageSpec:
    """A message: its fields in declaration order, and how it maps to JSON."""

    name: str
    fields: dict[int, FieldSpec]
    unwrap: str | None = None  # JSON name of the one field the message stands for
    format: str | None = None  # a key of _FORMATS


@dataclass(frozen=True)
class MessageTable:
    """All known messages, and the message-name prefix of each API group."""

    groups: dict[str, str]
    messages: dict[str, MessageSpec]

    def root(self, api_version: str, kind: str) -> MessageSpec | None:
        """The message of a top-level object: ``<group prefix>.<version>.<kind>``, else ``meta.v1.<kind>``."""
        group, _, version = api_version.rpartition("/")
        prefix = self.groups.get(group)
        candidates = [f"{prefix}.{version}.{kind}"] if prefix else []
        candidates.append(f"meta.v1.{kind}")
        for name in candidates:
            message = self.messages.get(name)
            if message is not None and message.format is None and message.unwrap is None:
                return message
        return None


def _parse_field(message: str, number: int, text: str) -> FieldSpec:
    """One ``"<jsonName> <type> [flags]"`` entry of the table."""
    json_name, type_text, *flags = text.split()
    unknown = set(flags) - {"keep", "inline"}
    if unknown:
        raise ValueError(f"{message} field {number}: unknown flags {sorted(unknown)}")
    repeated = type_text.startswith("[]")
    map_value = type_text.startswith("map[string]")
    base = type_text.removeprefix("[]").removeprefix("map[string]")
    return FieldSpec(number, json_name, base, repeated=repeated, map_value=map_value,
                     keep="keep" in flags, inline="inline" in flags)


def _parse_table(document: dict[str, Any]) -> MessageTable:
    """The table document as specs, checked for types, formats and unwraps that do not resolve."""
    messages: dict[str, MessageSpec] = {}
    for name, entry in document["messages"].items():
        fields = {number: _parse_field(name, number, text)
                  for number, text in entry.items() if isinstance(number, int)}
        messages[name] = MessageSpec(name, fields, unwrap=entry.get("unwrap"), format=entry.get("format"))
    for spec in messages.values():
        if spec.format is not None and spec.format not in _FORMATS:
            raise ValueError(f"{spec.name}: unknown format {spec.format!r}")
        if spec.unwrap is not None and spec.unwrap not in {f.json_name for f in spec.fields.values()}:
            raise ValueError(f"{spec.name}: unwrap names no field {spec.unwrap!r}")
        for field in spec.fields.values():
            if not field.scalar and field.type not in messages:
                raise ValueError(f"{spec.name} field {field.number}: unknown type {field.type!r}")
    return MessageTable(dict(document["groups"]), messages)


@functools.cache
def message_table() -> MessageTable:
    """The message table shipped with the package (parsed once)."""
    text = resources.files(__package__).joinpath("protobuf_messages.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return _parse_table(yaml.load(text, Loader=loader))


# ---------------------------------------------------------------------------
# Wire format

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A base-128 varint starting at ``pos``: its value and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def _wire_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of each field of a message, in wire order.

    Varints come as ints, fixed-size and length-delimited values as bytes.
    """
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire in (_FIXED64, _FIXED32, _LENGTH):
            if wire == _LENGTH:
                size, pos = _varint(data, pos)
            else:
                size = 8 if wire == _FIXED64 else 4
            if pos + size > len(data):
                raise ProtobufError(f"field {number} runs past the end of the message")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProtobufError(f"field {number} has unsupported wire type {wire}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    """A varint read as a two's-complement integer of ``bits`` bits (negative int32s span 10 bytes)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(value: int | bytes) -> str:
    """A length-delimited value as text (Go's JSON encoder substitutes U+FFFD for invalid UTF-8 too)."""
    if not isinstance(value, bytes):
        raise ProtobufError("a string field is not length-delimited")
    return value.decode("utf-8", errors="replace")


def _embedded_document(raw: bytes) -> Any:
    """The value of a ``json`` field: a JSON document, or a nested Kubernetes protobuf object."""
    if not raw:
        return None
    if raw.startswith(MAGIC):
        return _decode_envelope(raw)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtobufError(f"embedded document is neither JSON nor protobuf: {exc}") from None


def _scalar(field: FieldSpec, value: int | bytes) -> Any:
    """A scalar wire value as its JSON value."""
    if field.type == "bool":
        return value != 0
    if field.type == "int32":
        return _signed(int(value), 32)
    if field.type == "int64":
        return _signed(int(value), 64)
    assert isinstance(value, bytes)
    if field.type == "string":
        return _text(value)
    if field.type == "bytes":
        return base64.b64encode(value).decode("ascii")
    return _embedded_document(value)


def _packed(field: FieldSpec, data: bytes) -> list[Any]:
    """The elements of a packed repeated varint field."""
    values, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        values.append(_scalar(field, value))
    return values


def _check_wire(message: MessageSpec, field: FieldSpec, wire: int, expected: int) -> None:
    """Reject a field whose wire type does not fit its declared type."""
    if wire != expected:
        raise ProtobufError(f"{message.name}.{field.json_name} (field {field.number}) has wire type {wire}, "
                            f"expected {expected}")


def _field_value(table: MessageTable, field: FieldSpec, value: int | bytes) -> Any:
    """One occurrence of a field (for a map, of the value of one entry)."""
    if field.scalar:
        return _scalar(field, value)
    assert isinstance(value, bytes)
    return _decode(table, table.messages[field.type], value)


def _zero(table: MessageTable, field: FieldSpec) -> Any:
    """What an absent (non-repeated) field decodes to: its type's zero value."""
    return _field_value(table, field, 0 if _SCALARS.get(field.type) == _VARINT else b"")


_MISSING = object()


def _map_entry(table: MessageTable, message: MessageSpec, field: FieldSpec, data: bytes) -> tuple[str, Any]:
    """A ``{key=1, value=2}`` map entry; a missing key or value is its type's zero value."""
    key: str = ""
    value: Any = _MISSING
    for number, wire, raw in _wire_fields(data):
        if number == 1:
            _check_wire(message, field, wire, _LENGTH)
            key = _text(raw)
        elif number == 2:
            _check_wire(message, field, wire, _SCALARS.get(field.type, _LENGTH))
            value = _field_value(table, field, raw)
    return key, _zero(table, field) if value is _MISSING else value


def _is_zero(value: Any) -> bool:
    """The zero values ``omitempty`` leaves out of JSON (for scalars)."""
    return value is False or value == 0 or value == ""


def _decode(table: MessageTable, message: MessageSpec, data: bytes) -> Any:
    """A message's bytes as its JSON value (an object, or the value of a well-known type)."""
    values: dict[int, Any] = {}
    for number, wire, raw in _wire_fields(data):
        field = message.fields.get(number)
        if field is None:
            continue
        if field.map_value:
            _check_wire(message, field, wire, _LENGTH)
            assert isinstance(raw, bytes)
            key, value = _map_entry(table, message, field, raw)
            values.setdefault(number, {})[key] = value
        elif field.repeated:
            items = values.setdefault(number, [])
            if field.scalar and wire == _LENGTH and _SCALARS[field.type] == _VARINT:
                assert isinstance(raw, bytes)
                items.extend(_packed(field, raw))
            else:
                _check_wire(message, field, wire, _SCALARS.get(field.type, _LENGTH))
                items.append(_field_value(table, field, raw))
        else:
            _check_wire(message, field, wire, _SCALARS.get(field.type, _LENGTH))
            values[number] = _field_value(table, field, raw)
    if message.format is not None:
        return _FORMATS[message.format]({message.fields[n].json_name: v for n, v in values.items()})
    if message.unwrap is not None:
        field = next(f for f in message.fields.values() if f.json_name == message.unwrap)
        if field.number in values:
            return values[field.number]
        return [] if field.repeated else _zero(table, field)
    obj: dict[str, Any] = {}
    for number, field in message.fields.items():
        if number not in values:
            continue
        value = values[number]
        if field.inline:
            obj.update(value)
        elif not (field.scalar and not field.repeated and not field.keep and _is_zero(value)):
            obj[field.json_name] = value
    return obj


# ---------------------------------------------------------------------------
# Well-known types

def _utc(values: dict[str, Any]) -> datetime:
    """The instant of a ``{seconds, nanos}`` message, in UTC, to the microsecond."""
    seconds, nanos = values.get("seconds", 0), values.get("nanos", 0)
    if not 0 <= nanos < 1_000_000_000:
        raise ProtobufError(f"timestamp nanos {nanos} out of range")
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError(f"timestamp seconds {seconds} out of range") from None


def _rfc3339(instant: datetime, fraction: str = "") -> str:
    """Go's RFC 3339 layout in UTC (``Z``), the year always four digits."""
    return (f"{instant.year:04d}-{instant.month:02d}-{instant.day:02d}T"
            f"{instant.hour:02d}:{instant.minute:02d}:{instant.second:02d}{fraction}Z")


def _time(values: dict[str, Any]) -> str | None:
    """metav1.Time: RFC 3339 to the second; an empty message is the zero time, JSON null."""
    if not values:
        return None
    return _rfc3339(_utc(values))


def _micro_time(values: dict[str, Any]) -> str | None:
    """metav1.MicroTime: RFC 3339 with six fractional digits; an empty message is JSON null."""
    if not values:
        return None
    instant = _utc(values)
    return _rfc3339(instant, f".{instant.microsecond:06d}")


def _int_or_string(values: dict[str, Any]) -> int | str:
    """intstr.IntOrString: type 1 is the string form, anything else the integer form."""
    if values.get("type", 0) == 1:
        return values.get("strVal", "")
    return values.get("intVal", 0)


_FORMATS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "time": _time,
    "microtime": _micro_time,
    "intorstring": _int_or_string,
}


# ---------------------------------------------------------------------------
# Request bodies

def is_protobuf(content_type: str | None) -> bool:
    """Whether a Content-Type header names the Kubernetes protobuf encoding (parameters ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


def decode_message(message: str, data: bytes) -> Any:
    """The protobuf encoding of one message of the table (e.g. ``apps.v1.Deployment``) as its JSON value."""
    table = message_table()
    if message not in table.messages:
        raise KeyError(message)
    return _decode(table, table.messages[message], data)


def _decode_envelope(body: bytes) -> dict[str, Any]:
    """``k8s\\x00`` + ``runtime.Unknown`` → the typed object with its apiVersion and kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError(f"the body does not start with the Kubernetes protobuf prefix {MAGIC!r}")
    api_version = kind = content_encoding = content_type = ""
    raw = b""
    for number, _, value in _wire_fields(body[len(MAGIC):]):
        if number == _UNKNOWN_TYPE_META and isinstance(value, bytes):
            for meta_number, _, meta_value in _wire_fields(value):
                if meta_number == _TYPE_META_API_VERSION:
                    api_version = _text(meta_value)
                elif meta_number == _TYPE_META_KIND:
                    kind = _text(meta_value)
        elif number == _UNKNOWN_RAW and isinstance(value, bytes):
            raw = value
        elif number == _UNKNOWN_CONTENT_ENCODING:
            content_encoding = _text(value)
        elif number == _UNKNOWN_CONTENT_TYPE:
            content_type = _text(value)
    if content_encoding:
        raise ProtobufError(f"unsupported content encoding {content_encoding!r}")
    if content_type and not is_protobuf(content_type):
        raise ProtobufError(f"unsupported content type {content_type!r} inside the protobuf envelope")
    if not kind or not api_version:
        raise ProtobufError("Object 'Kind' or 'apiVersion' is missing from the protobuf envelope")
    table = message_table()
    message = table.root(api_version, kind)
    if message is None:
        raise ProtobufError(f'no protobuf message is known for kind "{kind}" in version "{api_version}"')
    return {"kind": kind, "apiVersion": api_version, **_decode(table, message, raw)}


def decode_request(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object the same request would carry as JSON.

    Raises the API's 400 BadRequest when the body cannot be decoded.
    """
    try:
        return _decode_envelope(body)
    except ProtobufError as exc:
        raise bad_request(f"unable to decode the protobuf request body: {exc}") from None
    except RecursionError:
        raise bad_request("unable to decode the protobuf request body: objects nested too deeply") from None

