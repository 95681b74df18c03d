"""ID numbers and phones never leave in clear: masks, keyed hashes, and log redaction."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter
from core.personal_data import id_number_hash, id_tail_hash, mask_phone, redact

SECRET = b"k" * 32


def test_phone_mask_keeps_prefix_and_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("138 1234 1234") == "138****1234"


def test_keyed_hashes_ignore_case_width_and_spaces_but_depend_on_the_secret() -> None:
    assert id_number_hash(SECRET, "14010219800101104x") == id_number_hash(SECRET, "１４０１０２19800101104X")
    assert id_number_hash(SECRET, "14010219800101104X") != id_number_hash(b"o" * 32, "14010219800101104X")
    assert id_tail_hash(SECRET, "14010219800101104X") == id_tail_hash(SECRET, "01104x")


def test_redact_masks_id_numbers_and_mobile_numbers() -> None:
    text = redact("身份证 14010219800101104X 手机 13812341234 代码 91140100MA0K000001")
    assert "14010219800101104X" not in text and "13812341234" not in text
    assert "104X" in text and "138****1234" in text and "91140100MA0K000001" in text


def test_log_lines_are_json_with_personal_data_masked() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "code sent to %s", ("13812341234",), None)
    record.user = "u1"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "code sent to 138****1234" and line["user"] == "u1"
