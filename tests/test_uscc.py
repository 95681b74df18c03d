import pytest

from core.uscc import (
    ALPHABET,
    WEIGHTS,
    UsccError,
    check_character,
    find_uscc,
    is_valid_uscc,
    make_uscc,
    normalize_uscc,
    validate_uscc,
)

#: The standard's own example and codes printed on well-known public business licences.
REAL_CODES = [
    "91350100M000100Y43",  # GB 32100-2015 example
    "91110108551385082Q",  # 北京百度网讯科技有限公司
    "91440300708461136T",  # 腾讯科技（深圳）有限公司
    "914403001922038216",  # 华为技术有限公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
]


def test_weights_are_powers_of_three_mod_31() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_alphabet_skips_ambiguous_letters() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert validate_uscc(code) == code
    assert check_character(code[:17]) == code[17]
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("91350100M000100Y4", "3"),
        ("91110000100000000", "R"),
        # Weighted sum ≡ 0 (mod 31): 31 − 0 = 31 must map to '0', not index out of range.
        ("00000000000000000", "0"),
        ("91440300708461136", "T"),
    ],
)
def test_check_character(first17: str, check: str) -> None:
    assert check_character(first17) == check
    assert make_uscc(first17) == first17 + check


@pytest.mark.parametrize("first17", ["9135", "91350100M000100Y43", "91350100MO00100Y4"])
def test_check_character_wants_17_alphabet_characters(first17: str) -> None:
    with pytest.raises(ValueError):
        check_character(first17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
        (" 9135 0100 M000 100Y 43 ", "91350100M000100Y43"),
        ("913501-00M000-100Y43", "91350100M000100Y43"),
        ("91350100M000100Y43\n", "91350100M000100Y43"),
        ("9135\u30000100M000100Y43", "91350100M000100Y43"),
        ("9135－0100M000100Y43", "91350100M000100Y43"),
    ],
)
def test_normalize_and_validate_accept_harmless_formatting(text: str, expected: str) -> None:
    assert normalize_uscc(text) == expected
    assert validate_uscc(text) == expected


def test_normalize_keeps_lookalike_letters() -> None:
    assert normalize_uscc("91350100mOOO100y43") == "91350100MOOO100Y43"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "请输入18位统一社会信用代码。"),
        ("  ", "请输入18位统一社会信用代码。"),
        (
            "91350100M000100Y4",
            "统一社会信用代码应为18位，您输入的是17位，请核对后重新输入。",
        ),
        (
            "91350100M000100Y433",
            "统一社会信用代码应为18位，您输入的是19位，请核对后重新输入。",
        ),
    ],
)
def test_length_errors(text: str, message: str) -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc(text)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert caught.value.position is None
    assert caught.value.suggestion is None


def test_check_character_mismatch() -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc("91350100M000100Y44")
    assert caught.value.message == (
        "第18位校验码不符：按前17位计算应为“3”，您输入的是“4”。请核对代码中是否有输错的字符。"
    )
    assert caught.value.position == 18
    assert caught.value.suggestion is None


@pytest.mark.parametrize(
    ("text", "position", "suggestion"),
    [
        ("91350100M0O0100Y43", 11, "91350100M000100Y43"),  # O for 0
        ("91350100m0o0100y43", 11, "91350100M000100Y43"),  # lower case o
        ("9I350100M000100Y43", 2, "91350100M000100Y43"),  # I for 1
        ("91110108SS1385082Q", 9, "91110108551385082Q"),  # S for 5
        ("91440300708461136T".replace("0", "O"), 5, "91440300708461136T"),
        ("９１３５０１００Ｍ０Ｏ０１００Ｙ４３", 11, "91350100M000100Y43"),  # full width
    ],
)
def test_lookalike_slip_is_reported_with_a_suggestion(text: str, position: int, suggestion: str) -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc(text)
    assert caught.value.position == position
    assert caught.value.suggestion == suggestion
    assert suggestion in caught.value.message


def test_z_for_2_is_suggested() -> None:
    code = make_uscc("91140100MA0K2M7A1")
    with pytest.raises(UsccError) as caught:
        validate_uscc(code.replace("2", "Z"))
    assert caught.value.position == 13
    assert caught.value.suggestion == code


def test_invalid_letter_message_names_position_and_character() -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc("91350100M0O0100Y43")
    assert caught.value.message == (
        "第11位的“O”不是统一社会信用代码中使用的字符。您要输入的是否为 91350100M000100Y43？"
    )


def test_letter_in_division_code() -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc("9135A100M000100Y43")
    assert caught.value.position == 5
    assert caught.value.suggestion is None
    assert caught.value.message == ("第5位是“A”，但第3至8位是行政区划代码，只能是数字。请核对后重新输入。")


def test_several_bad_characters_are_all_named() -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc("91350100M000V00Y4?")
    assert caught.value.position == 13
    assert caught.value.message == (
        "第13位的“V”不是统一社会信用代码中使用的字符。另外第18位“?”也不符合要求。请核对后重新输入。"
    )


def test_no_suggestion_when_the_fix_does_not_validate() -> None:
    with pytest.raises(UsccError) as caught:
        validate_uscc("91350100M0O0100Y44")
    assert caught.value.position == 11
    assert caught.value.suggestion is None
    assert caught.value.message.endswith("请核对后重新输入。")


def test_usccerror_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_uscc("abc")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的代码是91350100M000100Y43", "91350100M000100Y43"),
        ("统一社会信用代码：91110108551385082Q，谢谢", "91110108551385082Q"),
        ("my code is 91440300708461136t please", "91440300708461136T"),
        ("代码 9135 0100 M000 100Y 43 麻烦开一下", "91350100M000100Y43"),
        ("代码９１３５０１００Ｍ０００１００Ｙ４３。", "91350100M000100Y43"),
        # Invalid but code-shaped: returned so the caller can explain what is wrong.
        ("我的代码是91140100MA0XXXXXXX", "91140100MA0XXXXXXX"),
        ("代码91350100M0O0100Y43", "91350100M0O0100Y43"),
        ("代码91350100M000100Y4，帮我开报告", "91350100M000100Y4"),
        # A valid code beats an earlier invalid one.
        ("不是91350100M000100Y44，是91350100M000100Y43", "91350100M000100Y43"),
        ("电话13800138000，代码914403001922038216", "914403001922038216"),
    ],
)
def test_find_uscc(text: str, expected: str) -> None:
    assert find_uscc(text) == expected


@pytest.mark.parametrize(
    "text",
    ["帮我开近三年的信用报告", "电话13800138000", "2023年3月至2024年6月", ""],
)
def test_find_uscc_finds_nothing(text: str) -> None:
    assert find_uscc(text) is None


def test_the_problem_is_available_without_the_advice() -> None:
    """The chat shows the suggestion as a button, so it needs the diagnosis on its own."""
    with pytest.raises(UsccError) as caught:
        validate_uscc("91350100M000100Y43".replace("0", "O", 1))
    error = caught.value
    assert error.suggestion == "91350100M000100Y43"
    assert error.message == error.problem + "您要输入的是否为 91350100M000100Y43？"
    assert "您要输入" not in error.problem and "“O”" in error.problem
