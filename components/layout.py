"""Page-level styling the widgets cannot set themselves (``demo.launch(css=CSS)``).

Kept small: the tab rows wrap instead of hiding tabs behind "…" (``gr.Tabs(overflow_behavior=
"wrap")``, set where the tabs are built); here only what Gradio's own styles get wrong for us.
"""

from __future__ import annotations

CSS = """
/* The model box holds long ids: keep its text clear of the dropdown arrow, cut with an ellipsis. */
.wb-model input { text-overflow: ellipsis; padding-right: 2.25rem !important; }
.wb-model .icon-wrap { pointer-events: none; }
/* Phones: the tab rows wrap, so keep each tab button compact. */
@media (max-width: 480px) {
  [role="tablist"] button[role="tab"] { padding: 4px 8px; font-size: 0.85rem; }
}
"""
