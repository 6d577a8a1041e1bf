"""The lowest layer: the deployment's settings and the constants every package may read.

Nothing here imports another package of the project, so ``geo``, ``store``, ``data`` and
``dashboard`` can all read it without an import cycle.
"""
