"""Page-level styling and behaviour the widgets cannot set themselves (``demo.launch(css=CSS, js=JS)``).

Kept small: the tab rows wrap instead of hiding tabs behind "…" (``gr.Tabs(overflow_behavior=
"wrap")``, set where the tabs are built); here only what Gradio's own styles get wrong for us.
"""

from __future__ import annotations

CSS = """
/* Every dropdown's text stays clear of its arrow (long model ids are cut with an ellipsis). */
.secondary-wrap input[role="combobox"] { text-overflow: ellipsis; padding-right: 2.25rem !important; }
.secondary-wrap .icon-wrap { pointer-events: none; }
/* A label whose name carries its score ("were (0.36%)", components.renderers._readable): the Label's
   own whole percentage ("0%") goes, so the score shows once. Gradio names each row by its label. */
[data-testid$="%)-confidence-set"] .confidence { display: none; }
/* Video inputs: Gradio's fixed height cut off the source icons (upload, webcam) under the box and
   under a loaded clip; the box grows to hold them, the clip stays 220 px high. */
.wb-video { height: auto !important; }
.wb-video video { max-height: 220px; }
/* Phones: the tab rows wrap, so keep each tab button compact. */
@media (max-width: 480px) {
  [role="tablist"] button[role="tab"] { padding: 4px 8px; font-size: 0.85rem; }
}
/* Phones and narrow windows: the model box takes its row (revision goes under it) so the model
   shows; Chat's conversation comes before its settings; tables wrap their cells to fit. */
@media (max-width: 640px) {
  .wb-model { min-width: 100% !important; }
  .wb-conversation-first { flex-direction: column-reverse !important; }
  .wb-narrow-table td, .wb-narrow-table th { font-size: 0.75rem; }
}
"""

#: Runs once when the page loads (``launch(js=JS)``).
#: - A new Run, Compare, Send or benchmark (a primary button) first closes the toasts still showing:
#:   Gradio stacks toasts of one kind, so an earlier, unrelated error came back as "Error (2)" next
#:   to the new one. The reasons themselves stay on the page, under each output.
#: - On a phone (narrow screen) the accordions marked ``wb-fold`` (settings) start closed.
JS = """
() => {
  const closeToasts = () => document.querySelectorAll('[data-testid="toast-close"]').forEach((b) => b.click());
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest("button.primary")) closeToasts();
  }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && e.target.closest && e.target.closest(".wb-send-on-enter")) closeToasts();
  }, true);
  if (window.matchMedia("(max-width: 640px)").matches) {
    // a tab's content renders when the tab opens; its accordion takes a click once Svelte has wired it
    const close = (b, tries) => {
      if (!b.classList.contains("open") || tries === 0) return;
      b.click();
      setTimeout(() => close(b, tries - 1), 250);
    };
    const fold = () => document.querySelectorAll(".wb-fold > button.label-wrap").forEach((b) => {
      if (b.dataset.wbFolded) return;
      b.dataset.wbFolded = "1";
      setTimeout(() => close(b, 12), 100);
    });
    new MutationObserver(fold).observe(document.body, {childList: true, subtree: true});
    fold();
  }
}
"""
