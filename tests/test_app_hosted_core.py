"""Hosted mode's core attacks against the real app (``python app.py`` with ``SPACE_ID`` set, the
``hosted_app`` fixture), through ``gradio_client``: a server file named in the image URL box, a PDF
path in document QA, a loopback URL, a folder or ``offline:../..`` in the model box — each refused
with a clear message — while uploads still work and the app keeps serving."""

from __future__ import annotations

import pytest

from tests.loopback import HITS, PNG, server  # noqa: F401 (fixture)
from tests.test_hosting_core import NOT_A_HUB_ID, REFUSED_PATH
@pytest.fixture(scope="module")
def client(hosted_app):
    from gradio_client import Client

    return Client(hosted_app.url, verbose=False)


def _refused(client, match: str, **kwargs) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=match):
        client.predict(**kwargs)


def test_hosted_app_refuses_server_paths_urls_and_folders(client, server, tmp_path_factory):
    secret = tmp_path_factory.mktemp("server-files") / "secret.png"
    secret.write_bytes(PNG)
    pdf = secret.with_suffix(".pdf")
    from PIL import Image

    Image.open(secret).save(pdf)
    HITS.clear()
    _refused(client, REFUSED_PATH, image=None, image_url=str(secret), top_k=1, model="offline:image-classification",
             api_name="/image_classification")
    _refused(client, REFUSED_PATH, image=None, image_url=str(pdf), question="What is the total?",
             model="offline:document-question-answering", api_name="/document_question_answering")
    _refused(client, r"Could not fetch URL .* only public http\(s\) addresses", image=None,
             image_url=f"http://127.0.0.1:{server}/cat.png", top_k=1, model="offline:image-classification",
             api_name="/image_classification")
    assert HITS == []
    _refused(client, NOT_A_HUB_ID, text="hi", top_k=1, model=str(secret.parent), api_name="/text_classification")
    _refused(client, "is not a built-in offline model", text="hi", top_k=1, model="offline:../../etc",
             api_name="/text_classification")


def test_hosted_app_reads_uploads_and_keeps_serving(client, tmp_path_factory):
    from gradio_client import handle_file

    cat = tmp_path_factory.mktemp("client-files") / "cat.png"
    cat.write_bytes(PNG)
    labels = client.predict(image=handle_file(str(cat)), image_url="", top_k=1, model="offline:image-classification",
                            api_name="/image_classification")[0]
    assert labels  # the upload reached the model: Gradio's upload cache is where hosted paths may point
    assert client.predict(text="I love it", top_k=1, model="offline:text-classification",
                          api_name="/text_classification")[0]


# ---------------------------------------------------------------------------------------------
# The red team's paths around the fetcher (issue 27): each refused through the real API, and the
# loopback server never asked for anything.


def _bench(client, task: str, files: list, **kwargs):
    from gradio_client import handle_file

    return client.predict(task=task, model=f"offline:{task}", workload="file", devices=["cpu"], dtypes=["float32"],
                          batch_sizes="1", n=8, repeats=1, max_tokens=0, upload=[handle_file(str(f)) for f in files],
                          column="", api_name="/benchmark", **kwargs)


def test_the_benchmarks_file_workload_fetches_and_reads_nothing_on_the_server(client, server, tmp_path_factory):
    from gradio_client.exceptions import AppError

    from workbench.samples import sample_video_frames, write_video

    folder = tmp_path_factory.mktemp("red-team")
    (folder / "secret.png").write_bytes(PNG)
    write_video(folder / "secret.mp4", sample_video_frames(12, 128, 96))
    urls = folder / "urls.txt"
    urls.write_text(f"http://127.0.0.1:{server}/cat.png\nhttp://[::1]:{server}/cat.png\n"
                    f"http://127.0.0.1:{server}/drip\n")
    paths = folder / "paths.txt"
    paths.write_text(f"{folder / 'secret.png'}\n")
    missing = folder / "missing.txt"
    missing.write_text(f"{folder / 'nothing-here.png'}\n")
    video = folder / "videos.txt"
    video.write_text(f"{folder / 'secret.mp4'}\n")
    HITS.clear()
    for task, data, match in (("image-classification", urls, "Input 1 of the benchmark's data is a URL"),
                              ("image-classification", paths, REFUSED_PATH),
                              ("image-classification", missing, REFUSED_PATH),  # the same words: nothing is told
                              ("video-classification", video, REFUSED_PATH)):
        with pytest.raises(AppError, match=match) as refusal:
            _bench(client, task, [data])
        assert "Connection refused" not in str(refusal.value)
    assert HITS == []  # nothing was fetched: not even the drip server was asked


def test_an_hls_playlist_naming_a_server_clip_is_refused(client, tmp_path_factory):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from tests.test_media import _playlist, _secret_clip

    folder = tmp_path_factory.mktemp("red-team-hls")
    playlist = _playlist(folder, _secret_clip(folder / "secret.ts"))
    with pytest.raises(AppError, match="playlists and lists of other files are refused"):
        client.predict(video=handle_file(playlist), top_k=1, model="offline:video-classification",
                       api_name="/video_classification")
    with pytest.raises(AppError, match="playlists"):
        client.predict(audio=handle_file(playlist), model="offline:automatic-speech-recognition",
                       api_name="/automatic_speech_recognition")


@pytest.mark.parametrize("revision", ["/tmp/gradio/0123/model", "../../../../tmp", "main/../../x", "a b"])
def test_a_revision_is_a_branch_tag_or_commit(client, revision):
    _refused(client, "The revision must be a branch, a tag or a commit hash", text="hi", top_k=1,
             model="distilbert/distilbert-base-uncased-finetuned-sst-2-english", revision=revision,
             api_name="/text_classification")


@pytest.mark.parametrize("api_name, kwargs, message", [
    ("/text_generation_chat", {"messages": [{"role": "user", "content": "Hi"}], "max_new_tokens": 100_000},
     "max new tokens must be from 1 to 2048; got 100000"),
    ("/text_generation_chat", {"messages": [{"role": "user", "content": "Hi"}], "top_p": 5.0},
     "top p must be from 0.05 to 1; got 5"),
    ("/text_classification", {"text": "hi", "top_k": "nan"}, "Expected a `float`, but the value passed"),  # Gradio's
    ("/text_classification", {"text": "hi", "function_to_apply": "exp"}, "Value: exp is not in the list of choices"),
    ("/zero_shot_classification", {"text": "hi", "candidate_labels": "a, b", "hypothesis_template": "{0} {1}"},
     "write `{}` once where the label goes"),
    ("/text_classification", {"text": "x" * 60_000}, "60000 characters long, more than the 50000"),
    ("/feature_extraction", {"text": "\n".join(["a line"] * 300)}, "300 lines, more than the 256"),
])
def test_every_endpoint_validates_as_its_tab_does(client, api_name, kwargs, message):
    import re

    _refused(client, re.escape(message), api_name=api_name, **kwargs)
