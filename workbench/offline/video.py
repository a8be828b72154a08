"""Offline builder for video classification: a tiny random-weight VideoMAE (4 frames of 32×32).

The saved folder has an image processor (no video processor: those need torchvision), which the
workbench's video pipeline feeds with frames that PyAV decoded (``workbench.video``).
"""

from __future__ import annotations

from pathlib import Path

from workbench.offline import builder

#: Labels of the tiny classifier (a few Kinetics-like actions).
VIDEO_LABELS = ["walking", "running", "jumping", "waving", "throwing ball"]
NUM_FRAMES = 4
IMAGE = 32


@builder("video-classification")
def video_classification(path: Path) -> str:
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    config = VideoMAEConfig(image_size=IMAGE, patch_size=8, num_frames=NUM_FRAMES, tubelet_size=2, hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                            id2label=dict(enumerate(VIDEO_LABELS)),
                            label2id={n: i for i, n in enumerate(VIDEO_LABELS)})
    VideoMAEForVideoClassification(config).eval().save_pretrained(path)
    VideoMAEImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}).save_pretrained(path)
    return (f"tiny VideoMAE classifier ({NUM_FRAMES} frames of {IMAGE}×{IMAGE}, 2 layers, hidden 32; "
            f"{len(VIDEO_LABELS)} action labels), random weights")
