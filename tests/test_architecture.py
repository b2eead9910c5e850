"""The layering in STYLE.md, checked by import-linter contracts (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_lua_and_sql_stay_out_of_controllers() -> None:
    for controller in (ROOT / "src" / "ticketing").glob("*/controller.py"):
        text = controller.read_text()
        assert "SELECT " not in text, controller
        assert "UPDATE " not in text, controller
        assert "import asyncpg" not in text, controller
