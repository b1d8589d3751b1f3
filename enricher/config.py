"""Settings: one object, read from ``ENRICHER_*`` environment variables and flags.

Built once at start-up by :func:`load_settings` (never at import time) and passed down. Secrets
are ``SecretStr`` and every printable form (``repr``, :meth:`Settings.masked`) hides them, the
password inside ``database_url`` included.
"""

from __future__ import annotations

import ssl
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from enricher.errors import ConfigError

MASK: Final = "**********"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Short driver-less URLs are accepted and given the async driver the store runs on.
_URL_SCHEMES: Final = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class Settings(BaseSettings):
    """Every knob of the service; environment variable = ``ENRICHER_`` + field name, upper-case."""

    model_config = SettingsConfigDict(env_prefix="ENRICHER_", extra="forbid", frozen=True)

    # store
    database_url: str = "sqlite+aiosqlite:///./enricher.db"

    # Kafka connection (SASL/SSL pass through to confluent-kafka and aiokafka)
    kafka_brokers: str = "127.0.0.1:19092"
    kafka_client_id: str = "enricher"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_key_password: SecretStr | None = None

    # topics
    topic_raw_cloudtrail: str = "raw.cloudtrail"
    topic_raw_k8s_audit: str = "raw.k8s-audit"
    topic_raw_mesh: str = "raw.mesh"
    topic_verdicts: str = "enricher.verdicts"
    topic_alerts: str = "enricher.alerts"
    topic_alerts_ocsf: str = "enricher.alerts.ocsf"
    topic_deadletter: str = "enricher.deadletter"
    topic_baseline: str = "enricher.baseline"
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)

    # workers
    consumer_group: str = "enricher-workers"
    processing_guarantee: ProcessingGuarantee = "at_least_once"
    batch_size: int = Field(default=5000, ge=1)
    # how long one consume() waits to fill a batch; bounds the latency added at low rates
    batch_timeout_s: float = Field(default=0.02, gt=0)
    metrics_port: int = Field(default=9464, ge=0, le=65535)

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)

    log_level: LogLevel = "INFO"
    unused_after_days: int = Field(default=30, ge=1)
    # stored verdicts older than this are dropped by the sink's retention (0 keeps them forever)
    verdict_retention_days: int = Field(default=30, ge=0)

    # worker internals
    worker_id: str | None = None  # stable id (transactional.id suffix); default host-pid
    kafka_session_timeout_s: float = Field(default=10.0, gt=0)
    # how often each worker asks the store for a newer baseline_version (changes visible within this)
    baseline_poll_interval_s: float = Field(default=0.5, gt=0)
    # how often pre-aggregated entitlement last-use times are written to the store
    usage_flush_interval_s: float = Field(default=1.0, gt=0)
    # how often the unused-entitlement check runs (0 disables it on this worker)
    unused_check_interval_s: float = Field(default=3600.0, ge=0)
    # Kubernetes cluster name stamped on audit verdicts (audit events do not carry it)
    cluster_name: str | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in _URL_SCHEMES:
            raise ValueError(
                "database_url must be sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST:PORT/DB"
            )
        return f"{_URL_SCHEMES[scheme.lower()]}://{rest}"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _sasl_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_"):
            if self.kafka_sasl_mechanism is None:
                raise ValueError(f"kafka_sasl_mechanism is required with {self.kafka_security_protocol}")
            needs_password = self.kafka_sasl_mechanism != "OAUTHBEARER"
            if needs_password and (self.kafka_sasl_username is None or self.kafka_sasl_password is None):
                mechanism = self.kafka_sasl_mechanism
                raise ValueError(f"kafka_sasl_username and kafka_sasl_password are required with {mechanism}")
        return self

    @property
    def raw_topics(self) -> dict[str, str]:
        """Input topic of each source, keyed by the source name a verdict carries."""
        return {
            "cloudtrail": self.topic_raw_cloudtrail,
            "k8s_audit": self.topic_raw_k8s_audit,
            "mesh": self.topic_raw_mesh,
        }

    @property
    def output_topics(self) -> tuple[str, ...]:
        """Every topic the workers write (baseline topic excluded)."""
        return (self.topic_verdicts, self.topic_alerts, self.topic_alerts_ocsf, self.topic_deadletter)

    def kafka_client_config(self) -> dict[str, str]:
        """The confluent-kafka (librdkafka) settings shared by every producer, consumer and admin client."""
        config = {
            "bootstrap.servers": self.kafka_brokers,
            "client.id": self.kafka_client_id,
            "security.protocol": self.kafka_security_protocol.lower(),
        }
        if self.kafka_sasl_mechanism is not None:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username is not None:
            config["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        optional = {
            "ssl.ca.location": self.kafka_ssl_cafile,
            "ssl.certificate.location": self.kafka_ssl_certfile,
            "ssl.key.location": self.kafka_ssl_keyfile,
        }
        config.update({key: value for key, value in optional.items() if value is not None})
        if self.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = self.kafka_ssl_key_password.get_secret_value()
        return config

    def aiokafka_client_kwargs(self) -> dict[str, Any]:
        """The same connection as keyword arguments for aiokafka clients (what faust's driver uses)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.kafka_brokers,
            "client_id": self.kafka_client_id,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username is not None:
            kwargs["sasl_plain_username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            kwargs["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context from the configured CA, certificate and key files."""
        context = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile is not None:
            password = self.kafka_ssl_key_password
            context.load_cert_chain(
                self.kafka_ssl_certfile,
                self.kafka_ssl_keyfile,
                password.get_secret_value() if password is not None else None,
            )
        return context

    def masked(self) -> dict[str, Any]:
        """All settings as plain values with every secret replaced by a mask: safe to log."""
        values = self.model_dump()
        for name, value in values.items():
            if isinstance(value, SecretStr):
                values[name] = MASK
        values["database_url"] = mask_url_password(self.database_url)
        return values

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, mask_url_password(value) if name == "database_url" else value


def mask_url_password(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:**********@host/db``; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, with ``overrides`` (e.g. CLI flags) taking precedence.

    Raises :class:`ConfigError` naming every invalid field, so a bad deployment fails at start-up
    with a readable message instead of a pydantic traceback.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
