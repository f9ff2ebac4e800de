"""Which read models a nested field reads: those its parent object was read from.

A root field asked with ``asOf`` reads the subject's replayed read models; the objects it returns
remember that view (``remember``), and nested fields that query again (an appraisal's scorecard,
a scorecard's rule set, a department's own goals) ask ``view_of`` instead of using their own
``info``, so a whole as-of answer comes from one moment.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

_VIEW = "_read_with"
T = TypeVar("T")


def remember(result: T, view: Any, *, depth: int = 4) -> T:
    """Mark ``result`` and the objects inside it (lists, connections, members) as read
    through ``view``, when ``view`` is an as-of view (live answers need no mark)."""
    if depth < 0 or result is None or not getattr(view, "as_of", False):
        return result
    if isinstance(result, list | tuple):
        for item in result:
            remember(item, view, depth=depth - 1)
        return result
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        object.__setattr__(result, _VIEW, view)
        for f in dataclasses.fields(result):
            value = getattr(result, f.name, None)
            if isinstance(value, list | tuple) or dataclasses.is_dataclass(value):
                remember(value, view, depth=depth - 1)
    return result


def view_of(obj: object, info: T) -> T:
    """The Info to read ``obj``'s nested fields with: the as-of view it came from, if any."""
    view: T | None = getattr(obj, _VIEW, None)
    return info if view is None else view


async def read_with(obj: object, info: T) -> T:
    """``view_of``, with an as-of view's temporary tables written first if they are not yet
    (a scorecard answered from memory writes them only if a nested field needs SQL)."""
    view: Any = view_of(obj, info)
    materialise = getattr(view, "materialise", None)
    if materialise is not None:
        view = await materialise()
    return cast(T, view)
