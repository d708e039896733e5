"""Receive one uploaded file into a temporary file, within the limits, without holding it in memory.

Two ways to send a file, both streamed to disk chunk by chunk:

- ``multipart/form-data`` with the file in a field named ``file`` (a browser form, ``curl -F
  file=@clip.wav``);
- the raw bytes as the body (``Content-Type: audio/...``, ``video/...`` or
  ``application/octet-stream``; ``curl --data-binary @clip.wav``), the name in ``?filename=``.

A body over the limit is refused with 413 as soon as it is known (from ``Content-Length``, or
when the count passes the limit), an empty one with 400, a client that goes away mid-upload
with :data:`DISCONNECTED`; the partial file is deleted in every case. The first bytes say which
format the file is in (:func:`sniff`): a file that is no known audio format and whose name is
no audio name either is refused with 415.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from spokenemo.apps.web.errors import ApiError
from spokenemo.apps.web.settings import AUDIO_SUFFIXES

__all__ = ["DISCONNECTED", "Upload", "receive_upload", "sniff"]

#: Status recorded for a client that closed the connection before its upload was complete
#: (nginx's convention; the client is gone and never sees it).
DISCONNECTED = 499
#: Room for the multipart framing around the file when ``Content-Length`` is compared with the limit.
FORM_OVERHEAD = 64 * 1024
RAW_TYPES = ("audio/", "video/", "application/octet-stream")


@dataclass
class Upload:
    """One received file: where it is stored, the name and type the client gave, its size."""

    path: Path
    filename: str
    content_type: str
    size: int
    format: str


def sniff(head: bytes) -> str | None:
    """The audio format the first bytes announce, as a file suffix (``".wav"``), or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[4:8] == b"ftyp":
        return ".m4a"
    simple = {b"fLaC": ".flac", b"OggS": ".ogg", b"\x1aE\xdf\xa3": ".webm"}
    if head[:4] in simple:
        return simple[head[:4]]
    if head[:3] == b"ID3":
        return ".mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return ".aac" if head[1] & 0x06 == 0 else ".mp3"  # ADTS has layer bits 00, MPEG audio 01-11
    return None


class _Sink:
    """A temporary file that counts what is written and refuses past the limit."""

    def __init__(self, folder: Path, limit: int) -> None:
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=folder)
        self.path = Path(name)
        self.fh: BinaryIO = os.fdopen(fd, "wb")
        self.limit = limit
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        if len(self.head) < 16:
            self.head += data[: 16 - len(self.head)]
        self.fh.write(data)

    def discard(self) -> None:
        self.fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload is larger than the limit of {limit / 1e6:g} MB",
                    hint="send a shorter or more compressed recording, or start the server with a larger "
                         "--max-upload-mb")


class _FormFile:
    """python-multipart callbacks that write the part named ``file`` into a sink."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.headers: dict[bytes, bytes] = {}
        self.field = self.value = b""
        self.in_file = False
        self.found = False
        self.filename = ""
        self.content_type = ""

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
                "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self.headers, self.in_file = {}, False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def _header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field = self.value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" and not self.found:
            self.in_file = self.found = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.content_type = self.headers.get(b"content-type", b"").decode("latin-1")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.sink.write(data[start:end])

    def _end(self) -> None:
        self.in_file = False


def _bad_form(detail: str) -> ApiError:
    return ApiError(400, "bad_form", f"the multipart form cannot be read: {detail}",
                    hint="send the file with curl -F file=@clip.wav, or as the raw body")


async def _read_body(request: Request, sink: _Sink, form: _FormFile | None, boundary: bytes | None) -> None:
    if form is not None and not boundary:
        raise _bad_form("no boundary in its Content-Type")
    parser = MultipartParser(boundary, form.callbacks()) if form is not None and boundary else None
    try:
        async for chunk in request.stream():
            if parser is not None:
                parser.write(chunk)
            else:
                sink.write(chunk)
        if parser is not None:
            parser.finalize()
    except ClientDisconnect:
        raise ApiError(DISCONNECTED, "client_disconnected", "the client closed the connection before the "
                       "upload was complete; nothing was kept") from None
    except FormParserError as err:
        raise _bad_form(str(err)) from None


def _media_type(request: Request) -> tuple[str, dict[bytes, bytes]]:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    return kind.decode("latin-1").lower(), options


def _check_length(request: Request, limit: int, framed: bool) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + (FORM_OVERHEAD if framed else 0):
        raise _too_large(limit)


async def receive_upload(request: Request, folder: Path, limit: int) -> Upload:
    """Stream the request's file into ``folder``; the caller deletes :attr:`Upload.path`.

    Raises
    ------
    ApiError
        413 too large, 400 empty or without a ``file`` field, 415 not an audio type,
        :data:`DISCONNECTED` when the client went away.
    """
    kind, options = _media_type(request)
    framed = kind == "multipart/form-data"
    if not framed and kind and not kind.startswith(RAW_TYPES):
        raise ApiError(415, "unsupported_type", f"cannot take a body of type {kind!r}",
                       hint="send multipart/form-data with the file in the field 'file' (curl -F file=@clip.wav), "
                            "or the raw bytes as audio/* or application/octet-stream")
    _check_length(request, limit, framed)
    sink = _Sink(folder, limit)
    form = _FormFile(sink) if framed else None
    try:
        await _read_body(request, sink, form, options.get(b"boundary"))
        sink.fh.close()
        if form is not None and not form.found:
            raise ApiError(400, "no_file", "the form has no field named 'file'",
                           hint="send the audio as the form field 'file' (curl -F file=@clip.wav)")
        filename = form.filename if form is not None else request.query_params.get("filename", "")
        content_type = form.content_type if form is not None else kind
        return _finish(sink, filename or "upload", content_type)
    except BaseException:
        sink.discard()
        raise


def _finish(sink: _Sink, filename: str, content_type: str) -> Upload:
    """Check what arrived (empty? audio?) and give the file the suffix of its format."""
    if sink.size == 0:
        raise ApiError(400, "empty_upload", f"{filename}: the upload is empty (0 bytes)",
                       hint="choose a file that holds a recording")
    suffix = Path(filename).suffix.lower()
    found = sniff(sink.head)
    if found is None and suffix not in AUDIO_SUFFIXES:
        raise ApiError(415, "unsupported_format", f"{filename}: not an audio or video format this service reads "
                       f"(type {content_type or 'not given'})",
                       hint="send WAV, FLAC, Ogg/Opus, MP3, M4A/MP4 or WebM; formats: " + " ".join(AUDIO_SUFFIXES))
    path = sink.path.with_suffix(found or suffix)
    sink.path.rename(path)
    sink.path = path
    return Upload(path=path, filename=filename, content_type=content_type, size=sink.size, format=found or suffix)
