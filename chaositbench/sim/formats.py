"""String formats the Kubernetes API validates: names, labels, keys, ports, IPs.

Each ``is_*`` function returns the list of apimachinery's explanation texts for
a bad value (empty when valid), word for word, so callers can wrap them in
field errors exactly as the real API server does.
"""

from __future__ import annotations

import ipaddress
import re

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _LABEL_KEY_NAME + ")?"
_CONFIG_MAP_KEY = "[-._a-zA-Z0-9]+"
_PERCENT = "[0-9]+%"
_HTTP_HEADER_NAME = "[-A-Za-z0-9]+"

_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                      "start with an alphabetic character, and end with an alphanumeric character")
_LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                  "and must start and end with an alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63


_RE_DNS1123_LABEL = re.compile(_DNS1123_LABEL)
_RE_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN)
_RE_DNS1035_LABEL = re.compile(_DNS1035_LABEL)
_RE_LABEL_KEY_NAME = re.compile(_LABEL_KEY_NAME)
_RE_LABEL_VALUE = re.compile(_LABEL_VALUE)
_RE_CONFIG_MAP_KEY = re.compile(_CONFIG_MAP_KEY)
_RE_PERCENT = re.compile(_PERCENT)
_RE_HTTP_HEADER_NAME = re.compile(_HTTP_HEADER_NAME)
_RE_PORT_NAME_CHARS = re.compile("[-a-z0-9]+")


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """``msg (e.g. 'a' or 'b', regex used for validation is 'p')`` as apimachinery words it."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{e}'," for e in examples)
    return f"{message} (e.g. {shown} regex used for validation is '{pattern}')"


def max_len_error(length: int) -> str:
    """Length error of the DNS name checks."""
    return f"must be no more than {length} characters"


def _max_bytes_error(length: int) -> str:
    """Length error of the label key/value checks (they count bytes)."""
    return f"must be no more than {length} bytes"


def inclusive_range_error(low: int, high: int) -> str:
    """``must be between lo and hi, inclusive``."""
    return f"must be between {low} and {high}, inclusive"


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label: namespace names, container names, port names of services."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _RE_DNS1123_LABEL.fullmatch(value):
        if _RE_DNS1123_SUBDOMAIN.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain: most object names."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _RE_DNS1123_SUBDOMAIN.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label: Service names."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _RE_DNS1035_LABEL.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    """Names that only have to be usable as one URL path segment (RBAC objects, HPA targets)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def _mask_trailing_dash(name: str) -> str:
    """A ``generateName`` prefix may end with '-' because a suffix follows it."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_errors(rule: str, name: str, *, prefix: bool = False) -> list[str]:
    """Errors of an object name under ``rule`` (``subdomain``, ``label``, ``dns1035`` or ``path``)."""
    if prefix:
        name = _mask_trailing_dash(name)
    if rule == "label":
        return is_dns1123_label(name)
    if rule == "dns1035":
        return is_dns1035_label(name)
    if rule == "path":
        return is_path_segment_name(name)
    return is_dns1123_subdomain(name)


def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: ``[prefix/]name``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg.replace(max_len_error(DNS1123_SUBDOMAIN_MAX),
                                                     _max_bytes_error(DNS1123_SUBDOMAIN_MAX))
                        for msg in is_dns1123_subdomain(prefix))
    else:
        return ["a valid label key " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > DNS1123_LABEL_MAX:
        errs.append("name part " + _max_bytes_error(DNS1123_LABEL_MAX))
    if not _RE_LABEL_KEY_NAME.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    """Label values: empty or a qualified-name-like token of at most 63 bytes."""
    errs = []
    if len(value.encode()) > LABEL_VALUE_MAX:
        errs.append(_max_bytes_error(LABEL_VALUE_MAX))
    if not _RE_LABEL_VALUE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def is_config_map_key(value: str) -> list[str]:
    """Keys of ConfigMap and Secret data (they become file names)."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _RE_CONFIG_MAP_KEY.fullmatch(value):
        errs.append(regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    """A TCP/UDP port number, 1..65535."""
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(name: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 characters, ``[-a-z0-9]``, at least one letter."""
    errs = []
    if len(name) > 15:
        errs.append(max_len_error(15))
    if not _RE_PORT_NAME_CHARS.fullmatch(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    """``25%``-style values of rolling-update knobs and disruption budgets."""
    if _RE_PERCENT.fullmatch(value):
        return []
    return [regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                        _PERCENT, "1%", "93%")]


def is_relaxed_env_var_name(value: str) -> list[str]:
    """Environment variable names: printable ASCII other than '=' (relaxed rule, GA)."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(not (32 <= ord(ch) < 127) or ch == "=" for ch in value):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def is_http_header_name(value: str) -> list[str]:
    """Header names of HTTP probes."""
    if _RE_HTTP_HEADER_NAME.fullmatch(value):
        return []
    return [regex_error("a valid HTTP header must consist of alphanumeric characters or '-'",
                        _HTTP_HEADER_NAME, "X-Header-Name")]


def is_valid_ip(value: str) -> list[str]:
    """An IPv4 or IPv6 address in canonical form."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    if str(address) != value:
        return [f'must be in canonical form ("{address}")']
    return []


def is_valid_cidr(value: str) -> list[str]:
    """A subnet in CIDR form with no host bits set (``10.0.0.0/8``)."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    if network.network_address != ipaddress.ip_interface(value).ip:
        return ["must not have bits set beyond the prefix length"]
    if str(network) != value:
        return [f'must be in canonical form ("{network}")']
    return []
