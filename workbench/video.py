"""Decoding video clips with PyAV: frames sampled evenly over the whole clip, with clear errors.

No torch and no gradio here. ``load_video`` returns a ``DecodedVideo`` (the sampled RGB frames and
the facts the UI shows: which frames, at what times, out of how many); ``probe_video`` checks a
file cheaply (container, duration, size) before any model loads.

>>> from workbench.samples import sample_file
>>> clip = load_video(sample_file("clip.mp4"), 4)
>>> len(clip.frames), clip.indices, clip.frames[0].shape
(4, [0, 16, 31, 47], (96, 128, 3))
>>> clip.sampling
'4 of 48 frames, evenly spaced over 2.00 s (24 fps): frames 0, 16, 31, 47'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.hosting import HostingPolicy
from workbench.media import ACCEPTED as MEDIA_ACCEPTED
from workbench.media import open_media
from workbench.uploads import has_scheme, user_path

#: Longest clip accepted, in seconds (the whole clip is decoded to sample it evenly).
MAX_VIDEO_SECONDS = 600.0
#: Largest video file accepted, in bytes.
MAX_VIDEO_BYTES = 500 * 2**20
#: Most frames decoded from one clip, whatever its frame rate (a guard against absurd rates).
MAX_VIDEO_FRAMES = 36_000
VIDEO_TYPES = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".ogv", ".m4v")
ACCEPTED = MEDIA_ACCEPTED["video"]
_LOCAL = HostingPolicy.local()


@dataclass
class VideoInfo:
    """What the container says about a clip, before decoding it."""

    path: str
    frames: int  # 0 when the container does not say
    fps: float
    duration_s: float
    width: int
    height: int
    codec: str


@dataclass
class DecodedVideo:
    """Frames sampled from a clip (H×W×3 uint8 RGB arrays) and where they came from."""

    frames: list[np.ndarray] = field(repr=False)
    indices: list[int]  # frame numbers in the clip, from 0
    times_s: list[float]  # presentation time of each sampled frame
    total_frames: int
    fps: float
    duration_s: float
    path: str = ""
    step: int | None = None  # every step-th frame from the start, instead of evenly spaced

    @property
    def sampling(self) -> str:
        """One line for the UI: how the frames were chosen."""
        how = (f"one frame in {self.step} from the start" if self.step
               else f"evenly spaced over {self.duration_s:.2f} s ({self.fps:g} fps)")
        return (f"{len(self.indices)} of {self.total_frames} frames, {how}: frames "
                + ", ".join(str(i) for i in self.indices))


def _open(path: str) -> Any:
    return open_media(path, "video")  # this file only: no playlists, no references to other files


def _check_file(value: Any, max_bytes: int, policy: HostingPolicy) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"No video given: upload a clip or record one with the webcam. {ACCEPTED}")
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"Cannot use a {type(value).__name__} as a video; give a file path. {ACCEPTED}")
    text = os.fspath(value).strip()
    if has_scheme(text):
        raise InputError("Video URLs are not fetched: download the clip and upload the file.")
    path = user_path(text, policy, "The video")
    if not path.is_file():
        raise InputError(f"Video file `{text}` does not exist. {ACCEPTED}")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"The file `{path.name}` is empty (0 bytes); it is not a video.")
    if size > max_bytes:
        raise InputError(f"The video `{path.name}` is {size / 2**20:.0f} MB, more than the "
                         f"{max_bytes / 2**20:.0f} MB allowed; trim or re-encode it smaller.")
    return str(path)


def probe_video(value: Any, *, policy: HostingPolicy | None = None, max_seconds: float = MAX_VIDEO_SECONDS,
                max_bytes: int = MAX_VIDEO_BYTES) -> VideoInfo:
    """Check that ``value`` is a readable video file within the caps, without decoding frames.

    ``policy`` (local by default) decides which paths may be read and caps what decoding the clip
    costs: the pixels of one frame (``max_video_frame_pixels``, else ``max_image_pixels``) and of
    every frame decoded to sample it (``max_video_decoded_pixels``), both from the container's facts.

    >>> probe_video("/nonexistent.mp4")
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: Video file `/nonexistent.mp4` does not exist. Accepted: a video file (mp4, webm, mkv, mov, avi).
    """
    policy = policy or _LOCAL
    path = _check_file(value, max_bytes, policy)
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"The file `{Path(path).name}` has no video stream (audio only?). {ACCEPTED}")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1e6  # microseconds (av.time_base)
        else:
            duration = (stream.frames or 0) / fps
        info = VideoInfo(path, int(stream.frames or 0), fps, duration, stream.codec_context.width,
                         stream.codec_context.height, stream.codec_context.name)
    if info.duration_s > max_seconds:
        raise InputError(f"The video is {info.duration_s:.0f} s long, more than the {max_seconds:.0f} s allowed; "
                         "trim it to the part you want classified.")
    _check_cost(info, policy)
    return info


def _check_cost(info: VideoInfo, policy: HostingPolicy) -> None:
    """Refuse a clip whose frames, or whose whole decode, hold more pixels than ``policy`` allows."""
    frame = info.width * info.height
    frame_cap = policy.max_video_frame_pixels or policy.max_image_pixels
    if frame > frame_cap:
        raise InputError(f"The video's frames are {info.width}×{info.height} = {frame / 1e6:.1f} megapixels, more "
                         f"than the {frame_cap / 1e6:g} MP allowed; re-encode it at a lower resolution.")
    frames = info.frames or int(info.duration_s * info.fps) + 1
    cap = policy.max_video_decoded_pixels
    if cap is not None and frames * frame > cap:
        longest = cap / max(frame, 1) / max(info.fps, 1.0)
        raise InputError(f"Sampling this clip decodes {frames} frames of {info.width}×{info.height} "
                         f"({frames * frame / 1e9:.1f} gigapixels), more than the {cap / 1e9:g} this workbench "
                         f"decodes per clip: trim it to about {longest:.0f} s or lower its resolution.")


def sample_indices(total: int, num_frames: int, step: int | None = None) -> list[int]:
    """Frame numbers to keep: ``num_frames`` evenly spaced over ``total`` (first and last included),
    or every ``step``-th frame from the start; short clips repeat frames.

    >>> sample_indices(48, 4), sample_indices(3, 4), sample_indices(48, 4, step=2)
    ([0, 16, 31, 47], [0, 1, 1, 2], [0, 2, 4, 6])
    """
    if total < 1:
        raise InputError("The video has no frames that could be decoded.")
    if step:
        return [min(i * step, total - 1) for i in range(num_frames)]
    return [int(i) for i in np.linspace(0, total - 1, num_frames).round().astype(int)]


def load_video(value: Any, num_frames: int, *, step: int | None = None, policy: HostingPolicy | None = None,
               max_seconds: float = MAX_VIDEO_SECONDS, max_bytes: int = MAX_VIDEO_BYTES) -> DecodedVideo:
    """Decode ``num_frames`` RGB frames from the video file ``value``, evenly spaced over the whole
    clip (or every ``step``-th frame from the start, as transformers' ``frame_sampling_rate``).

    Only the kept frames are converted to arrays; the clip is checked against ``max_seconds`` and
    ``max_bytes`` first. Raises ``InputError`` for a missing, empty, corrupt or over-long file.
    """
    if num_frames < 1:
        raise InputError(f"num_frames must be at least 1, not {num_frames}.")
    info = probe_video(value, policy=policy, max_seconds=max_seconds, max_bytes=max_bytes)
    total = info.frames or _count_frames(info.path)
    wanted = sample_indices(min(total, MAX_VIDEO_FRAMES), num_frames, step)
    keep, decoded = _decode(info.path, wanted)
    if decoded < total and any(i not in keep for i in wanted):
        # The container announced more frames than it holds: sample again over the real count.
        total = decoded
        wanted = sample_indices(total, num_frames, step)
        keep, decoded = _decode(info.path, wanted)
    if not keep:
        raise InputError(f"No frames could be decoded from `{Path(info.path).name}`. {ACCEPTED}")
    return DecodedVideo([keep[i][0] for i in wanted], wanted, [round(keep[i][1], 3) for i in wanted],
                        total, info.fps, info.duration_s, info.path, step)


def _decode(path: str, wanted: list[int]) -> tuple[dict[int, tuple[np.ndarray, float]], int]:
    """The frames numbered in ``wanted`` as (RGB array, time in s), and how many frames were decoded."""
    import av

    keep: dict[int, tuple[np.ndarray, float]] = {}
    targets, last, decoded = set(wanted), max(wanted), 0
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for i, frame in enumerate(container.decode(stream)):
                decoded = i + 1
                if i in targets:
                    keep[i] = (frame.to_ndarray(format="rgb24"), float(frame.time or 0.0))
                if i >= last:
                    break
        except av.FFmpegError as exc:
            if not keep:
                raise InputError(f"The video `{Path(path).name}` could not be decoded ({exc.strerror}). "
                                 f"{ACCEPTED}") from exc
    return keep, decoded


def _count_frames(path: str) -> int:
    """Frames in a clip whose container does not say: demux (no decoding) and count video packets."""
    with _open(path) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size) or 0
