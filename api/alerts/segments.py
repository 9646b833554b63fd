"""SMS segment arithmetic (3GPP TS 23.038): does a text fit one segment, and fitting it in.

Hand-written because no maintained Python library exposes just this count: a text that is all
GSM 7-bit default alphabet fits 160 septets (extension-table characters take two); anything
else goes as UCS-2, 70 UTF-16 code units (characters outside the BMP take two).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_LIMIT = 160
UCS2_LIMIT = 70


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int
    limit: int

    @property
    def fits(self) -> bool:
        return self.units <= self.limit


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def segment_info(text: str) -> SegmentInfo:
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return SegmentInfo("GSM-7", units, GSM7_LIMIT)
    units = len(text.encode("utf-16-le")) // 2
    return SegmentInfo("UCS-2", units, UCS2_LIMIT)


class DoesNotFit(ValueError):
    """Even with every name cut to its minimum the text is longer than one segment."""


def fit_one_segment(
    render: Callable[[Mapping[str, str]], str],
    names: Mapping[str, str],
    *,
    min_name: int = 1,
) -> str:
    """Render with the names shortened, longest first, until the text fits one segment.

    Only the names shrink: numbers live in the template and are never cut. A cut name ends in
    an ellipsis (a full stop when the text is otherwise GSM-7, since "…" would force UCS-2).
    """
    current = {key: value.strip() for key, value in names.items()}
    cut: dict[str, int] = {key: len(value) for key, value in current.items()}
    while True:
        shown = {key: _shorten(current[key], cut[key]) for key in current}
        text = render(shown)
        if segment_info(text).fits:
            return text
        shrinkable = [key for key in cut if cut[key] > min_name]
        if not shrinkable:
            info = segment_info(text)
            raise DoesNotFit(f"{info.units} {info.encoding} units > {info.limit}: {text!r}")
        longest = max(shrinkable, key=lambda key: cut[key])
        cut[longest] -= 1


def _shorten(value: str, keep: int) -> str:
    if keep >= len(value):
        return value
    head = value[:keep].rstrip()
    marker = "." if is_gsm7(head) else "…"
    return head + marker
