"""Hosted mode in the core, through ``run_task`` — the path the UI and the API take.

Each attack from issue 11 is refused under ``HostingPolicy.public()`` with a clear message that
tells nothing about the server (whether a path exists, whether a port is open), and the same input
still works for the operator under the local policy. Servers are ours, on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.loopback import HITS, PNG, PUBLIC, FakeNet, closed_port, server, silent_port  # noqa: F401 (fixtures)
from workbench.errors import InputError
from workbench.hosting import HostingPolicy
from workbench.manager import PipelineManager
from workbench.samples import sample_file, sample_table
from workbench.service import run_task

HOSTED = replace(HostingPolicy.public(), url_deadline_s=3.0)
REFUSED_PATH = "this public workbench does not read paths on the server"


@pytest.fixture(scope="module")
def hosted(manager) -> PipelineManager:
    """A hosted manager (sharing nothing with the session's local one but the offline model files)."""
    return PipelineManager(max_models=16, policy=HOSTED)


@pytest.fixture()
def uploads(tmp_path, monkeypatch) -> Path:
    """Gradio's upload cache for this test (``GRADIO_TEMP_DIR``, as the app sets it)."""
    folder = tmp_path / "gradio-uploads"
    (folder / "f00d").mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


@pytest.fixture()
def secret(tmp_path) -> Path:
    """A server file outside the upload cache."""
    path = tmp_path / "secret" / "secret.png"
    path.parent.mkdir()
    path.write_bytes(PNG)
    return path


def _with_manager(manager: PipelineManager, network: FakeNet) -> PipelineManager:
    return PipelineManager(max_models=16, policy=replace(manager.policy, network=network.network()))


# ---- server paths --------------------------------------------------------------------------------


def test_image_box_does_not_read_server_files_when_hosted(hosted, manager, uploads, secret):
    messages = []
    for path in (secret, secret.parent / "missing.png", uploads / ".." / "secret" / "secret.png", "~/.bashrc",
                 "secret.png"):
        with pytest.raises(InputError, match=REFUSED_PATH) as info:
            run_task(hosted, "image-classification", {"image": str(path)})
        messages.append(str(info.value).replace(str(path), "PATH"))
    assert len(set(messages)) == 1  # existing or not: the same answer
    assert run_task(manager, "image-classification", {"image": str(secret)}).output  # the operator still can


def test_a_link_out_of_the_upload_cache_is_refused(hosted, uploads, secret):
    link = uploads / "f00d" / "innocent.png"
    link.symlink_to(secret)
    with pytest.raises(InputError, match=REFUSED_PATH):
        run_task(hosted, "image-classification", {"image": str(link)})


def test_uploads_are_read_when_hosted(hosted, uploads):
    upload = uploads / "f00d" / "cat.png"
    upload.write_bytes(PNG)
    assert run_task(hosted, "image-classification", {"image": str(upload)}).inputs["image"].size == (64, 64)


def test_text_uploaded_as_an_image_is_said_plainly(hosted, uploads):
    upload = uploads / "f00d" / "notes.png"
    upload.write_text("These are my notes, not a picture.\n" * 20)
    with pytest.raises(InputError, match=r"The file `notes.png` could not be read as an image \(corrupt, or not an "
                                         r"image file\). Accepted: PNG"):
        run_task(hosted, "image-classification", {"image": str(upload)})


def test_pdf_path_in_document_qa_is_refused_when_hosted(hosted, uploads, tmp_path):
    pdf = tmp_path / "contract.pdf"
    shutil.copy(sample_file("document.png"), tmp_path / "page.png")
    from PIL import Image

    Image.open(tmp_path / "page.png").save(pdf)
    for value in (pdf, tmp_path / "missing.pdf"):
        with pytest.raises(InputError, match=REFUSED_PATH):
            run_task(hosted, "document-question-answering", {"image": str(value), "question": "What is the total?"})
    upload = uploads / "f00d" / "contract.pdf"
    shutil.copy(pdf, upload)
    from workbench.service import decode_inputs
    from workbench.tasks import get_task

    page = decode_inputs(get_task("document-question-answering"), {"image": str(upload), "question": "Total?"},
                         HOSTED)["image"]
    assert page.size[0] > 100  # the uploaded PDF's page, rendered


def test_audio_and_table_paths_are_refused_when_hosted(hosted, manager, tmp_path):
    wav = tmp_path / "tone.wav"
    shutil.copy(sample_file("tone.wav"), wav)
    with pytest.raises(InputError, match=REFUSED_PATH):
        run_task(hosted, "audio-classification", {"audio": str(wav)})
    assert run_task(manager, "audio-classification", {"audio": str(wav)}).output
    csv = tmp_path / "t.csv"
    sample_table().to_csv(csv, index=False)
    with pytest.raises(InputError, match=REFUSED_PATH):
        run_task(hosted, "table-question-answering", {"table": str(csv), "query": "Which city?"})


# ---- URLs ----------------------------------------------------------------------------------------


def test_ssrf_to_loopback_is_refused_when_hosted(hosted, manager, server):
    HITS.clear()
    url = f"http://127.0.0.1:{server}/cat.png"
    with pytest.raises(InputError, match=r"Could not fetch URL .* only public http\(s\) addresses"):
        run_task(hosted, "image-classification", {"image": url})
    for variant in (f"http://localhost:{server}/cat.png", f"http://[::ffff:127.0.0.1]:{server}/cat.png",
                    f"http://2130706433:{server}/cat.png", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(InputError, match="Could not fetch URL"):
            run_task(hosted, "image-classification", {"image": variant})
    assert HITS == []
    assert run_task(manager, "image-classification", {"image": url}).inputs["image"].size == (64, 64)
    assert HITS == ["/cat.png"]  # locally the operator's loopback URL works


def test_a_public_url_works_when_hosted(hosted, server):
    net = FakeNet({"images.test": [PUBLIC]}, server)
    r = run_task(_with_manager(hosted, net), "image-classification", {"image": "http://images.test/cat.png"})
    assert r.inputs["image"].size == (64, 64) and net.connected == [PUBLIC]


def test_redirect_to_a_private_address_is_refused_before_connecting(hosted, server):
    net = FakeNet({"images.test": [PUBLIC], "intranet.test": ["192.168.1.10"]}, server)
    for target in ("http://intranet.test/cat.png", f"http://127.0.0.1:{server}/cat.png"):
        with pytest.raises(InputError, match="Could not fetch URL `http://images.test/redirect"):
            run_task(_with_manager(hosted, net), "image-classification",
                     {"image": f"http://images.test/redirect?to={target}"})
    assert net.connected == [PUBLIC, PUBLIC]


def test_redirect_to_ftp_and_too_many_redirects_when_hosted(hosted, server):
    net = FakeNet({"images.test": [PUBLIC]}, server)
    with pytest.raises(InputError, match="redirected to `ftp://images.test/cat.png`, which is not fetched"):
        run_task(_with_manager(hosted, net), "image-classification",
                 {"image": "http://images.test/redirect?to=ftp://images.test/cat.png"})
    with pytest.raises(InputError, match="redirected more than 5 times"):
        run_task(_with_manager(hosted, net), "image-classification", {"image": "http://images.test/loop"})


def test_slow_drip_silent_and_closed_ports_give_one_message_when_hosted(hosted, server, silent_port):
    policy = replace(HOSTED, url_deadline_s=1.0)
    messages = set()
    for port, path in ((server, "/drip"), (silent_port, "/x"), (closed_port(), "/x")):
        manager = PipelineManager(policy=replace(policy, network=FakeNet({"h.test": [PUBLIC]}, port).network()))
        with pytest.raises(InputError) as info:
            run_task(manager, "image-classification", {"image": f"http://h.test{path}"})
        messages.add(str(info.value).replace(path, "/P"))
    assert len(messages) == 1 and "Could not fetch URL `http://h.test/P`" in messages.pop()
