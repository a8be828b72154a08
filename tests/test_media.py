"""Media files are read by our code and only as themselves: FFmpeg's demuxers limited to containers
that hold their own streams (no HLS playlist, no concat list naming other files), and what decoding
costs checked against the hosting policy before anything is decoded."""

from __future__ import annotations

import io

import numpy as np
import pytest

from workbench.audio_inputs import decode_audio
from workbench.errors import InputError
from workbench.hosting import HostingPolicy
from workbench.samples import sample_video_frames, write_video
from workbench.video import load_video, probe_video


def _secret_clip(path) -> str:
    """A clip standing for a server file that no user input may reach (MPEG-TS, like HLS segments)."""
    import av

    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("mpeg2video", rate=24)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for frame in sample_video_frames(12, 128, 96):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return str(path)


def _playlist(tmp_path, target: str, name: str = "clip.m3u8") -> str:
    playlist = tmp_path / name
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n")
    return str(playlist)


def test_an_hls_playlist_naming_a_server_file_is_refused_as_video(tmp_path):
    import av

    secret = _secret_clip(tmp_path / "secret.ts")
    playlist = _playlist(tmp_path, secret)
    with av.open(playlist) as plain:  # what a plain av.open does with it: reads the other file
        assert plain.format.name == "hls" and sum(1 for _ in plain.decode(video=0)) == 12
    with pytest.raises(InputError, match="not a video file this workbench reads .*playlists"):
        load_video(playlist, 4)
    with pytest.raises(InputError, match="playlists"):
        probe_video(playlist)
    assert len(load_video(secret, 4).frames) == 4  # the clip itself is a video like any other


def test_an_hls_playlist_is_refused_as_audio(tmp_path):
    playlist = _playlist(tmp_path, _secret_clip(tmp_path / "secret.ts"))
    with pytest.raises(InputError, match="playlists"):
        decode_audio(playlist)
    with pytest.raises(InputError, match="could not be read as audio"):  # as bytes FFmpeg does not even probe HLS
        decode_audio(open(playlist, "rb").read())


def test_audio_in_a_format_libsndfile_lacks_is_decoded_by_ffmpeg(tmp_path):
    import av

    path = tmp_path / "tone.m4a"
    rate = 22_050
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(wave[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    got, got_rate = decode_audio(str(path))
    assert got_rate == rate and got.dtype == np.float32
    assert abs(got.size - rate) < 0.1 * rate and 0.2 < np.abs(got).max() < 0.45


def test_audio_is_capped_by_its_samples_before_decoding(tmp_path):
    import soundfile as sf

    path = tmp_path / "fast.flac"
    sf.write(str(path), np.zeros(384_000 * 2, dtype=np.float32) + 0.1, 384_000)  # 2 s at 384 kHz
    policy = HostingPolicy(max_audio_samples=48_000)  # 1 s at 48 kHz
    with pytest.raises(InputError, match="million samples .* at 384 kHz"):
        decode_audio(str(path), policy)
    assert decode_audio(str(path))[1] == 384_000  # no cap locally by default


@pytest.mark.parametrize("size, policy, message", [
    ((640, 480), HostingPolicy(max_video_frame_pixels=100_000), "frames are 640×480 = 0.3 megapixels"),
    ((128, 96), HostingPolicy(max_video_decoded_pixels=200_000), "decodes 24 frames of 128×96"),
])
def test_video_is_capped_by_what_decoding_costs(tmp_path, size, policy, message):
    path = tmp_path / "clip.mp4"
    write_video(path, sample_video_frames(24, *size))
    with pytest.raises(InputError, match=message):
        load_video(str(path), 4, policy=policy)
    assert len(load_video(str(path), 4).frames) == 4


def test_hosted_video_paths_must_be_uploads(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, sample_video_frames(12, 128, 96))
    with pytest.raises(InputError, match="must be a file you upload"):
        probe_video(str(path), policy=HostingPolicy.public())


def test_bytes_of_a_wav_decode(tmp_path):
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.full(8000, 0.2, dtype=np.float32), 8000, format="WAV")
    wave, rate = decode_audio(buf.getvalue())
    assert rate == 8000 and wave.shape == (8000,)


def _pdf_bomb(ops: int) -> bytes:
    """A one-page PDF whose compressed content stream (a few hundred KB) inflates to ``ops`` drawing
    operations: what PDFium cannot parse quickly, nor be interrupted in."""
    import zlib

    content = zlib.compress(b"0 0 m 500 700 l 10 10 l S\n" * ops, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_a_pdf_page_that_takes_too_long_is_stopped_at_its_deadline():
    import time

    from workbench.inputs import load_document

    bomb = _pdf_bomb(3_000_000)
    assert len(bomb) < 1_000_000
    start = time.monotonic()
    with pytest.raises(InputError, match="took more than 1 s to render"):
        load_document(bomb, 0, HostingPolicy(pdf_render_s=1.0))
    assert time.monotonic() - start < 10  # the child was killed; this process never parsed the page


def test_cancel_stops_a_pdf_page_being_rendered():
    import threading
    import time

    from workbench.errors import RunCancelled
    from workbench.inputs import load_document
    from workbench.progress import RunControl, running

    control = RunControl()
    threading.Timer(0.5, control.cancel).start()
    start = time.monotonic()
    with running(control), pytest.raises(RunCancelled):
        load_document(_pdf_bomb(3_000_000), 0, HostingPolicy(pdf_render_s=None))
    assert time.monotonic() - start < 10


def test_a_pdf_page_renders_at_a_lower_priority_than_the_server():
    """The render child is niced (``CHILD_NICE``): a costly page leaves the cores to other users' runs."""
    import os
    import threading
    import time

    import psutil

    from workbench.inputs import load_document
    from workbench.pdf_render import CHILD_NICE

    seen: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            for child in psutil.Process().children():
                try:
                    if "workbench.pdf_render" in " ".join(child.cmdline()):
                        seen.append(child.nice())
                except psutil.Error:  # it ended meanwhile
                    pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(InputError, match="took more than"):
        load_document(_pdf_bomb(3_000_000), 0, HostingPolicy(pdf_render_s=3.0))
    watcher.join()
    assert seen and all(n == os.nice(0) + CHILD_NICE for n in seen), seen
