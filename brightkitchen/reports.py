"""Printable reports of the regulators' loop: a station's plan, the weekly key-monitoring list.

Pure functions from rows (dicts, as `brightkitchen query` gives them) to text,
CSV and a self-contained HTML page an inspector can print; the CLI
(brightkitchen/cli_inspections.py) reads the rows from the store.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8))

PLAN_SQL = """
SELECT operator_id, operator_name, station, grade, colour, grade_reason, on_key_monitoring,
       due_per_year, last_inspection_at, last_on_site_at, last_result, next_due_at, overdue,
       overdue_days, month, inspected_this_month, station_operators,
       station_inspected_this_month, risk_rank, alerts_30d, as_of
FROM bk.inspection_plan FINAL
WHERE station = {station:String}
ORDER BY risk_rank
"""

KEY_MONITORING_SQL = """
SELECT operator_id, operator_name, district, station, state, since, until, reason, events,
       suspicious, evidence
FROM bk.key_monitoring FINAL
WHERE since < {week_end:DateTime64(3)}
  AND (until IS NULL OR until >= {week_start:DateTime64(3)})
  AND ({station:String} = '' OR station = {station:String})
ORDER BY station, since, operator_id
"""

KEY_MONITORING_COLUMNS = (
    "station",
    "operator_id",
    "operator_name",
    "since",
    "until",
    "state",
    "events",
    "suspicious",
    "reason",
    "evidence",
)


def iso_week(week: str) -> tuple[datetime, datetime]:
    """ISO week "2026-W46" -> [Monday 00:00, next Monday 00:00) Beijing time, in UTC."""
    try:
        year, w = week.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise ValueError(f"--week {week!r}: want an ISO week like 2026-W46") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=BEIJING)
    return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def local(value: Any) -> str:
    """A stored time as Beijing local time, minutes; '' for null."""
    if value in (None, ""):
        return ""
    if isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        dt = datetime.fromisoformat(str(value))
        dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def key_monitoring_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(KEY_MONITORING_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r["station"],
                r["operator_id"],
                r["operator_name"],
                local(r["since"]),
                local(r["until"]),
                r["state"],
                r["events"],
                r["suspicious"],
                r["reason"],
                " ".join(r["evidence"]),
            ]
        )
    return buf.getvalue()


def key_monitoring_html(rows: list[dict[str, Any]], week: str, station: str = "") -> str:
    title = f"重点监控名单 Key-monitoring list — {week}" + (f" — {station}" if station else "")
    body = (
        "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    r["station"],
                    f"{r['operator_name']} ({r['operator_id']})",
                    local(r["since"]),
                    local(r["until"]) or "on the list",
                    r["events"],
                    r["suspicious"],
                    r["reason"],
                    ", ".join(r["evidence"]),
                )
            )
            + "</tr>"
            for r in rows
        )
        or '<tr><td colspan="8">No operator on the list this week.</td></tr>'
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 4px 6px; font-size: 11pt; vertical-align: top; }}
th {{ background: #eee; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>河西区阳光食品平台运行使用办法 第十二条: operators who deliberately cut the network or power or
turn the camera are notified to the station, interviewed and kept on this list.
Rule: docs/inspections.md.</p>
<table><thead><tr><th>站所 Station</th><th>经营者 Operator</th><th>列入 Since</th>
<th>移出 Until</th><th>Events</th><th>Suspicious</th><th>Reason</th><th>Evidence (event ids)</th>
</tr></thead><tbody>{body}</tbody></table>
</body></html>
"""


def plan_text(rows: list[dict[str, Any]]) -> str:
    """The month's list for a station, riskiest first, as aligned text."""
    if not rows:
        return "no operator in the plan for this station\n"
    first = rows[0]
    head = (
        f"{first['station']} — {first['month']}: {first['station_inspected_this_month']} of "
        f"{first['station_operators']} operators inspected this month (full round, 河西 §13)\n"
    )
    lines = [
        f"{'#':>2} {'operator':<24} {'grade':<8} {'per yr':>6} {'last':<16} {'next due':<16} "
        f"{'status':<14} {'month':<5} alerts30d"
    ]
    for r in rows:
        grade = r["grade"] or "ungraded"
        if r["on_key_monitoring"]:
            grade += "*"
        status = f"OVERDUE {r['overdue_days']:.1f}d" if r["overdue"] else "ok"
        lines.append(
            f"{r['risk_rank']:>2} {(r['operator_name'] + ' ' + r['operator_id'])[:24]:<24} "
            f"{grade:<8} {r['due_per_year']:>6g} {local(r['last_inspection_at']):<16} "
            f"{local(r['next_due_at']):<16} {status:<14} "
            f"{'yes' if r['inspected_this_month'] else 'no':<5} {r['alerts_30d']}"
        )
    return head + "\n".join(lines) + "\n* on the key-monitoring list\n"
