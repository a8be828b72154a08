"""Gradio UI pieces of the workbench. Nothing here imports torch; workbench/ does the work."""
