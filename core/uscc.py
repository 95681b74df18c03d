"""统一社会信用代码 (USCC) checks per GB 32100-2015.

People paste codes from licences, scans and chat apps, so the input arrives with full-width
characters, lower case, spaces and hyphens, and with the usual look-alike slips (O for 0,
I for 1, Z for 2, S for 5). Validation names the exact problem in plain Chinese and, when one
of those slips is the only thing wrong, offers the corrected code instead of guessing silently.
"""

from __future__ import annotations

import re

from core.text import fold

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Each character's value in the check-character sum.
VALUES = {char: value for value, char in enumerate(ALPHABET)}
#: Weight of position i is 3**i mod 31 (GB 32100-2015, 5.2).
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18
#: Positions 3–8 (1-based) hold the 6-digit administrative division code.
_DIVISION = range(2, 8)
#: Letters outside the alphabet that people type for the digit they resemble.
_LOOKALIKES = {"O": "0", "I": "1", "Z": "2", "S": "5"}
_SEPARATORS = re.compile(r"[\s\-_‐‑‒–—―]+")
_CANDIDATE_RUN = re.compile(r"[0-9A-Z]+(?:[ \-]+[0-9A-Z]+)*")
#: Code-like runs this close to 18 characters are still returned, so the caller can report the length.
_NEAR_LENGTHS = (17, 19)
_MIN_DIGITS_IN_NEAR_MISS = 8


class UsccError(ValueError):
    """Carries what the chat shows the user: a polite message and, when safe, the fixed code."""

    def __init__(
        self, problem: str, position: int | None = None, suggestion: str | None = None, advice: str = ""
    ) -> None:
        message = problem + advice
        super().__init__(message)
        #: What is wrong, alone: a chat that offers the suggestion as a button shows only this.
        self.problem = problem
        #: The whole sentence for a plain-text answer: what is wrong and what to do.
        self.message = message
        self.position = position
        self.suggestion = suggestion


def normalize_uscc(text: str) -> str:
    return _SEPARATORS.sub("", fold(text).upper())


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (which must be in the alphabet)."""
    if len(first17) != LENGTH - 1 or not all(char in VALUES for char in first17):
        raise ValueError(f"need 17 characters from the USCC alphabet, got {first17!r}")
    total = sum(VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def make_uscc(first17: str) -> str:
    return first17 + check_character(first17)


def validate_uscc(text: str) -> str:
    """The normalized code, or a UsccError naming the first problem found."""
    code = normalize_uscc(text)
    if not code:
        raise UsccError("请输入18位统一社会信用代码。")
    if len(code) != LENGTH:
        raise UsccError(f"统一社会信用代码应为18位，您输入的是{len(code)}位，请核对后重新输入。")
    _check_characters(code)
    expected = check_character(code[:-1])
    if code[-1] != expected:
        raise UsccError(
            f"第18位校验码不符：按前17位计算应为“{expected}”，您输入的是“{code[-1]}”。"
            "请核对代码中是否有输错的字符。",
            position=LENGTH,
        )
    return code


def _check_characters(code: str) -> None:
    bad = [i for i, char in enumerate(code) if not _allowed_at(i, char)]
    if not bad:
        return
    first = bad[0]
    if first in _DIVISION:
        message = f"第{first + 1}位是“{code[first]}”，但第3至8位是行政区划代码，只能是数字。"
    else:
        message = f"第{first + 1}位的“{code[first]}”不是统一社会信用代码中使用的字符。"
    if len(bad) > 1:
        others = "、".join(f"第{i + 1}位“{code[i]}”" for i in bad[1:])
        message += f"另外{others}也不符合要求。"
    suggestion = _lookalike_fix(code)
    advice = f"您要输入的是否为 {suggestion}？" if suggestion else "请核对后重新输入。"
    raise UsccError(message, position=first + 1, suggestion=suggestion, advice=advice)


def _allowed_at(index: int, char: str) -> bool:
    if index in _DIVISION:
        return char.isascii() and char.isdigit()
    return char in VALUES


def _lookalike_fix(code: str) -> str | None:
    """The code with look-alike letters replaced, if that alone makes it valid."""
    fixed = "".join(_LOOKALIKES.get(char, char) for char in code)
    if fixed == code or not all(_allowed_at(i, char) for i, char in enumerate(fixed)):
        return None
    return fixed if check_character(fixed[:-1]) == fixed[-1] else None


def is_valid_uscc(text: str) -> bool:
    try:
        validate_uscc(text)
    except UsccError:
        return False
    return True


def find_uscc(text: str) -> str | None:
    """The code a chat message most likely contains, normalized; it may still be invalid.

    A valid code wins; otherwise an 18-character run, so the caller can report what is wrong
    with it; otherwise a code-like run one character short or long, for the length message.
    """
    candidates = _candidates(fold(text).upper())
    exact = [c for c in candidates if len(c) == LENGTH]
    for candidate in exact:
        if is_valid_uscc(candidate):
            return candidate
    if exact:
        return exact[0]
    near = [
        c
        for c in candidates
        if len(c) in _NEAR_LENGTHS and sum(ch.isdigit() for ch in c) >= _MIN_DIGITS_IN_NEAR_MISS
    ]
    return near[0] if near else None


def _candidates(folded: str) -> list[str]:
    """Joined runs of groups ("9114 0100 …"), in text order, with every contiguous group span.

    Trying each span lets "my code is 9135…" yield the code without the leading words.
    """
    result = []
    for run in _CANDIDATE_RUN.finditer(folded):
        groups = _SEPARATORS.split(run.group())
        for start in range(len(groups)):
            for end in range(len(groups), start, -1):
                joined = "".join(groups[start:end])
                if len(joined) in (LENGTH, *_NEAR_LENGTHS):
                    result.append(joined)
    return result
