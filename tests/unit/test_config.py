"""Settings: environment and overrides, validation, Kafka client configs, secrets never printed."""

from __future__ import annotations

import os

import pytest

from enricher.config import MASK, Settings, load_settings, mask_url_password
from enricher.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ENRICHER_"):
            monkeypatch.delenv(name)


def test_defaults_match_the_contract() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./enricher.db"
    assert settings.kafka_brokers == "127.0.0.1:19092"
    assert settings.raw_topics == {
        "cloudtrail": "raw.cloudtrail",
        "k8s_audit": "raw.k8s-audit",
        "mesh": "raw.mesh",
    }
    assert settings.output_topics == (
        "enricher.verdicts",
        "enricher.alerts",
        "enricher.alerts.ocsf",
        "enricher.deadletter",
    )
    assert settings.topic_baseline == "enricher.baseline"
    assert settings.consumer_group == "enricher-workers"
    assert settings.processing_guarantee == "at_least_once"
    assert settings.unused_after_days == 30


def test_environment_is_read_and_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICHER_KAFKA_BROKERS", "k1:9092,k2:9092")
    monkeypatch.setenv("ENRICHER_BATCH_SIZE", "123")
    monkeypatch.setenv("ENRICHER_LOG_LEVEL", "debug")
    monkeypatch.setenv("ENRICHER_TOPIC_VERDICTS", "prod.verdicts")
    settings = load_settings(batch_size=7, api_port=None)
    assert settings.kafka_brokers == "k1:9092,k2:9092"
    assert settings.batch_size == 7  # the override
    assert settings.api_port == 8080  # None means "flag not given"
    assert settings.log_level == "DEBUG"
    assert settings.topic_verdicts == "prod.verdicts"


def test_nothing_is_read_at_import_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICHER_CONSUMER_GROUP", "late")
    assert load_settings().consumer_group == "late"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/e", "postgresql+asyncpg://u:p@db:5432/e"),
        ("postgres://u:p@db/e", "postgresql+asyncpg://u:p@db/e"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://u:p@db/e", "postgresql+asyncpg://u:p@db/e"),
    ],
)
def test_database_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert load_settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"database_url": "mysql://u:p@db/e"},
        {"processing_guarantee": "exactly-once"},
        {"batch_size": 0},
        {"kafka_security_protocol": "SASL_SSL"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"},
        {"no_such_setting": 1},
    ],
)
def test_invalid_settings_raise_config_error(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="invalid settings"):
        load_settings(**overrides)


def test_confluent_config_passes_sasl_and_ssl_through() -> None:
    settings = load_settings(
        kafka_brokers="b:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile="/etc/ca.pem",
    )
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "b:9093",
        "client.id": "enricher",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ca.pem",
    }


def test_plaintext_config_has_no_security_keys() -> None:
    config = load_settings().kafka_client_config()
    assert config == {
        "bootstrap.servers": "127.0.0.1:19092",
        "client.id": "enricher",
        "security.protocol": "plaintext",
    }
    kwargs = load_settings().aiokafka_client_kwargs()
    assert kwargs["security_protocol"] == "PLAINTEXT" and "ssl_context" not in kwargs


def test_secrets_never_appear_in_printable_forms() -> None:
    settings = load_settings(
        database_url="postgresql://enricher:dbpass@db:5432/enricher",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password="kafkapass",
    )
    for text in (repr(settings), str(settings), str(settings.masked())):
        assert "dbpass" not in text and "kafkapass" not in text
    masked = settings.masked()
    assert masked["kafka_sasl_password"] == MASK
    assert masked["database_url"] == f"postgresql+asyncpg://enricher:{MASK}@db:5432/enricher"
    assert masked["kafka_sasl_username"] == "svc"


def test_mask_url_password_leaves_urls_without_password() -> None:
    assert mask_url_password("sqlite+aiosqlite:///./enricher.db") == "sqlite+aiosqlite:///./enricher.db"
    assert mask_url_password("postgresql://u@h/db") == "postgresql://u@h/db"


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(Exception, match="frozen"):
        settings.batch_size = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)
