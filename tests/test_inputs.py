"""Input decoding: images (files, bytes, arrays, URLs), audio, PDFs, OCR, tables and text.

URLs are served by a local ``http.server`` on 127.0.0.1; nothing touches the network.
"""

from __future__ import annotations

import http.server
import io
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image, ImageDraw

from workbench.errors import InputError
from workbench.hosting import HostingPolicy
from workbench.inputs import (audio_duration, decode_audio, image_chat, load_audio, load_document, load_image,
                              load_table, ocr_words, require_text)
from workbench.samples import sample_document, sample_image, sample_waveform

# ---- a local web server --------------------------------------------------------------------------

PNG = io.BytesIO()
sample_image(64).save(PNG, "PNG")
ROUTES: dict[str, tuple[str, bytes]] = {
    "/cat.png": ("image/png", PNG.getvalue()),
    "/page.html": ("text/html; charset=utf-8", b"<!doctype html><html><body><img src='cat.png'></body></html>"),
    "/mislabelled.bin": ("application/octet-stream", PNG.getvalue()),
    "/garbage.png": ("image/png", b"\x89PNG\r\n\x1a\n this is not really a png"),
    "/big.png": ("image/png", PNG.getvalue() + b"\0" * 4096),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path not in ROUTES:
            self.send_error(404, "Not Found")
            return
        ctype, body = ROUTES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# ---- images --------------------------------------------------------------------------------------


def test_load_image_from_pil_array_path_and_bytes(tmp_path):
    reference = sample_image(64)
    path = tmp_path / "x.png"
    reference.save(path)
    for value in (reference, np.asarray(reference), str(path), path, path.read_bytes()):
        img = load_image(value)
        assert img.mode == "RGB" and img.size == (64, 64)
        assert np.array_equal(np.asarray(img), np.asarray(reference))


def test_load_image_converts_to_rgb_with_transparency_on_white():
    rgba = Image.new("RGBA", (4, 3), (255, 0, 0, 0))  # fully transparent red
    assert np.asarray(load_image(rgba))[0, 0].tolist() == [255, 255, 255]
    assert load_image(Image.new("L", (4, 3), 7)).getpixel((0, 0)) == (7, 7, 7)
    grey = load_image(np.full((3, 4), 0.5, dtype=np.float32))  # floats in 0-1
    assert grey.size == (4, 3) and grey.getpixel((0, 0)) == (128, 128, 128)


def test_load_image_rejects_corrupt_files_and_wrong_types(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(InputError, match="could not be read as an image"):
        load_image(bad)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(PNG.getvalue()[: len(PNG.getvalue()) // 2])
    with pytest.raises(InputError, match="could not be read as an image"):
        load_image(truncated)
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="empty"):
        load_image(b"")
    with pytest.raises(InputError, match="No image"):
        load_image(None)
    with pytest.raises(InputError, match="Cannot use a int"):
        load_image(42)
    with pytest.raises(InputError, match="shape"):
        load_image(np.zeros((2, 2, 2, 2)))


def test_load_image_refuses_too_many_pixels_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (1000, 600)).save(path)
    with pytest.raises(InputError, match=r"1000×600 = 0\.6 megapixels, more than the 0\.5 MP allowed"):
        load_image(path, max_pixels=500_000)
    assert load_image(path, max_pixels=600_000).size == (1000, 600)
    with pytest.raises(InputError, match="megapixels"):
        load_image(Image.new("RGB", (100, 100)), max_pixels=9_999)


def test_load_image_reports_pillows_decompression_bomb_check(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (400, 300)).save(path)  # 120 000 pixels, a few hundred bytes
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # Pillow errors above 2x this
    with pytest.raises(InputError, match="decompression-bomb protection"):
        load_image(path, max_pixels=10**9)


def test_load_image_from_url(server):
    img = load_image(f"{server}/cat.png")
    assert img.size == (64, 64) and img.mode == "RGB"
    # the content decides, not the extension or a generic content type
    assert load_image(f"{server}/mislabelled.bin").size == (64, 64)


def test_load_image_url_errors(server):
    with pytest.raises(InputError, match="returned a text/html page, not an image"):
        load_image(f"{server}/page.html")
    with pytest.raises(InputError, match="could not be read as an image"):
        load_image(f"{server}/garbage.png")
    with pytest.raises(InputError, match="HTTP 404"):
        load_image(f"{server}/nothing-here.png")
    with pytest.raises(InputError, match=r"is [0-9.]+ KB, more than the 1 KB this workbench downloads"):
        load_image(f"{server}/big.png", replace(HostingPolicy.local(), url_max_bytes=1024))


def test_load_image_unreachable_url():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=r"Could not fetch URL `http://127\.0\.0\.1.*could not connect"):
        load_image(f"http://127.0.0.1:{port}/cat.png", replace(HostingPolicy.local(), url_deadline_s=2))


def test_load_image_data_uri():
    import base64

    uri = "data:image/png;base64," + base64.b64encode(PNG.getvalue()).decode()
    assert load_image(uri).size == (64, 64)


# ---- audio ---------------------------------------------------------------------------------------


def test_gradio_stereo_int16_44k_becomes_mono_float_16k():
    sr = 44_100
    t = np.arange(sr) / sr
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = (np.stack([left, left], axis=1) * 32767).astype(np.int16)  # [samples, channels]
    wave = load_audio((sr, stereo), 16_000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == 16_000
    assert np.abs(wave).max() == pytest.approx(0.5, abs=0.02)
    # still a 440 Hz tone after resampling
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * 16_000 / len(wave) == pytest.approx(440, abs=2)


def test_load_audio_mixes_channels_down():
    left = np.full(1000, 0.4, dtype=np.float32)
    right = np.full(1000, -0.2, dtype=np.float32)
    assert np.allclose(load_audio((16_000, np.stack([left, right], axis=1))), 0.1)
    assert np.allclose(load_audio(np.stack([left, right])), 0.1)  # [channels, samples] too


def test_load_audio_from_files(tmp_path):
    wave, sr = sample_waveform(0.5)
    for fmt in ("wav", "flac", "ogg", "mp3"):
        path = tmp_path / f"tone.{fmt}"
        sf.write(path, wave, sr, format=fmt.upper())
        out = load_audio(path, 16_000)
        assert out.dtype == np.float32 and out.ndim == 1
        assert abs(len(out) - 8000) < 2000, fmt  # mp3/ogg encoders pad a little
        assert np.abs(out).max() == pytest.approx(np.abs(wave).max(), abs=0.1), fmt
    assert len(load_audio(tmp_path / "tone.wav", 8000)) == 4000  # resampled from 16 kHz
    assert len(load_audio((tmp_path / "tone.wav").read_bytes(), 16_000)) == 8000


def test_load_audio_from_array_and_dict():
    wave, sr = sample_waveform()
    assert np.array_equal(load_audio(wave, sr), wave)
    assert len(load_audio({"array": wave, "sampling_rate": sr}, 8000)) == 8000
    assert len(load_audio({"raw": wave, "sampling_rate": sr}, 16_000)) == 16_000


def test_load_audio_errors(tmp_path):
    with pytest.raises(InputError, match="silent"):
        load_audio((16_000, np.zeros(16_000, dtype=np.int16)))
    with pytest.raises(InputError, match="silent"):
        load_audio(np.full(100, 1e-6, dtype=np.float32))
    with pytest.raises(InputError, match="empty"):
        load_audio((16_000, np.zeros(0, dtype=np.int16)))
    with pytest.raises(InputError, match="NaN"):
        load_audio(np.array([0.1, np.nan], dtype=np.float32))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    with pytest.raises(InputError, match="could not be read as audio"):
        load_audio(bad)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_audio(empty)
    with pytest.raises(InputError, match="does not exist"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(InputError, match="No audio"):
        load_audio(None)


# ---- documents and OCR ---------------------------------------------------------------------------


def _pdf(tmp_path: Path) -> Path:
    pages = []
    for colour in ("white", "black"):
        img = Image.new("RGB", (200, 100), colour)
        ImageDraw.Draw(img).rectangle([10, 10, 60, 40], fill="red")
        pages.append(img)
    path = tmp_path / "two-pages.pdf"
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


def test_load_document_renders_each_pdf_page(tmp_path):
    path = _pdf(tmp_path)
    first, second = load_document(path, 0), load_document(str(path), page=1)
    assert first.mode == second.mode == "RGB"
    assert first.size == second.size == (400, 200)  # 200×100 points at 2× scale
    assert first.getpixel((300, 150)) == (255, 255, 255)
    assert second.getpixel((300, 150)) == (0, 0, 0)
    r, g, b = first.getpixel((60, 50))  # inside the red rectangle
    assert r > 200 and g < 60 and b < 60
    assert load_document(path.read_bytes(), 1).getpixel((300, 150)) == (0, 0, 0)


def test_load_document_errors(tmp_path):
    path = _pdf(tmp_path)
    with pytest.raises(InputError, match="has 2 pages; there is no page 3: choose a page from 1 to 2"):
        load_document(path, 2)  # the third page (the index counts from 0, the message from 1 like the UI)
    with pytest.raises(InputError, match="there is no page 0: choose a page from 1 to 2"):
        load_document(path, -1)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    with pytest.raises(InputError, match="could not be opened"):
        load_document(broken)
    with pytest.raises(InputError, match="does not exist"):
        load_document(tmp_path / "missing.pdf")


def test_load_document_from_a_pdf_url(tmp_path, server):
    ROUTES["/two-pages.pdf"] = ("application/pdf", _pdf(tmp_path).read_bytes())
    ROUTES["/scan"] = ("image/png", PNG.getvalue())  # an image URL with no extension
    second = load_document(f"{server}/two-pages.pdf", 1)
    assert second.size == (400, 200) and second.getpixel((300, 150)) == (0, 0, 0)
    assert load_document(f"{server}/scan").size == (64, 64)
    with pytest.raises(InputError, match=f"The PDF at {server}/two-pages.pdf has 2 pages; there is no page 5"):
        load_document(f"{server}/two-pages.pdf", 4)
    with pytest.raises(InputError, match="returned a text/html page"):
        load_document(f"{server}/page.html")


def test_load_document_passes_images_through(tmp_path):
    img, _ = sample_document()
    img.save(tmp_path / "page.png")
    assert load_document(tmp_path / "page.png").size == img.size


def test_ocr_words_reads_the_sample_invoice():
    img, truth = sample_document()
    words = ocr_words(img)
    found = [w for w, _ in words]
    assert "Invoice" in found and "4711" in found and "EUR" in found
    for _, box in words:
        x0, y0, x1, y1 = box
        assert 0 <= x0 <= x1 <= 1000 and 0 <= y0 <= y1 <= 1000
    # OCR boxes land where the words were drawn
    ocr_box = dict(words)["4711"]
    true_box = dict(truth)["4711"]
    assert abs(ocr_box[0] - true_box[0]) < 30 and abs(ocr_box[1] - true_box[1]) < 40


def test_ocr_words_without_tesseract_names_the_install_command(monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(InputError, match="apt-get install tesseract-ocr"):
        ocr_words(sample_document()[0])


# ---- tables and text -----------------------------------------------------------------------------


def test_load_table_gives_strings(tmp_path):
    frame = pd.DataFrame({"City": ["Paris", "Rome"], "Population": [2_100_000, 2_800_000], "Note": [None, 1.5]})
    for value in (frame, frame.to_dict("list")):
        table = load_table(value)
        assert list(table.columns) == ["City", "Population", "Note"]
        assert table.map(lambda v: isinstance(v, str)).all().all()
        assert table.loc[1, "Population"] == "2800000" and table.loc[0, "Note"] == ""
    csv = tmp_path / "t.csv"
    csv.write_text("City,Population\nParis,2100000\nRome,\n")
    table = load_table(csv)
    assert table.values.tolist() == [["Paris", "2100000"], ["Rome", ""]]
    gradio = load_table({"headers": ["a", "b"], "data": [[1, 2], [3, 4]]})
    assert gradio.values.tolist() == [["1", "2"], ["3", "4"]]


def test_load_table_errors(tmp_path):
    with pytest.raises(InputError, match="empty"):
        load_table(pd.DataFrame())
    with pytest.raises(InputError, match="same length"):
        load_table({"a": [1, 2], "b": [1]})
    with pytest.raises(InputError, match="does not exist"):
        load_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="could not be read as CSV"):
        load_table(empty)
    with pytest.raises(InputError, match="Cannot use a int"):
        load_table(3)


def test_require_text():
    assert require_text("  Paris  ") == "  Paris  "
    for blank in ("", "   \n\t", None):
        with pytest.raises(InputError, match="The question is empty"):
            require_text(blank, "question")
    with pytest.raises(InputError, match="must be text"):
        require_text(12)


def test_image_chat_is_one_user_turn():
    chat = image_chat("page.png", "What is the total?")
    assert chat == [{"role": "user", "content": [{"type": "image", "image": "page.png"},
                                                 {"type": "text", "text": "What is the total?"}]}]
    with pytest.raises(InputError):
        image_chat("page.png", " ")


# ---- limits read from headers, before decoding ------------------------------------------------------


def test_a_huge_png_is_refused_on_its_header(tmp_path):
    """A 13000×13000 PNG of a few KB (issue 11): refused from the header, before Pillow decodes pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 13000, 13000, 8, 2, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    for value in (path, bomb):
        with pytest.raises(InputError, match=r"13000×13000 = 169\.0 megapixels, more than the 50 MP allowed"):
            load_image(value)
    policy = replace(HostingPolicy.local(), max_image_pixels=10_000)
    with pytest.raises(InputError, match="more than the 0.01 MP allowed"):
        load_image(sample_image(200), policy)


def test_audio_duration_from_the_header(tmp_path):
    wave, sr = sample_waveform(2.0)
    for fmt in ("wav", "flac", "ogg"):
        sf.write(tmp_path / f"a.{fmt}", wave, sr, format=fmt.upper())
        assert audio_duration(tmp_path / f"a.{fmt}") == pytest.approx(2.0, abs=0.01)
    assert audio_duration((tmp_path / "a.wav").read_bytes()) == pytest.approx(2.0)
    assert audio_duration(b"not audio") is None
    capped = replace(HostingPolicy.local(), max_audio_seconds=1.5)
    with pytest.raises(InputError, match=r"The file `a.flac` is 2 s long, more than the 1.5 s this workbench accepts"):
        decode_audio(tmp_path / "a.flac", capped)
    with pytest.raises(InputError, match=r"The audio is 2 s long"):
        decode_audio((sr, wave), capped)
    assert decode_audio(str(tmp_path / "a.wav"))[1] == sr  # at its own rate


def test_a_huge_pdf_page_is_rendered_within_the_pixel_cap(tmp_path):
    page = Image.new("RGB", (2000, 1000), "white")
    path = tmp_path / "poster.pdf"
    page.save(path, resolution=72)  # 2000×1000 points: 8 MP at the default 2× scale
    policy = replace(HostingPolicy.local(), max_image_pixels=2_000_000)
    img = load_document(path, 0, policy)
    assert img.size[0] * img.size[1] <= 2_000_000 and img.size[0] == pytest.approx(2 * img.size[1], rel=0.01)


def test_paths_and_urls_follow_the_policy(tmp_path, server, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    hosted = HostingPolicy.public()
    sample_image(8).save(tmp_path / "x.png")
    wave, sr = sample_waveform(0.5)
    sf.write(tmp_path / "x.wav", wave, sr)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    for load, name in ((load_image, "x.png"), (decode_audio, "x.wav"), (load_table, "t.csv"),
                       (lambda v, p: load_document(v, 0, p), "x.png")):
        with pytest.raises(InputError, match="does not read paths on the server"):
            load(str(tmp_path / name), hosted)
        assert load(str(tmp_path / name), HostingPolicy.local()) is not None
    with pytest.raises(InputError, match="Could not fetch URL"):
        load_image(f"{server}/cat.png", hosted)
    for url in ("file:///etc/hostname", "ftp://127.0.0.1/cat.png"):
        with pytest.raises(InputError, match="Only http:// and https:// URLs"):
            load_image(url)


def test_after_the_audio_warm_up_a_recording_imports_nothing_more(tmp_path):
    """The first speech request paid ~15 s of imports (librosa's audio module, numba, scipy.signal,
    librosa's lazy submodules); ``warm_audio`` (run by app.py in the background at start) pays them
    instead. In a fresh interpreter: after it, decoding and resampling a recording imports nothing."""
    import subprocess
    import sys

    wav = tmp_path / "mic.wav"
    wave, sr = sample_waveform(seconds=0.5, sr=44_100)
    sf.write(wav, wave, sr, subtype="PCM_16")
    code = f"""
import sys
from workbench.inputs import load_audio, warm_audio
warm_audio()
before = set(sys.modules)
load_audio({str(wav)!r}, 16000)
assert 'numba' in before and 'librosa.core.audio' in before, 'the warm-up did not import the audio stack'
print(sorted(set(sys.modules) - before))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"imported on the first recording after the warm-up: {out.stdout}"


# ---- several images in one run (Image embeddings) ------------------------------------------------


def test_several_images_come_as_a_gallery_a_list_or_lines_of_urls(tmp_path, server):
    from workbench.kinds import KINDS

    images = KINDS["images"]
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    sample_image(40).save(a)
    sample_image(24).save(b)
    policy = HostingPolicy.local()
    assert [im.size for im in images.decode([(str(a), None), (str(b), "a caption")], policy)] == [(40, 40), (24, 24)]
    assert [im.size for im in images.decode([str(a), sample_image(8)], policy)] == [(40, 40), (8, 8)]
    assert [im.size for im in images.decode(f"{server}/cat.png\n\n {server}/cat.png ", policy)] == [(64, 64)] * 2
    assert [im.size for im in images.decode(str(b), policy)] == [(24, 24)]  # one image: a list of one
    assert images.item(str(a), policy).size == (40, 40)  # a batch item is one image
    with pytest.raises(InputError, match="No images given"):
        images.decode([], policy)
    with pytest.raises(InputError, match="3 images given, more than the 2 this workbench takes"):
        images.decode([str(a)] * 3, replace(policy, max_images=2))
    with pytest.raises(InputError, match="b.txt"):  # a file that is not an image, named
        (tmp_path / "b.txt").write_text("not an image")
        images.decode([str(a), str(tmp_path / "b.txt")], policy)
    assert HostingPolicy.public().max_images == 16
