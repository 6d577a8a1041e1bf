"""Evidence from a visit: photos and PDFs attached to an assessment (issue 23).

An upload is checked by what it holds, not by its name: its first bytes must be a JPEG,
PNG, HEIC/HEIF (where ``pillow-heif`` is installed) or PDF, and it must be no larger than
the ``evidence_max_mb`` setting (10 MB by default). Photos are decoded and drawn again
into a new image (turned upright first), so nothing of the original file travels on:
no EXIF (GPS position, camera, time), no XMP, no ICC profile, no comments. A PDF is
copied page by page into a new file, without its document information, XMP metadata,
document scripts or page actions, and the JPEG pictures inside it lose their EXIF (GPS,
camera), XMP and comment segments (their pixels are copied as they are). The original
file name is not kept; an optional caption is, and it is checked for personal details
like the assessment's text.

Everything happens in memory: an upload is never written to a temporary file. The
cleaned file is kept in the database, or, when the ``evidence_dir`` setting names a
folder, in that folder (written to a private temporary name there, then renamed; removed
again if the database refuses the row). Reading, adding and removing go through the
assessment's own access rules (``services.assessments``): whoever may open the assessment
may see its evidence; whoever may change it may add and remove evidence while it is a
draft or returned. Each addition, removal and download is in the audit log.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.settings import raw
from services.access import Viewer
from services.assessments import EDITABLE, IllegalTransition, _get
from services.text_checks import personal_data_warnings
from store import audit
from store.db import session_scope
from store.models import Attachment

__all__ = [
    "FACES_REMINDER",
    "MAX_PIXELS",
    "PHOTO_EDGE",
    "THUMB_EDGE",
    "Cleaned",
    "EvidenceItem",
    "EvidenceRefused",
    "add_evidence",
    "clean_upload",
    "evidence_content",
    "evidence_folder",
    "heic_supported",
    "list_evidence",
    "max_bytes",
    "remove_evidence",
    "sniff",
    "strip_jpeg_metadata",
]

FACES_REMINDER = (
    "Faces and number plates are your responsibility: photograph the place, not people. "
    "Do not upload a picture in which a child or any other person can be recognised."
)
#: Largest photo accepted, in pixels (a 48-megapixel phone photo fits).
MAX_PIXELS = 60_000_000
#: Photos are kept at most this many pixels on their longest side.
PHOTO_EDGE = 4096
#: Thumbnails in the form are at most this many pixels on their longest side.
THUMB_EDGE = 320
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


class EvidenceRefused(ValueError):  # noqa: N818 (reads better on screen)
    """An upload that cannot be kept; the message says why, for the officer."""


@dataclass(frozen=True)
class Cleaned:
    """A file ready to keep: its bytes (metadata stripped), kind, type and thumbnail."""

    data: bytes
    kind: str  # "photo" or "document"
    mime: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None

    @property
    def extension(self) -> str:
        """Return the file extension for its type (``jpg``, ``png`` or ``pdf``)."""
        return {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[self.mime]


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence as a page lists it (no content, a thumbnail for photos)."""

    id: int
    assessment_id: int
    number: int
    kind: str
    mime: str
    caption: str
    size: int
    width: int | None
    height: int | None
    thumbnail: bytes | None
    added_by: str
    added_at: object

    @property
    def file_name(self) -> str:
        """Return the name the download gets: the assessment, ``photo`` or ``document``, number."""
        extension = {"image/jpeg": "jpg", "image/png": "png"}.get(self.mime, "pdf")
        return f"assessment-{self.assessment_id}-{self.kind}-{self.number}.{extension}"


# --------------------------------------------------------------------------- settings


def max_bytes() -> int:
    """Return the largest upload accepted, in bytes (``evidence_max_mb``, 10 MB by default).

    Raises
    ------
    ValueError
        When the setting is not a positive number.
    """
    text = raw("evidence_max_mb")
    if text is None:
        return 10 * 1024 * 1024
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if megabytes <= 0:
        raise ValueError(
            f"The setting evidence_max_mb (SAFER_SPACES_EVIDENCE_MAX_MB) is {text!r}; "
            "it must be a number of megabytes above 0, e.g. 10."
        )
    return int(megabytes * 1024 * 1024)


def evidence_folder() -> Path | None:
    """Return the folder that keeps evidence files (``evidence_dir``), or None for the database."""
    folder = raw("evidence_dir")
    return Path(folder) if folder else None


def heic_supported() -> bool:
    """Return True when HEIC/HEIF photos can be read (``pillow-heif`` is installed)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


# --------------------------------------------------------------------------- checking


def sniff(data: bytes) -> str | None:
    r"""Return the type a file's first bytes say it is (jpeg, png, heic, pdf), or None.

    Examples
    --------
    >>> sniff(b"\xff\xd8\xff\xe0rest"), sniff(b"%PDF-1.7"), sniff(b"<html>")
    ('jpeg', 'pdf', None)
    >>> sniff(b"\x00\x00\x00\x18ftypheic")
    'heic'
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


def _size_words(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def clean_upload(data: bytes, *, limit: int | None = None) -> Cleaned:
    """Check an upload by its content and size and return it with its metadata stripped.

    Parameters
    ----------
    data
        The uploaded bytes.
    limit
        The largest size accepted, in bytes; :func:`max_bytes` by default.

    Raises
    ------
    EvidenceRefused
        When the file is too large, empty, not a photo or PDF by its content, or
        cannot be read; the message says which and what to do.
    """
    limit = max_bytes() if limit is None else limit
    if not data:
        raise EvidenceRefused("The file is empty. Choose the photo or PDF again.")
    if len(data) > limit:
        raise EvidenceRefused(
            f"The file is {_size_words(len(data))}; the largest accepted is "
            f"{_size_words(limit)}. Make it smaller (a photo at a lower resolution, "
            "a PDF of fewer pages) and try again."
        )
    kind = sniff(data)
    if kind == "pdf":
        return _clean_pdf(data)
    if kind == "heic" and not heic_supported():
        raise EvidenceRefused(
            "This is a HEIC photo, which this installation cannot read (pillow-heif is not "
            "installed). Save it as JPEG on the phone or computer and upload that."
        )
    if kind is None:
        raise EvidenceRefused(
            "This file is not a photo (JPEG, PNG or HEIC) or a PDF, whatever its name says. "
            "Only photos and PDF documents can be attached."
        )
    return _clean_photo(data, kind)


def _clean_photo(data: bytes, kind: str) -> Cleaned:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise EvidenceRefused(
                    f"The photo is {width} x {height} pixels; the largest accepted is "
                    f"{MAX_PIXELS // 1_000_000} megapixels. Save it at a lower resolution."
                )
            upright = ImageOps.exif_transpose(opened)
            upright.load()
    except EvidenceRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise EvidenceRefused(
            "The photo could not be read: the file is damaged or not really a "
            f"{kind.upper()}. Export it again and upload that."
        ) from None
    keep_alpha = kind == "png" and upright.mode in ("RGBA", "LA", "PA", "P")
    mode = ("RGBA" if keep_alpha else "RGB") if upright.mode not in ("L",) else "L"
    pixels = upright.convert(mode)
    pixels.thumbnail((PHOTO_EDGE, PHOTO_EDGE))
    # A new image from the pixels alone: no EXIF, XMP, ICC profile or comment comes along.
    fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if kind == "png":
        fresh.save(out, format="PNG", optimize=True)
        mime = "image/png"
    else:
        fresh.save(out, format="JPEG", quality=88)
        mime = "image/jpeg"
    small = fresh.convert("RGB")
    small.thumbnail((THUMB_EDGE, THUMB_EDGE))
    thumb = io.BytesIO()
    Image.frombytes("RGB", small.size, small.tobytes()).save(thumb, format="JPEG", quality=80)
    return Cleaned(out.getvalue(), "photo", mime, fresh.width, fresh.height, thumb.getvalue())


def _clean_pdf(data: bytes) -> Cleaned:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError
    from pypdf.generic import NameObject

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise EvidenceRefused(
                "The PDF is protected by a password. Save a copy without the password "
                "and upload that."
            )
        writer = PdfWriter()
        for page in reader.pages:
            added = writer.add_page(page)
            for name in ("/AA", "/Metadata", "/PieceInfo"):
                if name in added:
                    del added[NameObject(name)]
            _clean_pictures(added.get("/Resources"), seen=set())
        if not writer.pages:
            raise EvidenceRefused("The PDF has no pages.")
        writer._info = None  # no document information (author, producer, dates)
        out = io.BytesIO()
        writer.write(out)
    except EvidenceRefused:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError):
        raise EvidenceRefused(
            "The PDF could not be read: the file is damaged. Export it again and upload that."
        ) from None
    return Cleaned(out.getvalue(), "document", "application/pdf")


#: JPEG segments kept: JFIF (APP0) and Adobe's colour transform (APP14). Every other
#: application segment (EXIF with GPS and camera, XMP, IPTC, ICC, maker notes) and every
#: comment goes.
_KEPT_JPEG_SEGMENTS = frozenset({0xE0, 0xEE})


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    r"""Return a JPEG without its metadata segments, its picture untouched; None if unreadable.

    The compressed picture is copied byte for byte, so nothing is lost to a second
    compression. Used for pictures inside PDFs, which are kept as JPEG streams.

    Examples
    --------
    >>> exif = b"\xff\xe1\x00\x12Exif\x00\x00GPS+camera"
    >>> jpeg = b"\xff\xd8\xff\xe0\x00\x04JF" + exif + b"\xff\xda\x00\x02pixels\xff\xd9"
    >>> strip_jpeg_metadata(jpeg)
    b'\xff\xd8\xff\xe0\x00\x04JF\xff\xda\x00\x02pixels\xff\xd9'
    >>> strip_jpeg_metadata(b"not a jpeg") is None
    True
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out, at = bytearray(b"\xff\xd8"), 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if marker == 0xDA:  # start of scan: the picture itself, copied as it is
            return bytes(out + data[at:])
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if length < 2 or at + 2 + length > len(data):
            return None
        is_metadata = 0xE0 <= marker <= 0xEF and marker not in _KEPT_JPEG_SEGMENTS
        if not (is_metadata or marker == 0xFE):
            out += data[at : at + 2 + length]
        at += 2 + length
    return None


def _clean_pictures(resources: Any, *, seen: set[int]) -> None:
    """Strip the metadata of every JPEG picture under a page's (or form's) resources.

    Raises
    ------
    EvidenceRefused
        When a picture cannot be read, or is JPEG 2000 (which can carry its location in
        ways this does not strip).
    """
    from pypdf.generic import NameObject

    resources = resources.get_object() if resources is not None else None
    pictures = resources.get("/XObject") if resources is not None else None
    if pictures is None:
        return
    for ref in pictures.get_object().values():
        picture = ref.get_object()
        if id(picture) in seen:
            continue
        seen.add(id(picture))
        picture.pop(NameObject("/Metadata"), None)
        if picture.get("/Subtype") == "/Form":
            _clean_pictures(picture.get("/Resources"), seen=seen)
            continue
        filters = picture.get("/Filter")
        names = [str(f) for f in (filters if isinstance(filters, list) else [filters])]
        if "/JPXDecode" in names:
            raise EvidenceRefused(
                "The PDF holds a JPEG 2000 picture, which can carry where it was taken. "
                "Save the PDF again with ordinary pictures (for example print it to PDF) "
                "and upload that."
            )
        if names == ["/DCTDecode"]:
            stripped = strip_jpeg_metadata(picture._data)
            if stripped is None:
                raise EvidenceRefused(
                    "A picture inside the PDF could not be read, so its location data "
                    "cannot be removed. Export the PDF again and upload that."
                )
            picture._data = stripped


def _check_caption(caption: str) -> str:
    caption = re.sub(r"\s+", " ", caption or "").strip()
    if len(caption) > 300:
        raise EvidenceRefused("The caption is longer than 300 characters. Shorten it.")
    warnings = personal_data_warnings(caption)
    if warnings:
        raise EvidenceRefused(
            "The caption may hold personal details, so nothing was attached: " + " ".join(warnings)
        )
    return caption


# --------------------------------------------------------------------------- storing


def _editable(session: Session, viewer: Viewer, assessment_id: int) -> object:
    viewer.require(viewer.may_edit_assessments, "add or remove evidence")
    assessment = _get(session, viewer, assessment_id)
    if assessment.status not in EDITABLE:
        raise IllegalTransition(
            f"The assessment of {assessment.place.name} is {assessment.status}: evidence can "
            "be added or removed only while it is a draft or returned."
        )
    return assessment


def _write_file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / name
    partial = folder / f".{name}.partial"
    with open(partial, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, target)
    return target


def add_evidence(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    data: bytes,
    *,
    caption: str = "",
    origin: str | None = None,
) -> int:
    """Check, clean and attach one file to an assessment; return the attachment's id.

    Raises
    ------
    EvidenceRefused
        When the file or its caption cannot be kept (nothing is stored).
    AccessDenied
        When the viewer may not change the assessment (role or district).
    IllegalTransition
        When the assessment is submitted or approved.
    LookupError
        When there is no such assessment.
    """
    with session_scope(engine) as session:  # refuse the person before reading the file
        _editable(session, viewer, assessment_id)
    caption = _check_caption(caption)
    cleaned = clean_upload(data)
    folder = evidence_folder()
    stored_name = f"{uuid4().hex}.{cleaned.extension}" if folder else None
    written = _write_file(folder, stored_name, cleaned.data) if folder and stored_name else None
    try:
        with session_scope(engine) as session:
            _editable(session, viewer, assessment_id)
            row = Attachment(
                assessment_id=assessment_id,
                kind=cleaned.kind,
                mime=cleaned.mime,
                caption=caption or None,
                size=len(cleaned.data),
                sha256=hashlib.sha256(cleaned.data).hexdigest(),
                width=cleaned.width,
                height=cleaned.height,
                content=None if written else cleaned.data,
                stored_name=stored_name,
                thumbnail=cleaned.thumbnail,
                created_by=viewer.username,
                updated_by=viewer.username,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor=viewer.username,
                action="add evidence",
                entity="assessment",
                entity_id=assessment_id,
                detail={
                    "attachment": row.id,
                    "kind": cleaned.kind,
                    "type": cleaned.mime,
                    "bytes": len(cleaned.data),
                    "uploaded bytes": len(data),
                },
                origin=origin,
            )
            return row.id
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise


def list_evidence(engine: Engine, viewer: Viewer, assessment_id: int) -> list[EvidenceItem]:
    """Return an assessment's evidence, oldest first (thumbnails, not the files).

    Raises
    ------
    AccessDenied
        When the assessment's place is outside the viewer's districts.
    LookupError
        When there is no such assessment.
    """
    with session_scope(engine) as session:
        _get(session, viewer, assessment_id)
        rows = session.execute(
            select(
                Attachment.id,
                Attachment.kind,
                Attachment.mime,
                Attachment.caption,
                Attachment.size,
                Attachment.width,
                Attachment.height,
                Attachment.thumbnail,
                Attachment.created_by,
                Attachment.created_at,
            )
            .where(Attachment.assessment_id == assessment_id)
            .order_by(Attachment.id)
        ).all()
    counts: dict[str, int] = {}
    items = []
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
        items.append(
            EvidenceItem(
                id=row.id,
                assessment_id=assessment_id,
                number=counts[row.kind],
                kind=row.kind,
                mime=row.mime,
                caption=row.caption or "",
                size=row.size,
                width=row.width,
                height=row.height,
                thumbnail=row.thumbnail,
                added_by=row.created_by,
                added_at=row.created_at,
            )
        )
    return items


def _attachment(session: Session, viewer: Viewer, attachment_id: int) -> Attachment:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise LookupError(f"There is no evidence number {attachment_id}.")
    _get(session, viewer, row.assessment_id)  # the assessment's access rules
    return row


def evidence_content(engine: Engine, viewer: Viewer, attachment_id: int) -> bytes:
    """Return the stored (cleaned) file of one piece of evidence.

    Raises
    ------
    AccessDenied
        When its assessment's place is outside the viewer's districts.
    LookupError
        When there is no such evidence, or its file is missing from the evidence folder.
    """
    with session_scope(engine) as session:
        row = _attachment(session, viewer, attachment_id)
        content, stored_name = row.content, row.stored_name
    if content is not None:
        return bytes(content)
    folder = evidence_folder()
    path = folder / stored_name if folder and stored_name else None
    if path is None or not path.is_file():
        raise LookupError(
            f"The file of evidence number {attachment_id} ({stored_name}) is not in the "
            f"evidence folder ({folder or 'no evidence_dir set'}). Restore the folder from "
            "the backup taken with the database."
        )
    return path.read_bytes()


def remove_evidence(
    engine: Engine, viewer: Viewer, attachment_id: int, *, origin: str | None = None
) -> None:
    """Remove one piece of evidence from a draft or returned assessment (audited).

    Raises
    ------
    AccessDenied, IllegalTransition, LookupError
        As for :func:`add_evidence`.
    """
    with session_scope(engine) as session:
        row = _attachment(session, viewer, attachment_id)
        _editable(session, viewer, row.assessment_id)
        stored_name, assessment_id = row.stored_name, row.assessment_id
        session.delete(row)
        audit.record(
            session,
            actor=viewer.username,
            action="remove evidence",
            entity="assessment",
            entity_id=assessment_id,
            detail={"attachment": attachment_id},
            origin=origin,
        )
    folder = evidence_folder()
    if folder and stored_name:
        (folder / stored_name).unlink(missing_ok=True)
