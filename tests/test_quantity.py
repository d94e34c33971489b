"""Kubernetes resource quantities: parsing, canonical text, helpers for controllers."""

from fractions import Fraction

import pytest

from chaositbench.sim.quantity import (BINARY_SI, DECIMAL_EXPONENT, FORMAT_ERROR, SUFFIX_ERROR, QuantityError,
                                       bytes_of, canonical_quantity, cpu_millis, format_quantity, parse_quantity,
                                       parse_quantity_with_format, round_up_to_milli)


@pytest.mark.parametrize("text, value", [
    ("100m", Fraction(1, 10)),
    ("1", 1),
    ("0.5", Fraction(1, 2)),
    ("1Gi", 2 ** 30),
    ("1.5G", 1_500_000_000),
    ("1e3", 1000),
    ("128974848", 128974848),
    ("129M", 129_000_000),
    ("123Mi", 123 * 2 ** 20),
    ("-2k", -2000),
    ("+5", 5),
    ("1n", Fraction(1, 10 ** 9)),
    ("0.0000000001", Fraction(1, 10 ** 9)),  # rounded up to a nanounit
    ("1E", 10 ** 18),
])
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


def test_json_numbers_are_quantities() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.25) == Fraction(1, 4)


@pytest.mark.parametrize("text, message", [
    ("abc", FORMAT_ERROR),
    ("", FORMAT_ERROR),
    ("1.2.3", FORMAT_ERROR),
    ("1 Gi", FORMAT_ERROR),
    ("1K", SUFFIX_ERROR),
    ("1e", SUFFIX_ERROR),
    ("5Mi5", SUFFIX_ERROR),
])
def test_malformed_quantities(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_format_error_text_is_apimachinery_s() -> None:
    assert FORMAT_ERROR == ("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@pytest.mark.parametrize("text, canonical", [
    ("0.5", "500m"),
    ("1.5", "1500m"),
    ("2000m", "2"),
    ("1000", "1k"),
    ("1.5Gi", "1536Mi"),
    ("1024Mi", "1Gi"),
    ("0.5Ki", "512"),
    ("1.5G", "1500M"),
    ("1e3", "1e3"),
    ("12e6", "12e6"),
    ("100m", "100m"),
    ("256Mi", "256Mi"),
    ("0", "0"),
    ("-1", "-1"),
])
def test_canonical_quantity(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


def test_format_keeps_suffix_family() -> None:
    assert parse_quantity_with_format("64Mi")[1] == BINARY_SI
    assert parse_quantity_with_format("2e2")[1] == DECIMAL_EXPONENT
    assert format_quantity(Fraction(3, 2)) == "1500m"
    assert format_quantity(1536 * 2 ** 20, BINARY_SI) == "1536Mi"
    assert format_quantity(1000, BINARY_SI) == "1k"


def test_resource_lists_round_up_to_milli() -> None:
    assert round_up_to_milli("0.1m") == "1m"
    assert round_up_to_milli("1.5Gi") == "1536Mi"
    assert round_up_to_milli(0.5) == "500m"


def test_controller_helpers() -> None:
    assert cpu_millis("250m") == 250
    assert cpu_millis("1.5") == 1500
    assert cpu_millis("0.1m") == 1  # MilliValue rounds up
    assert bytes_of("1Gi") == 1073741824
    assert bytes_of("1.5k") == 1500
    assert bytes_of("500m") == 1
