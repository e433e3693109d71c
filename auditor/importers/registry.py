"""Every import format by name."""

from __future__ import annotations

from auditor.domain.errors import InvalidInput
from auditor.importers import canonical, metrc, store_csv
from auditor.importers.base import Format

FORMATS: dict[str, Format] = {
    fmt.name: fmt for fmt in [*metrc.FORMATS, *store_csv.FORMATS, *canonical.FORMATS]
}


def get_format(name: str) -> Format:
    """Return the format called name, or say which formats exist."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown format {name!r}; use one of: {', '.join(sorted(FORMATS))}"
        ) from None
