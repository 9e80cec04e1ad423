"""Parsing command-line values; the parsers live in :mod:`omega_jupyter.params` (the magics
use them too)."""

from omega_jupyter.params import column_specs, parse_filters, parse_pairs, parse_value

__all__ = ["column_specs", "parse_filters", "parse_pairs", "parse_value"]
