"""Generate deterministic sample dispensaries with planted compliance violations."""

from .generator import generate_store
from .spec import StoreSpec

__all__ = ["StoreSpec", "generate_store"]
