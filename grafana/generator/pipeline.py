"""Pipeline: the processes themselves, from Prometheus (inference -> Kafka -> stream -> sink)."""

from __future__ import annotations

from typing import Any

from grafana.generator.common import PROMETHEUS, Layout, dashboard, panel, prom_target

UID = "bk-pipeline"
RI = "$__rate_interval"

# (title, unit, description, [(expr, legend)])
PANELS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "Frames in (stream worker)",
        "fps",
        "Detection records the stream apps process per second.",
        [(f'sum(rate(bk_stream_records_total{{topic="bk.detections.v1"}}[{RI}]))', "frames/s")],
    ),
    (
        "Inference frames/s per worker",
        "fps",
        "Frames analysed and published by each inference worker.",
        [(f"sum by (instance) (rate(bk_worker_frames_out_total[{RI}]))", "{{instance}}")],
    ),
    (
        "Input records/s by topic",
        "ops",
        "",
        [(f"sum by (topic) (rate(bk_stream_records_total[{RI}]))", "{{topic}}")],
    ),
    (
        "Outputs/s by topic",
        "ops",
        "Events the stream apps produce.",
        [(f"sum by (topic) (rate(bk_stream_outputs_total[{RI}]))", "{{topic}}")],
    ),
    (
        "Consumer lag",
        "short",
        "Records behind the end of each input topic (stream workers and sink).",
        [("sum by (group, topic) (bk_consumer_lag_records)", "{{group}} {{topic}}")],
    ),
    (
        "Dead letters",
        "percentunit",
        "Share of input records rejected to bk.dlq.v1, and their rate.",
        [
            (
                f"sum(rate(bk_dlq_records_total[{RI}])) / "
                f"clamp_min(sum(rate(bk_stream_records_total[{RI}])), 1e-9)",
                "DLQ share",
            ),
        ],
    ),
    (
        "Sink batch latency",
        "s",
        "Time to convert and insert one batch into ClickHouse.",
        [
            (
                f"histogram_quantile(0.5, sum by (le) (rate(bk_sink_batch_seconds_bucket[{RI}])))",
                "p50",
            ),
            (
                f"histogram_quantile(0.99, sum by (le) (rate(bk_sink_batch_seconds_bucket[{RI}])))",
                "p99",
            ),
        ],
    ),
    (
        "Rows stored/s by table",
        "ops",
        "",
        [(f"sum by (table) (rate(bk_sink_rows_total[{RI}]))", "{{table}}")],
    ),
    (
        "Event latency SLO (detected -> stored)",
        "percentunit",
        "Share of events stored within 30 s of their detected_at; objective 99 %.",
        [
            ("bk:pipeline_latency_good:ratio_rate5m", "5 m"),
            ("bk:pipeline_latency_good:ratio_rate1h", "1 h"),
        ],
    ),
    (
        "Inference batch latency",
        "s",
        "",
        [
            (
                "histogram_quantile(0.99, sum by (le, instance) "
                f"(rate(bk_worker_inference_seconds_bucket[{RI}])))",
                "p99 {{instance}}",
            )
        ],
    ),
    (
        "Inference queue and drops",
        "short",
        "Frames waiting for inference, and frames evicted from a full queue per second.",
        [
            ("sum by (instance) (bk_worker_queue_depth)", "queued {{instance}}"),
            (
                f"sum by (instance) (rate(bk_worker_frames_dropped_total[{RI}]))",
                "dropped/s {{instance}}",
            ),
        ],
    ),
    (
        "Camera streams by state",
        "short",
        "",
        [("sum by (state) (bk_worker_cameras)", "{{state}}")],
    ),
    (
        "Open SLA breaches",
        "short",
        "Breaches of alerts not yet resolved, as the stream apps export them.",
        [("sum by (kind) (bk_sla_breaches_open)", "{{kind}}")],
    ),
    (
        "Targets up",
        "short",
        "",
        [('sum by (job) (up{job=~"bk-.*"})', "{{job}}")],
    ),
]


def build() -> dict[str, Any]:
    lay = Layout()
    panels = []
    for title, unit, description, exprs in PANELS:
        targets = [
            prom_target(expr, legend, ref=chr(ord("A") + i))
            for i, (expr, legend) in enumerate(exprs)
        ]
        panels.append(
            lay.place(
                panel(
                    "timeseries",
                    title,
                    targets,
                    description=description,
                    unit=unit,
                    datasource=PROMETHEUS,
                ),
                8,
                7,
            )
        )
    return dashboard(
        UID,
        "BrightKitchen / Pipeline",
        "Throughput, lag, dead letters and latency of every BrightKitchen process.",
        panels,
        [],
        time_from="now-6h",
        refresh="30s",
        tags=("brightkitchen", "ops"),
    )
