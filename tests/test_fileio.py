"""Atomic writes: all or nothing, no overwrite without force, ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from annotate.errors import DataError, OutputExistsError
from annotate.fileio import atomic_dir, atomic_write, iter_jsonl, write_jsonl


def test_atomic_write_leaves_nothing_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, force=True) as f:
        f.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_existing_file_is_refused_without_force(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("mine")
    with pytest.raises(OutputExistsError):
        write_jsonl(target, [{"a": 1}])
    assert target.read_text() == "mine"
    write_jsonl(target, [{"a": 1}], force=True)
    assert target.read_text() == '{"a": 1}\n'


def test_outputs_get_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "f.jsonl", [{}])
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_atomic_dir_is_replaced_whole_with_force(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "stale").write_text("x")
    with pytest.raises(OutputExistsError), atomic_dir(target):
        pass
    with atomic_dir(target, force=True) as d:
        (d / "fresh").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["fresh"]


def test_iter_jsonl_counts_physical_lines_and_names_the_broken_one(tmp_path: Path) -> None:
    p = tmp_path / "in.jsonl"
    p.write_text('{"a": 1}\n\n\n{"a": 2}\n{"a": \n', encoding="utf-8")
    seen = []
    with pytest.raises(DataError) as e:
        for lineno, obj in iter_jsonl(p):
            seen.append((lineno, obj))
    assert seen == [(1, {"a": 1}), (4, {"a": 2})]
    assert f"{p}:5" in str(e.value) and e.value.line == 5


def test_atomic_write_names_its_temp_file_so_it_can_be_checked_before_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target) as f:
        f.write("abc")
        f.flush()
        assert Path(f.name).parent == tmp_path and Path(f.name).read_text() == "abc"
        assert not target.exists()
    assert target.read_text() == "abc"
