"""The project's error contract: an expected failure caused by what the user gave us.

An :class:`IvrError` (or a subclass) means the input is at fault: a file, a flag, a config key, a
checkpoint, a catalog, a model or a server reply. Its message names that thing and says how to fix it.
Entry points print it as one ``error: ...`` line and exit with status 2, without a traceback
(``--debug`` or ``IVR_DEBUG=1`` shows it). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class IvrError(Exception):
    """An expected, user-fixable failure; the message names the file / flag / value and the fix."""
