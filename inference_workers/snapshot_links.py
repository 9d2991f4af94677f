"""Browsable links to evidence snapshots (``BK_SNAPSHOT_PUBLIC_URL``).

The worker stores ``file://…`` (embedded default) or ``s3://bucket/key``
URIs; a browser cannot open ``s3://``. Given the HTTP(S) base under which the
object store serves its buckets path-style (an S3 gateway, MinIO, a CDN, or a
presigning service that takes ``<bucket>/<key>``), a stored URI maps to::

    s3://bucket/key  ->  <base>/bucket/key   (each path segment percent-encoded)
    file://…         ->  unchanged (the embedded default: a local file)
    anything else    ->  unchanged, and so is every URI when no base is set

:func:`snapshot_link` is the rule; :func:`snapshot_link_sql` is the same rule
as a ClickHouse expression for the Grafana boards (a test checks they agree on
hostile keys). Standard library only: the CLI, the board preview and the
dashboard generator import it.
"""

from __future__ import annotations

from urllib.parse import quote


def _with_slash(base: str) -> str:
    return base if base.endswith("/") else base + "/"


def snapshot_link(uri: str | None, base: str | None) -> str | None:
    """The URL a browser opens for the stored snapshot ``uri``.

    ``s3://bucket/key`` becomes ``base`` + ``bucket/key`` with every segment of
    the path percent-encoded as UTF-8 (spaces, ``#``, ``?``, ``%`` and
    non-ASCII characters in keys included; ``/`` separates segments). Without
    a base, for ``file://`` and any other scheme, or for an ``s3://`` URI
    without ``bucket/``, ``uri`` is returned unchanged (``None`` stays ``None``).
    """
    if not uri or not base or not uri.startswith("s3://"):
        return uri
    rest = uri[len("s3://") :]
    if rest.find("/") < 1:  # no bucket, or no key separator
        return uri
    return _with_slash(base) + "/".join(quote(part, safe="") for part in rest.split("/"))


def snapshot_link_sql(column: str, base: str) -> str:
    """ClickHouse expression of :func:`snapshot_link` (``column`` and ``base``
    are SQL expressions; ``base`` a string, ``''`` for none). NULL stays NULL."""
    rest = f"substring({column}, 6)"
    return (
        f"if(startsWith({column}, 's3://') AND {base} != '' AND position({rest}, '/') > 1, "
        f"concat(if(endsWith({base}, '/'), {base}, concat({base}, '/')), "
        f"arrayStringConcat(arrayMap(s -> encodeURLComponent(s), splitByChar('/', {rest})), "
        f"'/')), {column})"
    )
