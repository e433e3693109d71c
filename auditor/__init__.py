"""auditor: declarative compliance rules over a dispensary's METRC, POS and physical inventory."""

__version__ = "0.1.0"
