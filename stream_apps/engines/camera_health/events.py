"""Episodes in, ``CameraEvent`` records out: the sustained-run step shared by
dark, blurred and angle_changed, and the open/closed emission with its
deterministic event id (camera, kind and ``started_at`` hashed)."""

from __future__ import annotations

from schemas.records import SCHEMA_VERSION, CameraEvent
from stream_apps.engines.camera_health.state import _Camera, _clear, _Episode, _update_suppress
from stream_apps.engines.ids import stable_id


def camera_event_id(camera_id: str, kind: str, started_at: float) -> str:
    """Deterministic id of an episode: same camera, kind and start -> same id."""
    return stable_id(camera_id, kind, started_at, construction="sha1")


class EpisodeMixin:
    """Opening and closing episodes (part of ``CameraHealthEngine``)."""

    def _step(
        self,
        cam: _Camera,
        kind: str,
        ep: _Episode,
        ts: float,
        gap: float,
        candidate: bool,
        sustained_s: float,
        detail: str,
        out: list[CameraEvent],
    ) -> None:
        """One qualifying observation for a sustained episode (dark, blurred, angle)."""
        p = self.params
        if not ep.open:
            if candidate:
                if ep.since is None or ts - ep.last > p.run_gap_s or gap > p.run_gap_s:
                    ep.since = ts
                ep.last = ts
                if ts - ep.since >= sustained_s:
                    if cam.reg is not None and not cam.reg.active:
                        self._n_inactive += 1
                        return
                    ep.open = True
                    ep.started_at = ep.since
                    ep.detected_at = ts
                    ep.detail = detail
                    ep.since = None
                    _update_suppress(cam)
                    self._emit(cam, kind, ep, "open", None, out)
            else:
                _clear(cam, kind)
            return
        if candidate:
            ep.since = None
            return
        if ep.since is None or ts - ep.last > p.run_gap_s or gap > p.run_gap_s:
            ep.since = ts
        ep.last = ts
        if ts - ep.since >= p.recover_s:
            self._close(cam, kind, ep, ep.since, "back to normal", out)
            _clear(cam, kind)
            _update_suppress(cam)

    def _close(self, cam: _Camera, kind: str, ep: _Episode, ended_at: float, why: str, out) -> None:
        ep.detail = f"{ep.detail}; closed: {why}"
        self._emit(cam, kind, ep, "closed", ended_at, out)
        ep.open = False

    def _emit(
        self,
        cam: _Camera,
        kind: str,
        ep: _Episode,
        state: str,
        ended_at: float | None,
        out: list[CameraEvent],
    ) -> None:
        if state == "open":
            self._n_opened += 1
        else:
            self._n_closed += 1
        out.append(
            CameraEvent(
                v=SCHEMA_VERSION,
                event_id=camera_event_id(cam.camera_id, kind, ep.started_at),
                camera_id=cam.camera_id,
                operator_id=cam.reg.operator_id if cam.reg is not None else None,
                kind=kind,
                state=state,
                started_at=ep.started_at,
                detected_at=ep.detected_at,
                ended_at=ended_at,
                detail=ep.detail,
            )
        )
