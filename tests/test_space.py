"""The repository is a Hugging Face Space as it is: README front matter, requirements, packages."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from workbench.presets import load_presets
from workbench.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


@pytest.fixture(scope="module")
def card():
    from huggingface_hub import SpaceCard

    return SpaceCard.load(ROOT / "README.md").data


def _requirement(name: str) -> Requirement:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and Requirement(line).name == name:
            return Requirement(line)
    raise AssertionError(f"{name} is not in requirements.txt")


def test_front_matter_describes_a_gradio_space(card):
    assert card.title and card.emoji and card.colorFrom in COLORS and card.colorTo in COLORS
    assert card.sdk == "gradio" and card.app_file == "app.py" and (ROOT / card.app_file).exists()
    assert 0 < len(card.short_description) <= 60  # the Hub's limit
    assert Version(str(card.python_version)).release[:2] == (3, 11)


def test_sdk_version_satisfies_requirements(card):
    version = str(card.sdk_version)
    assert Version(version).release[0] == 6 and len(Version(version).release) == 3  # an exact release
    assert _requirement("gradio").specifier.contains(version), (version, str(_requirement("gradio")))
    assert str(_requirement("torch").specifier) == "==2.13.0"


def test_models_are_the_presets(card):
    presets = {m.id for task in TASKS for m in load_presets(task).models}
    assert set(card.models) == presets
    assert len(card.models) == len(set(card.models))


def test_packages_txt_installs_ocr():
    packages = (ROOT / "packages.txt").read_text().split()
    assert "tesseract-ocr" in packages
