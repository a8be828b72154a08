"""The video-classification pipeline the workbench loads: transformers' own, with frames sampled
evenly over the whole clip by ``workbench.video`` (PyAV) instead of the first ``num_frames``.

transformers' ``VideoClassificationPipeline`` decodes, for models with an image processor, only
the clip's first ``num_frames × frame_sampling_rate`` frames; a 10 s clip is classified on its
first half second. This subclass samples evenly unless ``frame_sampling_rate`` is given, accepts a
``DecodedVideo`` as well as a path, and keeps everything else (forward, postprocess, ``top_k``).

    from transformers import pipeline
    pipe = pipeline("video-classification", model=folder, pipeline_class=VideoClassificationPipeline)
    pipe("clip.mp4", top_k=2)
    # -> [{'score': 0.22, 'label': 'waving'}, {'score': 0.21, 'label': 'running'}]
"""

from __future__ import annotations

from typing import Any

from transformers.pipelines.video_classification import VideoClassificationPipeline as _Base

from workbench.video import DecodedVideo, load_video


class VideoClassificationPipeline(_Base):
    """``VideoClassificationPipeline`` with even frame sampling through PyAV (see the module doc)."""

    def _sanitize_parameters(self, top_k=None, num_frames=None, frame_sampling_rate=None, function_to_apply=None):
        pre, fwd, post = super()._sanitize_parameters(top_k=top_k, num_frames=num_frames,
                                                      function_to_apply=function_to_apply)
        if frame_sampling_rate is not None:
            pre["frame_sampling_rate"] = frame_sampling_rate
        return pre, fwd, post

    def frames_per_clip(self) -> int:
        """How many frames the model takes per clip (its config's ``num_frames``, else 16)."""
        return int(getattr(self.model.config, "num_frames", None) or 16)

    def preprocess(self, video: Any, num_frames: int | None = None, frame_sampling_rate: int | None = None) -> Any:
        num_frames = num_frames or self.frames_per_clip()
        if not isinstance(video, DecodedVideo):
            video = load_video(video, num_frames, step=frame_sampling_rate)
        if self.video_processor is not None:
            import numpy as np

            inputs = self.video_processor(np.stack(video.frames), do_sample_frames=False, return_tensors="pt")
        else:
            inputs = self.image_processor(list(video.frames), return_tensors="pt")
        return inputs.to(self.dtype)
