"""Settings from `BK_*` environment variables (and an optional `.env`/`BK_ENV_FILE`).

Nested sections use a double underscore: `BK_VIOLATIONS__MERGE_GAP_S=90`.
With no `BK_KAFKA_BOOTSTRAP` the CLI starts the embedded Tansu broker; with no
`BK_CLICKHOUSE_URL` it uses the embedded chdb store at `BK_STORE_PATH`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_apps.engines.violations import DEFAULT_CLASS_PARAMS, ClassParams, ViolationParams


class ClassSettings(BaseModel):
    """Evidence rules of one violation class (see stream_apps/engines/violations.py)."""

    min_score: float = Field(0.5, ge=0, le=1)
    open_hits: int = Field(4, ge=1)
    open_window_s: float = Field(12.0, gt=0)
    keep_hits: int = Field(2, ge=1)
    keep_window_s: float = Field(15.0, gt=0)
    close_after_s: float | None = None


def _default_classes() -> dict[str, ClassSettings]:
    return {k: ClassSettings(**vars(v)) for k, v in DEFAULT_CLASS_PARAMS.items()}


class ViolationSettings(BaseModel):
    merge_gap_s: float = Field(60.0, gt=0, description="episodes closer than this are one")
    lateness_s: float = Field(5.0, ge=0, description="how late a frame may arrive")
    idle_expiry_s: float = Field(3600.0, gt=0, description="forget idle cameras after")
    classes: dict[str, ClassSettings] = Field(default_factory=_default_classes)
    severity: dict[str, str] = Field(default_factory=dict, description="overrides by class")

    def params(self) -> ViolationParams:
        base = ViolationParams()
        return ViolationParams(
            merge_gap_s=self.merge_gap_s,
            lateness_s=self.lateness_s,
            idle_expiry_s=self.idle_expiry_s,
            classes={k: ClassParams(**v.model_dump()) for k, v in self.classes.items()},
            severity={**base.severity, **self.severity},
        )


class Settings(BaseSettings):
    """Everything a BrightKitchen process reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="BK_",
        env_nested_delimiter="__",
        env_file=os.environ.get("BK_ENV_FILE", ".env"),
        extra="ignore",
    )

    kafka_bootstrap: str | None = Field(
        None, description="host:port list of a Kafka cluster; unset = embedded Tansu broker"
    )
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    partitions: int = Field(4, ge=1, description="partitions of topics BrightKitchen creates")
    replication_factor: int = Field(1, ge=1)
    retention_ms: int = Field(7 * 24 * 3600 * 1000, description="retention of created topics")
    fetch_max_wait_ms: int = Field(
        100,
        ge=1,
        description="longest a consumer's fetch waits for data; Tansu holds every fetch "
        "this long, so it adds up to this much latency per hop",
    )

    clickhouse_url: str | None = Field(
        None, description="http(s)://user@host:8123 of a ClickHouse server; unset = chdb"
    )
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_password_file: Path | None = None
    store_path: Path = Field(Path("bk-data/store"), description="embedded chdb store folder")

    app_id: str = Field("brightkitchen", description="Faust app id (consumer group prefix)")
    web_port: int = Field(6066, ge=1, description="camera app web server port (metrics)")
    web_bind: str = Field("0.0.0.0", description="address the stream apps' web servers bind")
    batch_max: int = Field(2000, ge=1, description="records per stream batch")
    batch_within_s: float = Field(0.05, gt=0, description="max wait to fill a batch")
    sink_batch_rows: int = Field(50_000, ge=1, description="rows per store insert")
    sink_flush_s: float = Field(0.2, gt=0, description="max age of a sink batch")
    checkpoint_interval_s: float = Field(
        30.0, gt=0, description="how often changed engine state is checkpointed (wall clock)"
    )
    live_clock_lag_s: float | None = Field(
        None,
        description="live mode: also advance the watermark to wall clock minus this lag, so a "
        "whole worker going silent is detected; unset for replays of recorded time",
    )
    ops_web_port: int = Field(6067, ge=1, description="ops app web server (dispositions, metrics)")
    dispositions_token: str | None = Field(
        None, description="bearer token of POST /dispositions; unset = endpoint off"
    )
    calendar_override: Path | None = Field(
        None, description="JSON of holidays/workdays for years the calendar package lacks"
    )
    violations: ViolationSettings = Field(default_factory=ViolationSettings)

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def embedded_store(self) -> bool:
        return not self.clickhouse_url

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka settings for security (SASL/TLS) shared by every client."""
        conf = {"security.protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username or ""
            conf["sasl.password"] = self.kafka_sasl_password or ""
        if self.kafka_ssl_cafile:
            conf["ssl.ca.location"] = self.kafka_ssl_cafile
        return conf

    def kafka_consumer_config(self) -> dict[str, Any]:
        """librdkafka settings shared by every consumer: security plus the fetch wait."""
        return {**self.kafka_client_config(), "fetch.wait.max.ms": self.fetch_max_wait_ms}

    def clickhouse_secret(self) -> str:
        if self.clickhouse_password_file:
            return self.clickhouse_password_file.read_text().strip()
        return self.clickhouse_password


def load() -> Settings:
    return Settings()
