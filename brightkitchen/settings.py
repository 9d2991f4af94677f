"""Settings from `BK_*` environment variables (and an optional `.env`/`BK_ENV_FILE`).

Nested sections use a double underscore: `BK_VIOLATIONS__MERGE_GAP_S=90`.
With no `BK_KAFKA_BOOTSTRAP` the CLI starts the embedded Tansu broker; with no
`BK_CLICKHOUSE_URL` it uses the embedded chdb store at `BK_STORE_PATH`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from brightkitchen.settings_tree import (
    NameIndex,
    SettingDoc,
    UnknownSettingError,
    check_environment,
    check_mapping,
    reference_table,
    type_name,
    walk_dataclass,
)
from stream_apps.engines.alerts import AlertParams
from stream_apps.engines.camera_health import HealthParams
from stream_apps.engines.loop import LoopParams
from stream_apps.engines.notifications import NotificationParams
from stream_apps.engines.rates import RateParams
from stream_apps.engines.sla import SlaParams
from stream_apps.engines.violations import ViolationParams

# Engine sections: the engines' own parameter dataclasses, so every default,
# bound and description is written once, beside the code that uses it.
ENGINE_SECTIONS: dict[str, type] = {
    "violations": ViolationParams,
    "camera_health": HealthParams,
    "alerts": AlertParams,
    "sla": SlaParams,
    "rates": RateParams,
    "loop": LoopParams,
    "notifications": NotificationParams,
}
SETTINGS_FILE_VAR = "BK_SETTINGS_FILE"


def _merge_onto(default: Any, given: Any) -> Any:
    """Overlay a partial mapping on a default (dataclass or dict), recursively.

    ``BK_VIOLATIONS__CLASSES__RODENT__OPEN_HITS=3`` arrives as
    ``{"classes": {"rodent": {"open_hits": "3"}}}``; without the overlay the
    rodent's other defaults and every other class would be lost.
    """
    if not isinstance(given, dict):
        return given
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        base = {f.name: getattr(default, f.name) for f in dataclasses.fields(default)}
    elif isinstance(default, dict):
        base = dict(default)
    else:
        return given
    for key, value in given.items():
        base[key] = _merge_onto(base.get(key), value)
    return base


class _SettingsFileSource(PydanticBaseSettingsSource):
    """The nested JSON or YAML file named by ``BK_SETTINGS_FILE`` (what the runtime
    writes for the workers it starts, so they see exactly its settings)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(SETTINGS_FILE_VAR)
        return read_settings_file(Path(path)) if path else {}


def read_settings_file(path: Path) -> dict[str, Any]:
    """A settings file's mapping; unknown keys are an error naming the closest valid one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"settings file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise SettingsError(f"settings file {path}: not valid JSON/YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path}: the top level must be a mapping")
    check_mapping(name_index(), data, f"key in settings file {path}")
    return data


class SettingsError(ValueError):
    """Settings that cannot be loaded; the message names the variable, key or file."""


class Settings(BaseSettings):
    """Everything a BrightKitchen process reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="BK_",
        env_nested_delimiter="__",
        env_file=".env",  # or BK_ENV_FILE, read by load() (not at import)
        extra="ignore",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls,
        init_settings,
        env_settings,
        dotenv_settings,
        file_secret_settings,
    ):
        return (init_settings, env_settings, dotenv_settings, _SettingsFileSource(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _overlay_engine_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for section, params in ENGINE_SECTIONS.items():
                if isinstance(data.get(section), dict):
                    data[section] = _merge_onto(params(), data[section])
        return data

    kafka_bootstrap: str | None = Field(
        None, description="host:port list of a Kafka cluster; unset = embedded Tansu broker"
    )
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (every client)"
    )
    kafka_sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256/512")
    kafka_sasl_username: str | None = Field(None, description="SASL user")
    kafka_sasl_password: str | None = Field(None, description="SASL password (never logged)")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for TLS to the brokers")
    partitions: int = Field(4, ge=1, description="partitions of topics BrightKitchen creates")
    replication_factor: int = Field(1, ge=1, description="replicas of topics BrightKitchen creates")
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
    clickhouse_user: str = Field("default", description="ClickHouse server user")
    clickhouse_password: str = Field("", description="its password (never logged)")
    clickhouse_password_file: Path | None = Field(
        None, description="file holding the password (a mounted secret); wins over the variable"
    )
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
    input_end_file: Path | None = Field(
        None,
        description="replay: the file where the runtime writes each input partition's last "
        "offset once everything is published; a camera partition that has read its frames up "
        "to there stops waiting for more, so a heartbeats-only tail moves the clock to its end. "
        "Set by the runtime; unset in live mode",
    )
    ops_web_port: int = Field(6067, ge=1, description="ops app web server (dispositions, metrics)")
    dispositions_token: str | None = Field(
        None, description="bearer token of POST /dispositions; unset = endpoint off"
    )
    disposition_max_skew_s: float = Field(
        3600.0,
        ge=0,
        description="a disposition dated more than this after the ops clock (or the wall "
        "clock, whichever is later) is refused: 422 on HTTP, dead letter on the topic",
    )
    calendar_override: Path | None = Field(
        None, description="JSON of holidays/workdays for years the calendar package lacks"
    )
    clickhouse_cluster: str | None = Field(
        None, description="cluster name for ON CLUSTER migrations; unset = one node"
    )
    http_body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="longest a client may take to send one whole POST body to the ops web "
        "server (then 408)",
    )
    clickhouse_query_user: str | None = Field(
        None,
        description="ClickHouse server user `brightkitchen query` connects as: create it "
        "read-only (docs/reliability.md); unset = BK_CLICKHOUSE_USER",
    )
    clickhouse_query_password_file: Path | None = Field(
        None, description="file holding the password of BK_CLICKHOUSE_QUERY_USER"
    )
    worker_metrics_bind: str = Field(
        "127.0.0.1",
        description="address the inference worker's Prometheus endpoint binds (0.0.0.0 = all)",
    )
    snapshot_store: str | None = Field(
        None,
        description="where inference workers keep evidence JPEGs: a folder, file:///folder or "
        "s3://bucket/prefix; unset = bk-data/snapshots",
    )
    snapshot_s3_endpoint: str | None = Field(
        None, description="endpoint URL of an S3-compatible store (MinIO, Ceph); unset = AWS"
    )
    snapshot_retention_days: float = Field(
        90.0, gt=0, description="evidence JPEGs older than this are deleted by the worker"
    )
    snapshot_min_interval_s: float = Field(
        5.0,
        ge=0,
        description="the worker stores at most one evidence JPEG per camera per this many "
        "seconds of frame time (0 = every violation frame)",
    )
    snapshot_public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="HTTP(S) base under which the object store serves snapshot buckets "
        "path-style: s3://bucket/key is linked as <base>/bucket/key (boards, `alerts list`); "
        "unset = links are the stored URIs",
    )
    sink_metrics_port: int = Field(
        9465, ge=1, description="`brightkitchen sink` serves Prometheus /metrics on this port"
    )

    violations: ViolationParams = Field(
        default_factory=ViolationParams, description="violation debouncer (per-class evidence)"
    )
    camera_health: HealthParams = Field(
        default_factory=HealthParams, description="offline, frozen, blurred, dark, angle_changed"
    )
    alerts: AlertParams = Field(default_factory=AlertParams, description="alert grouping")
    sla: SlaParams = Field(default_factory=SlaParams, description="SLA clocks")
    rates: RateParams = Field(default_factory=RateParams, description="operator rates, grades")
    # issue 18: the regulators' loop and real-time notifications (docs/inspections.md)
    loop: LoopParams = Field(
        default_factory=LoopParams,
        description="inspection plan, station KPIs, key monitoring, licences",
    )
    notifications: NotificationParams = Field(
        default_factory=NotificationParams, description="real-time webhook notifications"
    )
    notify_outbox_path: Path = Field(
        Path("bk-data/notify-outbox.sqlite3"), description="notification outbox (SQLite file)"
    )
    notify_per_minute: int = Field(20, ge=1, description="sends per receiver URL per minute")

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

    def to_file(self, directory: Path | None = None) -> Path:
        """Write these settings as a private JSON file for ``BK_SETTINGS_FILE``.

        The runtime hands it to every worker it starts, so a Settings built in
        code (demo, replay, benchmarks, tests) reaches them whole.
        """
        fd, name = tempfile.mkstemp(prefix="bk-settings-", suffix=".json", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.model_dump(mode="json", exclude_none=True), out, indent=1)
        os.chmod(name, stat.S_IRUSR | stat.S_IWUSR)  # may hold credentials
        return Path(name)


@cache
def name_index() -> NameIndex:
    """Every valid ``BK_*`` name (top-level fields and engine parameters)."""
    return NameIndex.of({k: f.annotation for k, f in Settings.model_fields.items()})


def reference() -> list[SettingDoc]:
    """Every setting with its variable, default and meaning, in model order."""
    rows: list[SettingDoc] = []
    defaults = Settings.model_construct()
    for name, field in Settings.model_fields.items():
        env = f"BK_{name.upper()}"
        if name in ENGINE_SECTIONS:
            rows.extend(walk_dataclass(ENGINE_SECTIONS[name], env, ENGINE_SECTIONS[name]()))
            continue
        default = getattr(defaults, name)
        shown = "unset" if default is None else str(default)
        rows.append(SettingDoc(env, type_name(field.annotation), shown, field.description or ""))
    return rows


SETTINGS_PAGE_HEAD = """# Settings reference

Generated by `brightkitchen settings` from the code (`brightkitchen/settings.py`
and the engines' parameter dataclasses, where every engine default lives once);
`tests/unit/test_settings.py` fails when this page drifts.

Every row is an environment variable (or the same key, nested, in the JSON/YAML
file named by `BK_SETTINGS_FILE`; or a line of `.env` / `BK_ENV_FILE`). Nested
sections use `__`: `BK_CAMERA_HEALTH__OFFLINE_AFTER_S=90`. Mappings and lists take
JSON (`BK_ALERTS__CAMERA_KINDS='["offline","frozen"]'`); one entry of a mapping of
classes is set alone (`BK_VIOLATIONS__CLASSES__RODENT__OPEN_HITS=3` keeps every
other default). A `BK_*` variable that names no setting is an error naming the
closest valid one (exit code 2), so a misspelt variable never leaves a default
in force silently. Precedence: variables, then `.env`, then `BK_SETTINGS_FILE`,
then the defaults below.

Not settings (read by deployment tooling, tests and benchmarks, and ignored by the
check): `BK_ENV_FILE`, `BK_SETTINGS_FILE`, `BK_TANSU_LOG`, `BK_ONCALL_WEBHOOK_URL`,
`BK_DINGTALK_WEBHOOK_URL`, `BK_WECOM_WEBHOOK_URL`, `BK_IMAGE`, `BK_STREAM_REPLICAS`,
`BK_CAMERAS_FILE` and names starting `BK_BENCH_`, `BK_GRAFANA_`, `BK_HYPOTHESIS_`,
`BK_TEST_`.

"""


def settings_reference_page() -> str:
    return SETTINGS_PAGE_HEAD + reference_table(reference())


def load() -> Settings:
    """Settings from the environment, a ``.env`` file and ``BK_SETTINGS_FILE``.

    A ``BK_*`` variable (or settings-file key) that names no setting is an
    error naming the closest valid name: a misspelt variable would otherwise
    load without a word and leave the default in force.
    """
    env = os.environ
    try:
        check_environment(name_index(), env)
        dotenv = Path(env.get("BK_ENV_FILE", ".env"))
        if dotenv.is_file():
            check_environment(name_index(), _dotenv_names(dotenv))
        return Settings(_env_file=dotenv)
    except UnknownSettingError as exc:
        raise SettingsError(str(exc)) from None
    except ValueError as exc:  # pydantic's ValidationError is one
        raise SettingsError(f"invalid settings: {exc}") from None


def _dotenv_names(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v or "" for k, v in dotenv_values(path).items()}
