"""Generated blocks inside hand-written documents: the text between two marker comments.

The README's settings table, bench/README.md's recorded run and its store-write table are
each written by the command that measures or defines them; everything outside the markers
stays as written.
"""

from __future__ import annotations


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """`text` with what lies between the markers `start` and `end` replaced by `body`, on
    lines of its own. A missing marker is a `ValueError` naming it, never a block appended
    somewhere."""
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found_start or not found_end:
        raise ValueError(f"no {start} ... {end} markers")
    return f"{head}{start}\n{body}\n{end}{tail}"
