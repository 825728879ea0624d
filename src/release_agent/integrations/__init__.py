"""Integrations where releases happen: webhook notifications (``notify``, ``sender``),
Prometheus metrics (``metrics``) and structured logs (``logs``). The API mounts them
through one :class:`observer.Observer`.

Nothing is imported here: ``serve --help`` imports ``logs`` and must not load the
pipeline (numpy, scipy) that ``observer`` brings in.
"""
