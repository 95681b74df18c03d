"""Signing keys: created once with private files unreadable by others, rotated without losing old ones."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bot.keys import KeyStore
from core.signing import key_id


def _ensure(data_dir: str) -> str:
    store = KeyStore(Path(data_dir))
    store.ensure()
    return store.current_key_id()


def test_processes_starting_together_create_one_ca_and_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        kids = set(pool.map(_ensure, [str(tmp_path)] * 8))
    assert len(kids) == 1
    keys_dir = tmp_path / "keys"
    assert len(list(keys_dir.glob("content-*.key"))) == len(list(keys_dir.glob("pdf-*.key"))) == 1
    assert keys_dir.stat().st_mode & 0o777 == 0o700
    for private in [*keys_dir.glob("*.key")]:
        assert private.stat().st_mode & 0o777 == 0o600


def test_rotation_publishes_every_key_and_marks_the_current_one(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.ensure()
    first = store.current_key_id()
    second = store.rotate()
    store.ensure()  # a restart must not rotate again
    published = store.published()
    assert store.current_key_id() == second != first
    assert {k.key_id for k in published.keys} == {first, second}
    assert [k.key_id for k in published.keys if k.current] == [second]
    for key in published.keys:
        assert key_id(key.public_key) == key.key_id
        assert key.certificate.issuer == published.ca_certificate.subject
        assert key.key_id in key.certificate.subject.rfc4514_string()
    material = store.signing_material()
    assert key_id(material.content_key().public_key()) == second
    current = next(k for k in published.keys if k.current)
    assert material.identity().certificate.public_key() == current.certificate.public_key()
