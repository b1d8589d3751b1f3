"""Sub-commands of the ``enricher`` CLI: one module per command group, each with ``register``."""
