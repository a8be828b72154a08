"""Video classification: PyAV decoding with even frame sampling, the tiny VideoMAE through the
manager, the batch runner, the service, and the running app through gradio_client.

The clip is generated (a red ball crossing the frame left to right, 48 frames at 24 fps), so where
the ball is in a decoded frame says which frame it is.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.samples import sample_file, sample_video_frames, write_video
from workbench.video import load_video, probe_video, sample_indices

TASK = "video-classification"


def ball_x(frame: np.ndarray) -> float:
    """The horizontal centre of the red ball in an RGB frame."""
    red = (frame[..., 0] > 150) & (frame[..., 1] < 100) & (frame[..., 2] < 100)
    return float(np.nonzero(red)[1].mean())


@pytest.fixture(scope="module")
def clip() -> str:
    return sample_file("clip.mp4")


@pytest.fixture(scope="module")
def pipe(manager):
    return manager.get(TASK)


# ---------------------------------------------------------------------------------------------
# decoding


def test_frames_are_sampled_evenly_over_the_whole_clip(clip):
    video = load_video(clip, 4)
    assert video.indices == [0, 16, 31, 47] and video.total_frames == 48 and video.fps == 24
    assert video.times_s == pytest.approx([i / 24 for i in video.indices], abs=1e-3)
    assert all(f.shape == (96, 128, 3) and f.dtype == np.uint8 for f in video.frames)
    # the ball moves steadily across: each sampled frame shows it where the source frame had it
    source = sample_video_frames()
    assert [ball_x(f) for f in video.frames] == pytest.approx([ball_x(source[i]) for i in video.indices], abs=2)
    assert "4 of 48 frames, evenly spaced over 2.00 s" in video.sampling


def test_step_sampling_takes_frames_from_the_start_like_transformers(clip):
    video = load_video(clip, 4, step=3)
    assert video.indices == [0, 3, 6, 9] and "one frame in 3 from the start" in video.sampling
    assert sample_indices(3, 4) == [0, 1, 1, 2]  # a clip shorter than the model's frames repeats some


def test_webm_vp8_clip_decodes(tmp_path):
    path = write_video(tmp_path / "webcam.webm", sample_video_frames(12), fps=12, codec="libvpx")
    video = load_video(path, 4)
    assert video.indices == [0, 4, 7, 11] and probe_video(path).codec == "vp8"


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "is empty"),
    ("text", "could not be read as a video"),
    ("truncated", "could not be read as a video"),
    ("audio", "has no video stream"),
    ("url", "URLs are not fetched"),
    ("none", "No video given"),
])
def test_bad_files_are_refused_with_a_clear_message(tmp_path, clip, case, message):
    path = tmp_path / f"{case}.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a video\n" * 50)
    elif case == "truncated":
        path.write_bytes(open(clip, "rb").read()[:2000])
    elif case == "audio":
        path = sample_file("tone.wav")
    value = {"url": "https://example.com/clip.mp4", "none": None}.get(case, str(path))
    with pytest.raises(InputError, match=message):
        load_video(value, 4)


def test_caps_on_duration_and_size(clip):
    with pytest.raises(InputError, match="2 s long, more than the 1 s allowed"):
        probe_video(clip, max_seconds=1)
    with pytest.raises(InputError, match="MB allowed"):
        load_video(clip, 4, max_bytes=1000)


# ---------------------------------------------------------------------------------------------
# the pipeline


def test_pipeline_through_the_manager_gives_sorted_labels(pipe, clip):
    out = pipe(clip, top_k=3)
    assert len(out) == 3 and all(set(d) == {"label", "score"} for d in out)
    assert [d["score"] for d in out] == sorted((d["score"] for d in out), reverse=True)
    labels = set(pipe.model.config.id2label.values())
    assert {d["label"] for d in out} <= labels
    assert pipe(load_video(clip, pipe.frames_per_clip()), top_k=3) == out  # decoded or path: same


def test_even_sampling_matches_transformers_on_a_clip_of_exactly_the_models_frames(pipe, tmp_path):
    """With as many frames as the model takes, even sampling and transformers' first-N agree."""
    from transformers.pipelines.video_classification import VideoClassificationPipeline

    path = write_video(tmp_path / "four.mp4", sample_video_frames(pipe.frames_per_clip()))
    stock = VideoClassificationPipeline(model=pipe.model, image_processor=pipe.image_processor)
    ours, theirs = pipe(path, top_k=5), stock(path, top_k=5)
    assert [d["label"] for d in ours] == [d["label"] for d in theirs]
    assert [d["score"] for d in ours] == pytest.approx([d["score"] for d in theirs], abs=1e-5)


def test_batch_runner_equals_one_by_one(pipe):
    from workbench.runner import run_batch
    from workbench.workloads import make_workload

    work = make_workload("videos", TASK, n=6)
    assert len(set(work.items)) > 1  # clips of several lengths and shapes
    out = run_batch(pipe, work.items, batch_size=4, top_k=2)
    for item, got in zip(work.items, out.results):
        want = pipe(item, top_k=2)
        assert [d["label"] for d in got] == [d["label"] for d in want]
        assert [d["score"] for d in got] == pytest.approx([d["score"] for d in want], abs=1e-5)


# ---------------------------------------------------------------------------------------------
# the service and the app


def test_service_reports_the_sampling_and_refuses_bad_input_before_loading(manager, clip, tmp_path):
    from workbench.service import run_task

    result = run_task(manager, TASK, {"video": clip}, {"top_k": 2})
    assert len(result.output) == 2 and result.inputs["video"].indices == [0, 16, 31, 47]
    assert result.notes == ["Frames: 4 of 48 frames, evenly spaced over 2.00 s (24 fps): frames 0, 16, 31, 47"]
    assert "pipeline_class=VideoClassificationPipeline" in result.code
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    loads = manager.load_count
    with pytest.raises(InputError, match="could not be read as a video"):
        run_task(manager, TASK, {"video": str(bad)}, model="offline:does-not-matter-never-loaded")
    assert manager.load_count == loads


@pytest.fixture(scope="module")
def served(manager):
    import gradio as gr

    from components.context import TabContext
    from components.task_tab import build_task_tab
    from tests.app_server import serving
    from workbench.tasks import get_task

    context = TabContext(devices=["cpu"], dtypes=["float32"], online=False, offline_tasks=frozenset({TASK}))
    with gr.Blocks() as demo:
        build_task_tab(get_task(TASK), manager, context)
    with serving(demo) as url:
        yield url


def test_app_endpoint_classifies_an_upload_and_survives_a_bad_one(served, clip, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(served, verbose=False)
    labels, frames, raw, info, code = client.predict(video=handle_file(clip), top_k=2, model=f"offline:{TASK}",
                                                     api_name="/video_classification")
    assert len(labels["confidences"]) == 2 and len(raw) == 2
    assert len(frames) == 4 and frames[1]["caption"] == "frame 16 · 0.67 s"
    assert "Frames: 4 of 48 frames" in info and "random-weight" in info
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(AppError, match="could not be read as a video"):
        client.predict(video=handle_file(str(bad)), model=f"offline:{TASK}", api_name="/video_classification")
    again = client.predict(video=handle_file(clip), top_k=1, model=f"offline:{TASK}", api_name="/video_classification")
    assert len(again[0]["confidences"]) == 1
