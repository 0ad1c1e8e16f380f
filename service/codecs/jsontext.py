"""JSON text <-> Python values: orjson where it gives the json module's answer, the json module where not.

Parsing: every way a client's JSON can fail is a 400, never a 500. orjson parses (4-5x faster than
the json module on a 1 MB V2 tensor body); what orjson refuses is parsed again by the json module, so
that what that accepts beyond strict JSON (NaN and Infinity, lone surrogates, a UTF-8 byte order mark)
means what it did, and errors keep their messages. One difference remains: an integer beyond 64 bits
is read as the nearest double (as JavaScript reads it), not as a Python int. A large document is
parsed with the garbage collector paused: a nested V2 tensor makes tens of thousands of lists, every
700 of which start a collection that walks the worker's ~100k objects (a 1.2 MB [1, 224, 224, 3]
tensor: 66 ms to parse with the collector running, 13 ms paused).

Encoding: orjson writes NaN and infinities as null where the json module writes NaN and Infinity
(which is not JSON). An orjson answer with no null in it therefore had none of them, and is the json
module's document (compact, UTF-8 rather than \\u escapes); any other is written by the json module.
"""
from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

from service.errors import InvalidInput

# Keys that are not strings (ints, floats, bools) become strings, as with the json module.
OPTIONS = orjson.OPT_NON_STR_KEYS
LARGE_DOCUMENT = 64 * 1024  # bytes; parsed with the garbage collector paused


@contextmanager
def collector_paused(paused: bool = True) -> Iterator[None]:
    """No garbage collection inside (unless it was off already, or paused is False)."""
    if not (paused and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def loads(data: bytes | str, what: str = "the request body") -> Any:
    """Parse JSON; malformed, not UTF-8, or nested deeper than Python's recursion limit: InvalidInput."""
    with collector_paused(len(data) >= LARGE_DOCUMENT):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # not strict JSON: the json module decides, and words its error
        try:
            return json.loads(data)
        except RecursionError:
            raise InvalidInput(f"{what} is nested too deeply to be a valid request") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{what} is not valid JSON: {exc}") from None


def dumps(value: Any, fallback: Callable[[Any], str] = json.dumps) -> bytes:
    """The JSON document of a response body or log line, as `fallback` (the json module) would write it."""
    try:
        text = orjson.dumps(value, option=OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits, lone surrogates, other types
        return fallback(value).encode()
    if b"null" in text:  # maybe a NaN or an infinity, which orjson writes as null
        return fallback(value).encode()
    return text


def response_body(value: Any, fallback: Callable[[Any], str] = json.dumps) -> bytes:
    """A JSON response body as Flask's jsonify writes it: the document and a newline."""
    return dumps(value, fallback) + b"\n"


class FastJSONProvider(DefaultJSONProvider):
    """Flask's jsonify through dumps(): the same documents as Flask's own provider, sooner."""

    def response(self, *args: Any, **kwargs: Any) -> Response:
        value = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(response_body(value, fallback=super().dumps), mimetype=self.mimetype)
