"""CSV for spreadsheets: every export (the public list, the figures, the staff export) writes
its cells through spreadsheet_safe, so a typed "=HYPERLINK(…)" is shown, never run."""

from __future__ import annotations

import csv
import io
import math
from numbers import Number


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet will show, never run: text with a leading = + - @ tab or CR
    is defused with a quote; a finite number is written as the number it is (a longitude
    is -73.1951, not the text '-73.1951)."""
    if isinstance(value, Number) and _finite(value):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _finite(number: Number) -> bool:
    """Not NaN or an infinity ("-inf" reads as a formula to a spreadsheet)."""
    try:
        return math.isfinite(number)
    except (TypeError, ValueError):  # a complex number
        return False


def csv_line(values) -> str:
    """One CSV row, its text cells defused, ending in a line break."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([spreadsheet_safe(v) for v in values])
    return buffer.getvalue()
