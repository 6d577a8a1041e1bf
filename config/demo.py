"""Constants of the synthetic demo that more than one package needs.

The demo builder (``data.demo``) makes pseudonyms with this key, and the import path
(``services.imports.batch``) accepts the demo's own references under it; keeping the key here
lets both read it without ``store`` importing ``data``.
"""

from __future__ import annotations

__all__ = ["DEMO_KEY_FROM", "DEMO_PSEUDONYM_KEY"]

DEMO_PSEUDONYM_KEY: bytes = b"safer-spaces-DEMO-ONLY-public-key-never-use-for-real-data"
"""The demo's openly published pseudonym key: never for real data."""

DEMO_KEY_FROM = "the demo's published key (this database holds the demo)"
"""How an import report names the demo's key."""
