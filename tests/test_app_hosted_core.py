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
