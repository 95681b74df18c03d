"""Report numbers catch typing slips; verification codes avoid characters misread off paper."""

from __future__ import annotations

from datetime import date

import pytest

from core.report_identity import (
    CODE_ALPHABET,
    CODE_LENGTH,
    is_valid_report_no,
    make_report_no,
    new_verification_code,
    normalize_code,
    normalize_report_no,
)


def test_report_number_format_and_round_trip() -> None:
    number = make_report_no(date(2025, 11, 20), 42)
    assert number.startswith("SX20251120000042") and len(number) == 17
    assert is_valid_report_no(number)
    assert normalize_report_no(" sx" + number[2:].lower() + " ") == number


def test_every_single_digit_change_and_adjacent_swap_is_caught() -> None:
    number = make_report_no(date(2025, 11, 20), 123456)
    digits = number[2:-1]
    for i, char in enumerate(digits):
        for other in "0123456789":
            if other != char:
                changed = "SX" + digits[:i] + other + digits[i + 1 :] + number[-1]
                assert not is_valid_report_no(changed), changed
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1]:
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            assert not is_valid_report_no("SX" + swapped + number[-1]), swapped


@pytest.mark.parametrize("sequence", [0, 1_000_000])
def test_sequence_out_of_range(sequence: int) -> None:
    with pytest.raises(ValueError):
        make_report_no(date(2025, 1, 1), sequence)


def test_verification_codes_have_no_look_alikes() -> None:
    assert not set("01258OILSZB") & set(CODE_ALPHABET)
    codes = {new_verification_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert normalize_code(" k7hp-3wxa ") == "K7HP3WXA"
