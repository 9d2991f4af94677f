"""One redaction for every URL the inference worker logs, reports or raises.

``redact(text)`` hides credentials in a URL or in any text holding URLs (an
FFmpeg error, a status ``detail``, an exception message):

- **userinfo**, whatever it holds: everything between ``scheme://`` and the
  *last* ``@`` of the URL becomes ``***`` (a camera password may contain an
  unencoded ``/``, ``:``, ``?``, ``#`` or ``@``; the last ``@`` is where the host
  begins);
- **query parameters**: every value whose name is not on :data:`ALLOWED_PARAMS`
  (stream selectors such as ``channel``, ``subtype``) becomes ``***``; a bare
  parameter without ``=`` becomes ``***``; so does a fragment.
- **known secrets**: :func:`remember` (called for every configured camera URL)
  records its userinfo and non-allowed parameter values, raw and
  percent-decoded; they are replaced wherever they appear, e.g. when FFmpeg
  echoes a decoded password or splits a URL at a space.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import unquote

REDACTED = "***"
# Query parameters that select a stream and never carry a secret.
ALLOWED_PARAMS = frozenset(
    {
        "channel",
        "channels",
        "ch",
        "chn",
        "subtype",
        "stream",
        "streamtype",
        "profile",
        "codec",
        "videocodec",
        "transport",
        "rtsp_transport",
        "tcp",
        "udp",
        "unicast",
        "multicast",
        "resolution",
        "width",
        "height",
        "fps",
        "framerate",
        "bitrate",
        "quality",
        "format",
        "mode",
        "type",
        "camera",
        "cam",
        "id",
        "source",
        "track",
        "trackid",
        "starttime",
        "endtime",
    }
)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{0,31}://")
# A URL inside free text ends at whitespace or a quote/bracket that closes it.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s\"'<>`]*")
_MIN_SECRET = 3  # shorter literals would shred ordinary text; the patterns still apply

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def _query(query: str) -> str:
    out = []
    for part in re.split(r"([&;])", query):
        if part in ("&", ";") or part == "":
            out.append(part)
            continue
        name, eq, _value = part.partition("=")
        if eq and unquote(name).strip().lower() in ALLOWED_PARAMS:
            out.append(part)
        elif eq:
            out.append(f"{name}={REDACTED}")
        else:
            out.append(REDACTED)
    return "".join(out)


def redact_url(url: str) -> str:
    """One URL with its credentials replaced by ``***`` (see the module doc)."""
    m = _SCHEME.match(url)
    if m is None:
        return url
    scheme, rest = m.group(0), url[m.end() :]
    if "@" in rest:
        rest = REDACTED + rest[rest.rindex("@") :]
    head, hash_, fragment = rest.partition("#")
    base, q, query = head.partition("?")
    out = scheme + base
    if q:
        out += "?" + _query(query)
    if hash_:
        out += "#" + (REDACTED if fragment else "")
    return out


def secrets_of(url: str) -> set[str]:
    """The literal secrets of a URL: its userinfo (and parts), non-allowed parameter values."""
    m = _SCHEME.match(url)
    if m is None:
        return set()
    rest = url[m.end() :]
    found = set()
    if "@" in rest:
        userinfo = rest[: rest.rindex("@")]
        rest = rest[rest.rindex("@") + 1 :]
        found.add(userinfo)
        user, _, password = userinfo.partition(":")
        found |= {user, password}
    head = rest.partition("#")
    if head[2]:
        found.add(head[2])
    query = head[0].partition("?")[2]
    for part in re.split(r"[&;]", query):
        name, eq, value = part.partition("=")
        if eq and unquote(name).strip().lower() in ALLOWED_PARAMS:
            continue
        found.add(value if eq else part)
    found |= {unquote(s) for s in found}
    return {s for s in found if len(s) >= _MIN_SECRET}


def remember(url: str) -> None:
    """Record a configured URL's secrets so that they are hidden wherever they appear."""
    global _pattern
    new = secrets_of(url)
    with _secrets_lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(map(re.escape, alternatives)))


def redact(text: str) -> str:
    """Hide credentials in a URL, or in any text holding URLs."""
    text = str(text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if _SCHEME.match(text):  # the text is a URL (its password may hold anything)
        return redact_url(text)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
