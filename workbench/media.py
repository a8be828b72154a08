"""Opening a user's audio or video file with FFmpeg (PyAV) so that it reads that file and nothing else.

FFmpeg's demuxers can follow references to other files and URLs: an HLS playlist (``.m3u8``) lists
segments by path or URL, ``concat`` lists files, ``image2`` expands patterns, a QuickTime file may
reference external media. A playlist uploaded as a "video" would make the server read any file it
names. So every container is opened with FFmpeg's own ``format_whitelist`` — demuxers that hold
their streams themselves — and ``protocol_whitelist`` limited to ``file`` (no ``http:``,
``concat:``, ``subfile:`` inside a container); anything else is refused as not a media file.

    with open_media("clip.mp4", "video") as container:
        container.streams.video[0].codec_context.name
    # -> 'h264'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from workbench.errors import InputError

#: Demuxers (FFmpeg's names) a user's file may be read with: containers that hold their streams
#: themselves. Audio and video share the list, so a WAV given as a video is told it has no video.
FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "ogg", "mpegts", "flv", "mpeg",
           "wav", "flac", "mp3", "aac", "aiff", "w64", "caf")
ACCEPTED = {"video": "Accepted: a video file (mp4, webm, mkv, mov, avi).",
            "audio": "Accepted: WAV, FLAC, MP3, OGG, M4A, WebM audio."}


def container_options() -> dict[str, str]:
    """The options every container is opened with (FFmpeg's whitelists).

    >>> container_options()["protocol_whitelist"]
    'file'
    """
    return {"format_whitelist": ",".join(FORMATS), "protocol_whitelist": "file"}


def open_media(source: str | Path | bytes, kind: Literal["video", "audio"]) -> Any:
    """An open PyAV input container for the file ``source`` (a path, or a file's bytes), read with
    the allowed demuxers only; ``InputError`` naming the file when FFmpeg cannot (or
    may not) read it."""
    import io

    import av

    what_file = "The uploaded bytes" if isinstance(source, (bytes, bytearray)) else f"The file `{Path(source).name}`"
    target = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        return av.open(target, mode="r", container_options=container_options())
    except av.FFmpegError as exc:
        if isinstance(exc, (av.ArgumentError, av.PermissionError)) or getattr(exc, "errno", None) == 22:
            raise InputError(f"{what_file} is not a {kind} file this workbench reads (playlists and "
                             f"lists of other files are refused). {ACCEPTED[kind]}") from exc
        what, article = ("a video", "a video") if kind == "video" else ("audio", "an audio")
        raise InputError(f"{what_file} could not be read as {what} (corrupt, or not {article} file: "
                         f"{exc.strerror or type(exc).__name__}). {ACCEPTED[kind]}") from exc
