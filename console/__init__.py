"""mlops-console: a terminal console for keeping machine-learning models healthy in production.

Layers, imports pointing one way (see docs/architecture.md):
``tui`` and ``cli`` use ``analytics`` and ``governance``, which use ``store``
and ``ingest``; ``workspace``, ``errors`` and ``identity`` are the ground all stand on.
Nothing imports ``tui``.
"""

__version__ = "0.1.0"

from console import allocators  # noqa: E402 - before anything loads polars

allocators.configure()
