"""Months as the model counts them: ``YYYY-MM`` dates and ``+N`` offsets from a start."""

from __future__ import annotations

import re
from datetime import date

from sim.config.schema import ConfigError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, where: str) -> date:
    m = _MONTH.match(str(text))
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:  # (there is no year 0)
        raise ConfigError(f"{where}: {text!r} is not a month; allowed form YYYY-MM (e.g. 2023-10)")
    return date(int(m.group(1)), int(m.group(2)), 1)


def add_months(start: date, n: int) -> date:
    y, m = divmod(start.month - 1 + n, 12)
    return date(start.year + y, m + 1, 1)


def month_index(text: str, start: date, where: str) -> int:
    """Steps after ``start`` (0 = the first simulated month)."""
    text = str(text)
    if text.startswith("+"):
        if not text[1:].isdigit():
            raise ConfigError(f"{where}: {text!r} is not a month offset; allowed form +N (N whole months)")
        return int(text[1:])
    d = parse_month(text, where)
    idx = (d.year - start.year) * 12 + d.month - start.month
    if idx < 0:
        raise ConfigError(f"{where}: {text} is before the scenario starts ({start:%Y-%m})")
    return idx
