"""Every import format by name."""

from __future__ import annotations

from auditor.domain.errors import InvalidInput
from auditor.importers import canonical, metrc, store_csv
from auditor.importers.base import Format
from auditor.importers.profile import Profile
from auditor.importers.profiled import profiled_format

FORMATS: dict[str, Format] = {
    fmt.name: fmt for fmt in [*metrc.FORMATS, *store_csv.FORMATS, *canonical.FORMATS]
}


def get_format(name: str, profile: Profile | None = None) -> Format:
    """Return the format called name, read through a profile if given; say which exist."""
    try:
        fmt = FORMATS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown format {name!r}; use one of: {', '.join(sorted(FORMATS))}"
        ) from None
    return fmt if profile is None else profiled_format(fmt, profile)
