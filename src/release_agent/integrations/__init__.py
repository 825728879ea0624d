"""Integrations where releases happen: webhook notifications (``notify``, ``sender``),
Prometheus metrics (``metrics``) and structured logs (``logs``). The API mounts them
through one :class:`observer.Observer`. CI gates: the GitHub Action's step (``action``),
the server or local agent it asks (``gate_backends``) and what it tells the runner
(``workflow_io``).

Nothing is imported here: ``serve --help`` imports ``logs`` and must not load the
pipeline (numpy, scipy) that ``observer`` brings in.
"""
