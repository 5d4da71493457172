"""Installing the course: PyTorch is the package's optional ``torch`` extra.

``pip install -e .`` installs what chapter 1 and Exercise 1 need (NumPy, matplotlib, widgets);
``pip install -e ".[torch]"`` adds PyTorch, which chapters 2 to 10 (chapters 2 to 6 check the
NumPy code against it) and Exercises 2 to 4 use. Every notebook that needs it calls
:func:`require_torch` in its first cell, so that a missing PyTorch stops it at once with the
command that installs it, instead of ``No module named 'torch'`` somewhere further down.
"""

from __future__ import annotations

import importlib.metadata
import shlex
import sys

DISTRIBUTION = "dlbasics"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's CPU-only package index: on Linux, PyPI's torch is the much larger CUDA build."""


def torch_pin(distribution: str = DISTRIBUTION) -> str | None:
    """The exact torch version of the ``torch`` extra (``pyproject.toml``, where the pin is
    written), read from the installed package's metadata; ``None`` where ``distribution`` is
    not installed (the package used from a source folder) or pins no exact version."""
    try:
        requirements = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name, _, rest = requirement.partition("==")
        if name.strip() == "torch" and rest:
            return rest.split(";")[0].strip()
    return None


def torch_install_message(python: str | None = None, pin: str | None = None) -> str:
    """What to run to install PyTorch for ``python`` (default: this interpreter).

    Parameters
    ----------
    python : str, optional
        The interpreter to install into; default :data:`sys.executable`, the kernel's own.
    pin : str, optional
        The torch version; default :func:`torch_pin` (no version where it is unknown).

    Returns
    -------
    str
        Several lines: the ``%pip`` command for a notebook cell, the same for a terminal, and the
        course folder's ``.[torch]`` install.
    """
    python = python or sys.executable
    pin = pin or torch_pin()
    requirement = f'"torch=={pin}"' if pin else "torch"
    pip = f"--retries 1 --timeout 10 {requirement} --extra-index-url {TORCH_CPU_INDEX}"
    return (
        f"This notebook needs PyTorch ({requirement.strip(chr(34))}, the course package's "
        f"`torch` extra), which is not installed in this Python ({python}).\n"
        "Install it, then restart the kernel (Kernel > Restart Kernel) and run the notebook "
        "again:\n"
        f"  in a notebook cell:  %pip install {pip}\n"
        f"  in a terminal:       {shlex.quote(python)} -m pip install {pip}\n"
        "  or, in the course's folder (the student bundle or the book repository):\n"
        "                       pip install --retries 1 --timeout 10 -r requirements.txt "
        "-e \".[torch]\"\n"
        f"The extra index ({TORCH_CPU_INDEX}) gives Linux the CPU build (about 190 MB) instead of "
        "the CUDA build with several GB of NVIDIA libraries; macOS and Windows get the same "
        "build as from PyPI. Nothing in the course needs a GPU."
    )


def require_torch() -> None:
    """Check that PyTorch can be imported; if not, say how to install it.

    Raises
    ------
    ModuleNotFoundError
        PyTorch is not installed in this interpreter; the message holds the exact command
        (:func:`torch_install_message`).

    Examples
    --------
    >>> import dlbasics
    >>> dlbasics.require_torch()  # silent where torch is installed
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        if getattr(exc, "name", "torch") not in (None, "torch"):
            raise  # torch is there but something it needs is broken: its own error says what
        raise ModuleNotFoundError(torch_install_message(), name="torch") from None
