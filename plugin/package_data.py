"""Where the data folders that ship with the package are: ``rules/`` and ``fhir_samples/``.

In a checkout they sit at the repository root. An installed wheel carries them inside the
``plugin`` package (``plugin/rules``, ``plugin/fhir_samples``; see ``package_dir`` in setup.cfg),
because a wheel only installs what lies under a package. This is the one place that knows both
layouts; everything else asks :func:`data_dir`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

#: the folders that travel with the package
DATA_FOLDERS = ("rules", "fhir_samples")


def data_dir(name: str) -> Path:
    """The folder ``name`` (one of :data:`DATA_FOLDERS`): the installed copy when there is one,
    else the checkout's.

    :raises ValueError: for a name that is not shipped.
    """
    if name not in DATA_FOLDERS:
        raise ValueError(f"{name!r} is not a data folder of the package ({DATA_FOLDERS})")
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
