"""The README is true: every Python block in it runs as written, from the project root."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_blocks() -> None:
    assert BLOCKS, "README.md shows no Python"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_readme_block_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the project root
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), namespace)
    if "solve" in namespace and "res" in namespace:
        res = namespace["res"]
        assert len(getattr(res, "sites")) == 5 and getattr(res, "optimal")  # noqa: B009
    assert os.getcwd() == str(ROOT)
