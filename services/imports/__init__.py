"""Importing incidents, referrals and places: read, validate, locate, anonymise, store.

The same engine serves the Data page and ``safer-spaces import``. See
``batch.import_file`` for the whole flow and ``pipeline`` for what is kept.
"""

from services.imports.batch import import_file, inspect_file, pseudonym_key, rollback_batch
from services.imports.columns import ColumnMapping, load_mapping_file
from services.imports.report import ImportFileError, ImportReport

__all__ = [
    "ColumnMapping",
    "ImportFileError",
    "ImportReport",
    "import_file",
    "inspect_file",
    "load_mapping_file",
    "pseudonym_key",
    "rollback_batch",
]
