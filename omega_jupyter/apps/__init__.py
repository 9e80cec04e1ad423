"""Apps: stored script packages (WSGI/ASGI) and notebooks (Voilà) served as runs of kind app."""
