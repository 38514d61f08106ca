"""The shell recipes in examples/ run as written (they are documentation that CI keeps honest)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("dcgan") is None, reason="needs jq and dcgan on PATH")
def test_pipelines_recipe(tmp_path: Path) -> None:
    r = subprocess.run(["bash", str(REPO / "examples" / "pipelines.sh"), str(tmp_path)], capture_output=True,
                       text=True, timeout=300, cwd=REPO, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sampled: 100 files" in r.stdout and "seed 7 via stdout matches the folder" in r.stdout
    assert (tmp_path / "walk.gif").exists()
    assert "SWD x1e3 against 64 real images: " in r.stdout
