"""Errors the workbench raises on purpose. Each message says what went wrong and what to do.

The UI shows ``str(error)`` as it is, so messages are written for a person, not a traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: anything the user can fix by changing an input, a model or a setting."""


class ModelNotFoundError(WorkbenchError):
    """The model is neither local, nor in the HF cache, nor reachable on the Hub."""


class ModelTaskMismatchError(WorkbenchError):
    """The model exists but its architecture cannot do the task."""


class DeviceError(WorkbenchError):
    """A device that this machine does not have."""


class DtypeError(WorkbenchError):
    """A dtype the device cannot run (fp16 on a CPU) or that does not exist."""


class InputError(WorkbenchError):
    """An input the task cannot use: empty text, a corrupt image, a URL that is not an image…"""


class OutOfMemoryError(WorkbenchError):
    """A batch that did not fit in memory even at batch size 1."""


class RunCancelled(WorkbenchError):
    """The user cancelled the run (Cancel, or the browser tab was closed); not a failure."""
