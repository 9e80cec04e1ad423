"""Tools for developing omega_jupyter (not used at run time)."""
