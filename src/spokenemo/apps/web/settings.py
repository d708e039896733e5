"""What ``spokenemo serve`` is allowed to do: upload size, clip and recording length, workers.

A light module (no FastAPI): the CLI builds :class:`ServeSettings` from its options and checks
them before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.core.errors import ConfigError

__all__ = ["AUDIO_SUFFIXES", "ServeSettings"]

#: File name endings the service accepts (what :func:`spokenemo.audio.load_audio` decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".mp4", ".aac", ".webm", ".mkv", ".mov",
                  ".aif", ".aiff")


@dataclass(frozen=True)
class ServeSettings:
    """Limits and resources of one server.

    Attributes
    ----------
    host, port : where uvicorn listens (the app itself does not read them).
    max_upload_mb : largest upload in MB (10^6 bytes); a larger body is refused with 413 before
        it is stored.
    max_seconds : longest clip ``POST /api/explain`` accepts (longer: 413, use the timeline).
    max_timeline_seconds : longest recording ``POST /api/timeline`` accepts.
    workers : requests analysed at once (threads sharing the one loaded model); the event loop
        keeps answering other requests meanwhile.
    max_waiting : requests allowed to wait for a worker; more get 503 "busy".
    model : model folder (None: the default model of :mod:`spokenemo.api`).
    student : answer clips with :func:`spokenemo.api.explain` and its AECoTD student instead of
        :func:`spokenemo.api.explain_clip` and the recogniser (as ``spokenemo explain --student``).
    warm_up : run the model once on a synthetic clip at start-up, so the first upload is as fast
        as the others.
    tmp_dir : folder for uploads while they are analysed (None: a fresh temporary folder,
        removed at shutdown). Every upload is deleted when its request ends.
    explain_options : keyword arguments for :func:`spokenemo.api.explain` (those it accepts).
    timeline_options : keyword arguments for the timeline function (those it accepts).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 50.0
    max_seconds: float = 60.0
    max_timeline_seconds: float = 3600.0
    workers: int = 2
    max_waiting: int = 8
    model: Path | None = None
    student: bool = False
    warm_up: bool = True
    tmp_dir: Path | None = None
    explain_options: dict[str, Any] = field(default_factory=dict)
    timeline_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {"max_upload_mb": self.max_upload_mb > 0, "max_seconds": self.max_seconds > 0,
                  "max_timeline_seconds": self.max_timeline_seconds > 0, "workers": self.workers >= 1,
                  "max_waiting": self.max_waiting >= 0, "port": 0 <= self.port <= 65535}
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"serve: {name}={getattr(self, name)!r} is out of range",
                                  hint="sizes and durations must be > 0, workers >= 1, 0 <= port <= 65535")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    def limits(self) -> dict[str, Any]:
        """The limits as the health endpoint and the page report them."""
        return {"max_upload_mb": self.max_upload_mb, "max_seconds": self.max_seconds,
                "max_timeline_seconds": self.max_timeline_seconds, "workers": self.workers,
                "max_waiting": self.max_waiting, "formats": list(AUDIO_SUFFIXES)}
