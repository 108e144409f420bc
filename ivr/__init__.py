"""ivr: individualistic value reasoning with PyTorch Lightning (see README.md and CONTRACTS.md)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ivr")
except PackageNotFoundError:  # a source tree on PYTHONPATH without an install
    __version__ = "0.1.0"
