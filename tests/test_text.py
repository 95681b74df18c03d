"""The one folding of typed text: full-width forms, spaces, positions kept where they matter."""

from __future__ import annotations

from core.text import FULL_WIDTH_BRACKETS, compact, fold, fold_keeping_positions


def test_fold_turns_full_width_forms_into_ascii() -> None:
    assert fold("２０２３年３月，ＡＢＣ（测试）") == "2023年3月,ABC(测试)"


def test_compact_drops_every_space_and_upper_cases() -> None:
    assert compact(" 1401 0219 8001 01104x\u3000") == "14010219800101104X"


def test_positions_are_kept_and_brackets_restored_on_request() -> None:
    text = "近２年，应急管理（安全生产）和㍻"
    folded = fold_keeping_positions(text)
    assert folded == "近2年,应急管理(安全生产)和㍻"
    assert len(folded) == len(text)  # ㍻ would expand to 平成: kept as it is
    assert fold_keeping_positions(text, FULL_WIDTH_BRACKETS) == "近2年,应急管理（安全生产）和㍻"
