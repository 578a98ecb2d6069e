"""JSON written exactly as JavaScript's JSON.stringify writes it, so signed payloads match the TypeScript SDK's bytes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .rounds import js_number


def js_json(value: Any) -> str:
    """JSON.stringify(value): no spaces, non-ASCII as is, numbers in JavaScript's spelling, non-finite numbers as null."""
    if value is None or value is True or value is False:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return js_number(value) if math.isfinite(float(value)) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(key), ensure_ascii=False)}:{js_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(item) for item in value) + "]"
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return js_json(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON")


def js_sort_key(name: str) -> list[int]:
    """JavaScript's default sort and < compare UTF-16 code units, not code points."""
    return list(name.encode("utf-16-be"))
