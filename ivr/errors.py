"""The project's error contract: an expected failure caused by what the user gave us.

An :class:`IvrError` (or a subclass) means the input is at fault: a file, a flag, a config key, a
checkpoint, a catalog, a model or a server reply. Its message names that thing and says how to fix it.
Entry points print it as one ``error: ...`` line and exit with status 2, without a traceback
(``--debug`` or ``IVR_DEBUG=1`` shows it). Anything else is a bug and keeps its traceback.

The subclasses below also derive from the built-in exception a caller would expect (``ValueError``,
``FileNotFoundError``, ...), so code that catches those keeps working. See CONTRACTS.md.
"""

from __future__ import annotations

from collections.abc import Sequence


class IvrError(Exception):
    """An expected, user-fixable failure; the message names the file / flag / value and the fix."""


class ConfigError(IvrError, ValueError):
    """A flag, config key or setting value is wrong (unknown key, bad value, impossible combination)."""


class InputError(IvrError, ValueError):
    """An input file or value the user gave is malformed (names the file, row, column or value)."""


class InputNotFoundError(IvrError, FileNotFoundError):
    """A path the user gave does not exist or is not what it should be."""


class OutputFolderError(IvrError, FileExistsError):
    """An output path is refused: it holds files ivr did not write (names the folder and the flag)."""


class CheckpointError(IvrError, ValueError):
    """A checkpoint is missing, unreadable, corrupt or does not fit the model."""


class RunLockedError(IvrError, RuntimeError):
    """Another run holds the lock of a checkpoint folder."""


def expected_error(err: BaseException) -> IvrError | None:
    """The :class:`IvrError` behind ``err``: itself, or the first one in its ``raise ... from`` chain.

    Libraries that call our code (jsonargparse's links, Lightning hooks) may wrap an ``IvrError`` in
    their own exception; the user should still see our message, not the wrapper's. Only explicit
    causes are followed: an error raised *while handling* an IvrError is a bug and keeps its traceback.
    """
    seen: set[int] = set()
    node: BaseException | None = err
    while node is not None and id(node) not in seen:
        if isinstance(node, IvrError):
            return node
        seen.add(id(node))
        node = node.__cause__
    return None


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """``"; did you mean --data.split_size?"`` for the closest candidate, or ``""`` (the tail of an error message
    naming an unknown key, flag or name)."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
