"""The tests' own data: ``tests/data`` is complete, is what its generator writes, and
no test reads anything outside the repository (the seed's files beside it included)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from release_agent.memory.seedformat import load_file, parse

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
FILES = ("memory.json", "memory-old.json")

# A path built to leave the repository: ../shared, parents[2] and beyond, "shared"/"seed"
# as path parts.
OUTSIDE = re.compile(
    r"""\.\./shared|parents\[[2-9]\]|\.parent\.parent\.parent|["']shared["']\s*/|/\s*["']seed["']"""
)


@pytest.mark.parametrize("name", FILES)
def test_each_memory_file_is_there_and_parses(name: str) -> None:
    episodes, _ = parse(load_file(DATA / name))
    assert episodes


def test_the_files_are_the_output_of_their_generator(tmp_path: Path) -> None:
    script = tmp_path / "make_memory.py"
    script.write_text((DATA / "make_memory.py").read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_no_test_reads_a_path_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_the_pattern_would_catch_the_old_seed_paths() -> None:
    old = [
        'SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"',
        'SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "memory.json"',
        'open("../shared/seed/memory.json")',
    ]
    assert all(OUTSIDE.search(line) for line in old)
