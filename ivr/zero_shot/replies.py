"""Read a server's reply strictly, and keep the API key out of everything taken from it.

An HTTP 200 is not yet an answer: the body may be cut off, not UTF-8, not JSON, or JSON of another
shape (a web page, a proxy's notice, a field of the wrong type). :func:`read_json` and
:class:`Fields` turn each of these into one :class:`~ivr.zero_shot.limits.EndpointError` that
names the request (method and URL), what was wrong (the byte offset, the field path and its
value) and the fix, instead of a traceback from deep inside the client package.

:class:`Scrubber` replaces the API key's value (as sent, and as JSON would escape it) in every
string of a decoded reply, keys included, before anything of it is kept: a server that echoes
the ``Authorization`` header into its reply text, a logprob token or an extra field cannot put
the key into the response cache, the results or an error message.
"""

from __future__ import annotations

import json
from typing import Any

from ivr.zero_shot.limits import EndpointError

REDACTED = "***"
_SHOWN = 60  # characters of a bad value quoted in a message


def read_json(body: bytes, where: str, fix: str, scrub: Scrubber | None = None) -> Any:
    """The JSON value of a reply body, with the secrets scrubbed from its text and from every string in it.

    Args:
        body: the raw bytes the server sent.
        where: the request, e.g. ``POST http://host/v1/chat/completions``.
        fix: what to do about a broken reply (ends the message).
        scrub: the secrets to hide (the API key).

    Raises:
        EndpointError: the body is not UTF-8, not JSON, or cut off.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EndpointError(
            f"{where}: HTTP 200 but the reply is not UTF-8 text (byte 0x{body[err.start]:02x} at "
            f"offset {err.start} of {len(body)}); {fix}"
        ) from None
    scrub = scrub or Scrubber()
    text = scrub.json_line(text)
    try:
        return scrub(json.loads(text))  # and a key spelled with \u escapes
    except json.JSONDecodeError as err:
        if not text.strip():
            what = "empty"
        elif err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated string"):
            what = f"JSON cut off after {len(body)} bytes"
        else:
            what = f"not JSON ({err.msg} at character {err.pos}: {text[max(0, err.pos - 20) : err.pos + 20]!r})"
        raise EndpointError(f"{where}: HTTP 200 but the reply is {what}; {fix}") from None
    except RecursionError:
        raise EndpointError(f"{where}: HTTP 200 but the reply nests too deeply to be an API reply; {fix}") from None


class Fields:
    """Typed fields of a decoded reply; a missing or mistyped one is an EndpointError naming its path.

    Args:
        data: the decoded reply.
        where: the request (method and URL).
        what: what the reply should be, e.g. ``"an OpenAI chat completion"``.
        fix: what to do about it.
    """

    def __init__(self, data: Any, where: str, what: str, fix: str) -> None:
        self.data, self.where, self.what, self.fix = data, where, what, fix

    def fail(self, path: str, value: Any, expected: str) -> EndpointError:
        shown = repr(value)
        shown = shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "..."
        at = f"{path} is {shown}" if path else f"the reply is {shown}"
        return EndpointError(
            f"{self.where}: HTTP 200 but the reply is not {self.what} ({at}, expected {expected}); {self.fix}"
        )

    def get(self, path: str, kind: type | tuple[type, ...], expected: str, optional: bool = False) -> Any:
        """The value at a dotted path (``choices.0.message.content``); None when optional and absent/null."""
        node: Any = self.data
        walked: list[str] = []
        for part in path.split(".") if path else []:
            if node is None and optional:
                return None
            if isinstance(node, dict) and not part.isdigit():
                node = node.get(part)
            elif isinstance(node, list) and part.isdigit():
                node = node[int(part)] if int(part) < len(node) else None
            else:
                raise self.fail(".".join(walked), node, "an object" if not part.isdigit() else "a list")
            walked.append(part)
        if node is None and optional:
            return None
        if isinstance(node, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(path, node, expected)  # True is an int to Python, not to JSON
        if not isinstance(node, kind):
            raise self.fail(path, node, expected)
        return node

    def count(self, path: str) -> int:
        """A token count: a whole number >= 0 (0 when absent)."""
        value = self.get(path, (int, float), "a whole number of tokens >= 0", optional=True)
        if value is None:
            return 0
        if value < 0 or value != int(value):
            raise self.fail(path, value, "a whole number of tokens >= 0")
        return int(value)

    def length(self, path: str) -> int | None:
        """A context length: a whole number > 0, or None when absent."""
        value = self.get(path, (int, float), "a whole number of tokens > 0", optional=True)
        if value is not None and (value <= 0 or value != int(value)):
            raise self.fail(path, value, "a whole number of tokens > 0")
        return None if value is None else int(value)


class Scrubber:
    """Replaces secret values (the API key) in strings, and in every string of a decoded reply.

    Args:
        secrets: the values to hide (None / empty ones are ignored).
    """

    def __init__(self, *secrets: str | None) -> None:
        forms, escaped = set(), set()
        for secret in secrets:
            if secret:
                # as it appears inside a JSON string, with and without \u escapes of non-ASCII
                escaped |= {json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
                forms |= {secret, *escaped}
        self.forms = sorted(forms, key=len, reverse=True)
        self._escaped = sorted(escaped, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.forms)

    def text(self, value: str) -> str:
        for form in self.forms:
            value = value.replace(form, REDACTED)
        return value

    def json_line(self, line: str) -> str:
        """A JSON text with the key's escaped spellings replaced (``***`` keeps a JSON string valid);
        the raw spelling of a key holding a quote could span a string's end, so it is left to :meth:`__call__`."""
        for form in self._escaped:
            line = line.replace(form, REDACTED)
        return line

    def __call__(self, value: Any) -> Any:
        """``value`` with every string in it scrubbed (dict keys too); other values unchanged."""
        if not self.forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) for v in value)
        return value
