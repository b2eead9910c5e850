"""Settings are typed, read once, and a bad one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketing.settings import Rate, Settings, SettingsError, settings_table


def test_defaults() -> None:
    settings = Settings.from_env(environ={}, env_file=None)
    assert settings.port == 3000
    assert settings.host == "127.0.0.1"
    assert settings.database_url is None
    assert settings.embedded
    assert settings.token_ttl_seconds == 86_400
    assert settings.data_dir == Path(".data")


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TICKETING_PORT=4000\nTICKETING_WORKERS=3\n")
    settings = Settings.from_env(environ={"TICKETING_WORKERS": "2"}, env_file=env_file)
    assert settings.port == 4000
    assert settings.workers == 2


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("TICKETING_PORT", "abc", "whole number"),
        ("TICKETING_PORT", "0", "between 1 and 65535"),
        ("TICKETING_WORKERS", "65", "between 1 and 64"),
        ("DATABASE_URL", "mysql://db", "postgresql://"),
        ("REDIS_URL", "http://cache", "redis://"),
        ("TICKETING_REDIS_CLUSTER", "maybe", "true or false"),
        ("TICKETING_LOG_LEVEL", "chatty", "one of"),
        ("TICKETING_ADMIN_TOKEN", "too-short", "at least 24"),
        ("TICKETING_TOKEN_TTL", "5", "between 60"),
        ("TICKETING_RATE_LIMIT_HOLDS", "lots", "30/10s"),
        ("TICKETING_RATE_LIMIT_READS", "0/10s", "1..10000000"),
        ("TICKETING_RATE_LIMIT_READS", "10/0s", "1 s..24 h"),
        ("TICKETING_CORS_ORIGINS", "box-office.example", "origins like"),
        ("TICKETING_METRICS_PORT", "70000", "between 1 and 65535"),
        ("TICKETING_LOG_FORMAT", "xml", "one of"),
    ],
)
def test_bad_value_names_the_setting(name: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ={name: value}, env_file=None)
    assert caught.value.name == name
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{name}: ")


def test_rate_limits_and_origins_are_read() -> None:
    settings = Settings.from_env(
        environ={
            "TICKETING_RATE_LIMIT_HOLDS": "5/2m",
            "TICKETING_RATE_LIMIT_READS": "off",
            "TICKETING_RATE_LIMIT_SIGNUP": "3/1h",
            "TICKETING_CORS_ORIGINS": "https://a.example, https://b.example:8443/",
        },
        env_file=None,
    )
    assert settings.rate_holds == Rate(5, 120)
    assert settings.rate_reads is None
    assert settings.rate_signup == Rate(3, 3600)
    assert settings.cors_origins == ("https://a.example", "https://b.example:8443")
    defaults = Settings.from_env(environ={}, env_file=None)
    assert defaults.cors_origins == ()  # CORS off unless asked for
    assert defaults.rate_holds == Rate(30, 10)
    assert defaults.metrics_port is None


def test_pool_minimum_cannot_pass_maximum() -> None:
    with pytest.raises(SettingsError, match="TICKETING_DB_POOL_MIN"):
        Settings.from_env(
            environ={"TICKETING_DB_POOL_MIN": "10", "TICKETING_DB_POOL_MAX": "5"}, env_file=None
        )


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for variable, _, _ in settings_table():
        assert f"`{variable}`" in readme, variable


def test_serve_uses_every_core_unless_told() -> None:
    import os

    cores = len(os.sched_getaffinity(0))
    assert Settings.from_env(environ={}, env_file=None).workers == min(cores, 64)
    told = Settings.from_env(environ={"TICKETING_WORKERS": "1"}, env_file=None)
    assert told.workers == 1
