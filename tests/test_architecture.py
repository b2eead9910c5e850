"""The layering in STYLE.md and decision 0011, checked by import-linter contracts
(pyproject.toml): that they hold, and that they would fail if a domain reached into another."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def test_import_contracts_hold() -> None:
    result = _lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # Another domain's storage, not its service.
        (
            "events/service.py",
            "from ticketing.seats import repository",
            "The seats service is its face",
        ),
        (
            "customers/service.py",
            "from ticketing.reservations import repository",
            "The reservations service is its face",
        ),
        # The hold engine's keys, from outside holds.
        ("live/feed.py", "from ticketing.holds import keys", "The hold engine, its Redis keys"),
        ("reservations/service.py", "from ticketing.holds import engine", "The hold engine"),
        # A domain asking one above it: seats and events would import each other.
        ("seats/service.py", "from ticketing.events import service", "The package is a stack"),
        ("holds/service.py", "from ticketing.seats import service", "The package is a stack"),
        # A rule reaching for a controller, a service for the web framework.
        ("seed/service.py", "from ticketing.holds import controller", "Controllers are the app's"),
        ("holds/lifecycle.py", "import litestar", "do not import the web framework"),
        # A new package that was given no floor.
        ("waitingroom.py", "", "The package is a stack"),
    ],
)
def test_import_contracts_fail_when_broken(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    shutil.copytree(
        ROOT / "src" / "ticketing",
        tmp_path / "src" / "ticketing",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "ticketing" / module
    existing = target.read_text() if target.exists() else '"""New."""\n'
    target.write_text(existing + f"\n{line}  # noqa\n")
    result = _lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode != 0, result.stdout
    report = " ".join(result.stdout.split())
    assert re.search(re.escape(broken) + r"((?!KEPT).)*BROKEN", report), report


def test_lua_and_sql_stay_out_of_controllers() -> None:
    for controller in (ROOT / "src" / "ticketing").glob("*/controller.py"):
        text = controller.read_text()
        assert "SELECT " not in text, controller
        assert "UPDATE " not in text, controller
        assert "import asyncpg" not in text, controller
