"""Webhook delivery of notifications: a durable outbox, retries, a rate limit per receiver.

The ops app's `NotificationEngine` decides what to send; this module sends it.

- **Outbox** (SQLite, one file, stdlib): ``add`` inserts each notification
  under its deterministic ``notification_id`` (INSERT OR IGNORE), so a replayed
  input or a restart re-adding the same notification changes nothing, and
  nothing decided is lost when the process dies: it is on disk before the
  input offsets are committed.
- **Sender**: ``send_due(now)`` posts the pending notifications whose
  ``next_at`` has come, oldest first. Success (2xx, and for DingTalk / WeCom
  robots ``errcode == 0`` in the answer) marks the row ``sent`` in the same
  step; a failure schedules a retry with exponential backoff (``backoff_s`` ·
  2^attempts, at most ``max_backoff_s``) until ``max_attempts``, then the row is
  ``dead`` with the last error (visible in ``stats()``).
- **Rate limit** per receiver (webhook URL: one robot may serve several
  operators): at most ``per_minute`` sends in any 60 s (the robots' own limit
  is 20/min); the count comes from the outbox, so a restart
  does not reset it. Rows over the limit wait, they are not dropped.
- **Twice?** A row is marked sent right after its POST succeeds. Only a crash
  between the receiver's 2xx and that commit can resend it; JSON receivers get
  ``Idempotency-Key: <notification_id>`` (and the id in the body) to drop such
  a copy. DingTalk and WeCom robots have no such key: at most that one message
  can repeat.

Formats: DingTalk robot ``{"msgtype": "markdown", "markdown": {"title", "text"}}``,
WeCom robot ``{"msgtype": "markdown", "markdown": {"content"}}``, plain JSON
(the notification's fields).
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from schemas.records import Notification

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    format TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (url, sent_at);
"""


def render(n: Notification) -> tuple[bytes, dict[str, str]]:
    """(request body, extra headers) of a notification in its receiver's format."""
    if n.format == "dingtalk":
        body = {
            "msgtype": "markdown",
            "markdown": {"title": n.title, "text": f"### {n.title}\n\n{n.text}"},
        }
        return json.dumps(body, ensure_ascii=False).encode(), {}
    if n.format == "wecom":
        body = {"msgtype": "markdown", "markdown": {"content": f"**{n.title}**\n{n.text}"}}
        return json.dumps(body, ensure_ascii=False).encode(), {}
    return msgspec.json.encode(n), {"Idempotency-Key": n.notification_id}


def http_post(
    url: str, body: bytes, headers: dict[str, str], timeout: float = 10.0
) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def delivered(fmt: str, status: int, answer: bytes) -> tuple[bool, str]:
    """Whether the receiver took it, and why not."""
    if not 200 <= status < 300:
        return False, f"HTTP {status}"
    if fmt in ("dingtalk", "wecom"):
        try:
            code = json.loads(answer or b"{}").get("errcode", 0)
        except (ValueError, AttributeError):
            return False, "robot answer is not JSON"
        if code != 0:
            return False, f"robot errcode {code}"
    return True, ""


@dataclass
class SendStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    rate_limited: int = 0


class Outbox:
    """The durable queue of notifications (see module doc)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def add(self, notifications: list[Notification], now: float | None = None) -> int:
        """Queue notifications; those already queued (same id) are ignored. Returns new rows."""
        now = time.time() if now is None else now
        rows = []
        for n in notifications:
            body, headers = render(n)
            blob = json.dumps({"body": body.decode(), "headers": headers}).encode()
            rows.append((n.notification_id, n.receiver, n.format, n.url, blob, now, now))
        before = self.db.total_changes
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO outbox (id, receiver, format, url, body, created, next_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return self.db.total_changes - before

    def stats(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())

    def close(self) -> None:
        self.db.close()


class Sender:
    """Posts due notifications with retries and a per-receiver rate limit."""

    def __init__(
        self,
        outbox: Outbox,
        post: Callable[[str, bytes, dict[str, str]], tuple[int, bytes]] = http_post,
        per_minute: int = 20,
        max_attempts: int = 8,
        backoff_s: float = 5.0,
        max_backoff_s: float = 600.0,
        batch: int = 200,
    ) -> None:
        self.outbox = outbox
        self.post = post
        self.per_minute = per_minute
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch = batch

    def send_due(self, now: float | None = None) -> SendStats:
        now = time.time() if now is None else now
        db = self.outbox.db
        stats = SendStats()
        due = db.execute(
            "SELECT id, receiver, format, url, body, attempts FROM outbox "
            "WHERE state = 'pending' AND next_at <= ? ORDER BY created, id LIMIT ?",
            (now, self.batch),
        ).fetchall()
        budget: dict[str, int] = {}
        for nid, _receiver, fmt, url, blob, attempts in due:
            if url not in budget:
                (recent,) = db.execute(
                    "SELECT count(*) FROM outbox WHERE url = ? AND sent_at > ?",
                    (url, now - 60.0),
                ).fetchone()
                budget[url] = self.per_minute - recent
            if budget[url] <= 0:
                stats.rate_limited += 1
                continue
            payload: dict[str, Any] = json.loads(blob)
            try:
                status, answer = self.post(url, payload["body"].encode(), payload["headers"])
                ok, why = delivered(fmt, status, answer)
            except OSError as exc:  # refused, timeout, DNS: retry later
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                budget[url] -= 1
                with db:
                    db.execute(
                        "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 "
                        "WHERE id = ?",
                        (now, nid),
                    )
                stats.sent += 1
                continue
            attempts += 1
            if attempts >= self.max_attempts:
                state, next_at = "dead", now
                stats.dead += 1
            else:
                state = "pending"
                next_at = now + min(self.max_backoff_s, self.backoff_s * 2 ** (attempts - 1))
                stats.failed += 1
            with db:
                db.execute(
                    "UPDATE outbox SET attempts = ?, next_at = ?, state = ?, last_error = ? "
                    "WHERE id = ?",
                    (attempts, next_at, state, why, nid),
                )
        return stats


__all__ = ["Outbox", "SendStats", "Sender", "delivered", "http_post", "render"]
