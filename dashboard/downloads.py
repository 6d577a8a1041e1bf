"""Download buttons whose file is made, and audited, when it is downloaded.

Every file a person takes away (a CSV, the meeting pack, a printable assessment) goes
through :func:`audited_download`: Streamlit calls the button's data function when the
browser asks for the file, and that function writes the audit event before it hands the
bytes over. A click hook would miss downloads that do not rerun the page; this cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from services.access import Viewer
from store.audit import log_event
from store.db import Engine

__all__ = ["audited_download", "downloader"]


def downloader(
    engine: Engine,
    viewer: Viewer,
    make: Callable[[], bytes | str],
    *,
    entity: str,
    file_name: str,
    detail: dict[str, Any] | None = None,
    origin: str | None = None,
) -> Callable[[], bytes]:
    """Return a function that audits one download of ``file_name`` and returns its bytes.

    The audit event (action ``export``) names the file, its kind and size, and whatever
    ``detail`` adds; it is written before the bytes are returned, so a file is never
    handed over unaudited.
    """

    def download() -> bytes:
        data = make()
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        log_event(
            engine,
            actor=viewer.username,
            action="export",
            entity=entity,
            detail={**(detail or {}), "file": file_name, "bytes": len(payload)},
            origin=origin,
        )
        return payload

    return download


def audited_download(
    label: str,
    make: Callable[[], bytes | str],
    *,
    engine: Engine,
    viewer: Viewer,
    entity: str,
    file_name: str,
    mime: str,
    key: str,
    detail: dict[str, Any] | None = None,
    origin: str | None = None,
    container: Any = None,
    **button: Any,
) -> None:
    """Draw a download button whose file is made and audited when it is downloaded.

    Parameters
    ----------
    label
        The button's words (not from data).
    make
        Returns the file's contents; called when the browser asks for the file.
    engine, viewer
        The database for the audit log, and who downloads.
    entity
        What is exported, for the audit log ("places", "meeting pack", ...).
    file_name, mime, key
        As for ``st.download_button``.
    detail, origin
        More for the audit event, and where the browser is (``auth.origin()``).
    container
        Where to draw the button (a column); the page by default.
    **button
        Other ``st.download_button`` options (``icon``, ``type``...).
    """
    target = container if container is not None else st
    target.download_button(
        label,
        downloader(
            engine,
            viewer,
            make,
            entity=entity,
            file_name=file_name,
            detail=detail,
            origin=origin,
        ),
        file_name=file_name,
        mime=mime,
        key=key,
        on_click="ignore",
        **button,
    )
