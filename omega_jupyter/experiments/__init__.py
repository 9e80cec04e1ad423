"""Experiments: runs that log params, metrics, artifacts and system facts as typed events
(``experiment.Experiment``), written in batches (``recorder``), and tracked models whose
predictions log themselves (``tracking``). Importing the package imports none of them."""
