"""Pipeline Workbench: try, compare and benchmark transformers pipelines (the core, no UI)."""
