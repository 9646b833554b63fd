"""One way to rewrite a generated block in a hand-written document."""

from __future__ import annotations

import pytest

from jaylym.docblock import replace_block

START, END = "<!-- x:start -->", "<!-- x:end -->"


def test_only_the_text_between_the_markers_changes() -> None:
    text = f"intro\n{START}\nold\nlines\n{END}\noutro {START[:4]}\n"
    assert replace_block(text, START, END, "new") == f"intro\n{START}\nnew\n{END}\noutro <!--\n"


@pytest.mark.parametrize("text", ["no markers\n", f"{START}\nno end\n", f"no start\n{END}\n"])
def test_a_missing_marker_is_an_error_not_an_appended_block(text: str) -> None:
    with pytest.raises(ValueError, match="x:start"):
        replace_block(text, START, END, "new")
