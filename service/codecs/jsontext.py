"""JSON bodies -> Python values: every way a client's JSON can fail is a 400, never a 500."""
from __future__ import annotations

import json
from typing import Any

from service.errors import InvalidInput


def loads(data: bytes | str, what: str = "the request body") -> Any:
    """Parse JSON; malformed, not UTF-8, or nested deeper than Python's recursion limit: InvalidInput."""
    try:
        return json.loads(data)
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply to be a valid request") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
