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
from workbench.errors import InputError, ModelNotFoundError
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


# ---- models --------------------------------------------------------------------------------------

NOT_A_HUB_ID = "is not a Hub model id. This public workbench loads models from the Hugging Face Hub"


class FakeHub:
    """The Hub as seen through ``workbench.hub.Hub``: metadata from a dict, downloads from a local
    folder (a copy of an offline model), every call recorded. Nothing touches the network."""

    def __init__(self, sizes: dict[str, int | None], folder: str | None = None) -> None:
        self.sizes, self.folder = sizes, folder
        self.asked: list[str] = []
        self.downloads: list[tuple[str, list[str]]] = []

    def model_info(self, repo_id: str, revision: str | None):
        from huggingface_hub.hf_api import ModelInfo

        self.asked.append(repo_id)
        return ModelInfo(id=repo_id, siblings=[{"rfilename": n, "size": s} for n, s in self.sizes.items()])

    def download(self, repo_id: str, revision: str | None, files: list[str]) -> str:
        self.downloads.append((repo_id, files))
        return self.folder

    def hub(self):
        from workbench.hub import Hub

        return Hub(reachable=lambda: True, model_info=self.model_info, download=self.download)


def test_model_box_does_not_load_server_folders_when_hosted(hosted, tmp_path):
    from workbench.offline import offline_model_path

    folder = offline_model_path("text-classification")
    messages = set()
    for name in (folder, str(tmp_path / "missing"), "./models", "../../etc", "~/models", "/", "C:\\models"):
        with pytest.raises(ModelNotFoundError, match=NOT_A_HUB_ID) as info:
            run_task(hosted, "text-classification", {"text": "hi"}, model=name)
        messages.add(str(info.value).replace(f"`{name}`", "`NAME`"))
    assert len(messages) == 1  # an existing folder and a missing one: the same answer
    assert hosted.loaded() == [] or all(e.source.kind == "offline" for e in hosted.loaded())


def test_a_hub_id_that_is_also_a_local_folder_is_never_read_from_disk(hosted, tmp_path, monkeypatch):
    """``workbench/offline`` is a valid Hub id and a folder next to app.py: hosted, it means the Hub id."""
    import shutil

    from workbench.offline import offline_model_path

    monkeypatch.chdir(tmp_path)
    shutil.copytree(offline_model_path("text-classification"), tmp_path / "acme" / "local-copy")
    with pytest.raises(ModelNotFoundError, match="Hub cannot be reached"):
        run_task(hosted, "text-classification", {"text": "hi"}, model="acme/local-copy")


@pytest.mark.parametrize("policy", [HOSTED, HostingPolicy.local()])
def test_offline_names_are_exactly_the_built_in_ones(policy):
    manager = PipelineManager(policy=policy)
    for name in ("offline:../../etc", "offline:/etc/passwd", "offline:no-such-task"):
        with pytest.raises(ModelNotFoundError, match=rf"`{name}` is not a built-in offline model\. For text-classification "
                                                     r"use `offline:text-classification`"):
            run_task(manager, "text-classification", {"text": "hi"}, model=name)
    assert manager.load_count == 0


def test_the_allow_list_is_enforced_when_hosted():
    manager = PipelineManager(policy=replace(HOSTED, model_allowlist=("acme/*",)))
    with pytest.raises(ModelNotFoundError, match="not among the models this workbench's operator allows: acme/"):
        run_task(manager, "text-classification", {"text": "hi"}, model="evil/model")


def test_size_cap_is_read_from_the_hub_before_downloading(tmp_path):
    import shutil

    from workbench.offline import offline_model_path

    folder = tmp_path / "download"
    shutil.copytree(offline_model_path("text-classification"), folder, ignore=shutil.ignore_patterns("workbench_offline.json"))
    files = {"config.json": 700, "model.safetensors": 900_000, "pytorch_model.bin": 900_000, "onnx/model.onnx": 10**9,
             "tokenizer.json": 5000}
    policy = replace(HOSTED, max_model_bytes=1_000_000)
    big = FakeHub({**files, "model.safetensors": 2_000_000}, str(folder))
    with pytest.raises(ModelNotFoundError, match=r"`acme/big` has 1.91 MB of weights, more than the 977 KB this "
                                                 "workbench loads"):
        run_task(PipelineManager(policy=policy, hub=big.hub()), "text-classification", {"text": "hi"}, model="acme/big")
    assert big.asked == ["acme/big"] and big.downloads == []  # refused on the metadata alone
    unknown = FakeHub({**files, "model.safetensors": None}, str(folder))
    with pytest.raises(ModelNotFoundError, match="size of model `acme/unknown` could not be read"):
        run_task(PipelineManager(policy=policy, hub=unknown.hub()), "text-classification", {"text": "hi"},
                 model="acme/unknown")
    assert unknown.downloads == []
    small = FakeHub(files, str(folder))
    manager = PipelineManager(policy=policy, hub=small.hub())
    r = run_task(manager, "text-classification", {"text": "I love it"}, model="acme/small")
    assert r.model == "acme/small" and r.output
    assert small.downloads == [("acme/small", ["config.json", "model.safetensors", "tokenizer.json"])]
    assert manager.loaded()[0].source.path == str(folder)


def test_hosted_manager_never_trusts_remote_code(monkeypatch):
    monkeypatch.setenv("WORKBENCH_TRUST_REMOTE_CODE", "1")
    assert PipelineManager(policy=HOSTED).trust_remote_code is False
    assert PipelineManager(policy=HOSTED, trust_remote_code=True).trust_remote_code is False
    assert PipelineManager().trust_remote_code is True  # the operator's choice, locally


def test_hosted_byte_bound_defaults_from_the_machines_memory(monkeypatch):
    import psutil

    monkeypatch.delenv("WORKBENCH_MAX_BYTES", raising=False)
    assert PipelineManager(policy=HOSTED).max_bytes == int(psutil.virtual_memory().total * 0.5)
    assert PipelineManager().max_bytes is None
    assert PipelineManager(policy=HOSTED, max_bytes=123).max_bytes == 123


# ---- audio ---------------------------------------------------------------------------------------


def _tone(seconds: float, sr: int = 16_000):
    import numpy as np

    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)


def test_audio_duration_is_capped_from_the_header(uploads):
    import soundfile as sf

    upload = uploads / "f00d" / "long.flac"
    sf.write(upload, _tone(3.0), 16_000)
    manager = PipelineManager(policy=replace(HOSTED, max_audio_seconds=2.0))
    for value in (str(upload), (16_000, _tone(3.0))):
        with pytest.raises(InputError, match=r"is 3 s long, more than the 2 s this workbench accepts"):
            run_task(manager, "audio-classification", {"audio": value})
    assert manager.load_count == 0  # refused before any model loaded
    sf.write(upload, _tone(1.0), 16_000)
    assert run_task(manager, "audio-classification", {"audio": str(upload)}).output


def test_long_audio_is_chunked_in_speech_recognition():
    """35 s is longer than Whisper's 30 s window: transformers alone refuses it; the workbench chunks it."""
    wave = _tone(35.0)
    manager = PipelineManager()  # its own pipeline: the generation length is shortened below
    pipe = manager.get("automatic-speech-recognition")
    pipe.model.generation_config.max_new_tokens = 3  # random weights: a few tokens per window are enough
    with pytest.raises(ValueError, match="more than 3000 mel input features"):
        pipe(wave.astype("float32") / 32767)
    r = run_task(manager, "automatic-speech-recognition", {"audio": (16_000, wave)})
    assert isinstance(r.output["text"], str)
    assert any("transcribed in chunks (chunk_length_s=30)" in n for n in r.notes) and "chunk_length_s=30" in r.code



def test_the_benchmarks_own_data_is_read_as_the_policy_allows(hosted, manager, uploads, tmp_path):
    """The Benchmark tab's ``file`` workload: hosted, only uploads are read, and their media within
    the host's caps; the operator's local files still work."""
    import soundfile as sf

    from workbench.bench import BenchConfig, run_benchmark
    from workbench.workloads import make_workload

    secret = tmp_path / "reviews.csv"
    secret.write_text("text\ngreat\nawful\n")
    config = BenchConfig(task="text-classification", workload="file", path=str(secret), batch_sizes=(2,), n=2,
                         repeats=1, runners=("runner",))
    with pytest.raises(InputError, match=REFUSED_PATH):
        run_benchmark(hosted, config)
    assert make_workload("file", "text-classification", path=str(secret)).items == ["great", "awful"]  # local
    upload = uploads / "f00d" / "reviews.csv"
    shutil.copy(secret, upload)
    assert make_workload("file", "text-classification", path=str(upload), policy=HOSTED).items == ["great", "awful"]
    clip = uploads / "f00d" / "long.wav"
    sf.write(clip, _tone(3.0), 16_000)
    capped = replace(HOSTED, max_audio_seconds=2.0)
    with pytest.raises(InputError, match="is 3 s long, more than the 2 s this workbench accepts"):
        make_workload("file", "audio-classification", path=[str(clip), str(clip)], policy=capped)
