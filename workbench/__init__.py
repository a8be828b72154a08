"""Pipeline Workbench: try, compare and benchmark transformers pipelines (the core, no UI).

``from workbench import demo_for`` is the one UI entry point here, imported only when asked for
(``components.demo``; nothing in ``workbench/`` imports gradio otherwise):
``demo_for(pipe).launch()`` serves the workbench's tab for a pipeline, the drop-in for
``gr.Interface.from_pipeline``.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "demo_for":
        from components.demo import demo_for

        return demo_for
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = ["demo_for"]
