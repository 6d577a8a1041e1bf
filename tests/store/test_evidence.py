"""Evidence from a visit (issue 23): content checks, metadata stripping, access, storage.

Storage runs on SQLite and PostgreSQL (the ``engine`` fixture), in the database and in
a folder named by ``SAFER_SPACES_EVIDENCE_DIR``.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import select

from services import assessments as svc
from services import evidence as ev
from services.access import AccessDenied, Viewer
from store.db import session_scope
from store.models import Attachment, AuditEvent
from tests.store.test_assessments import (
    CANNOCK,
    LEAD,
    OFFICER,
    STAFFORD,
    TODAY,
    VIEWER,
    complete_form,
    seed,
)

OTHER_DISTRICT = Viewer("officer3", "officer", (CANNOCK,), "Cannock Chase Council")
STAFFORD_VIEWER = Viewer("viewer2", "viewer", (STAFFORD,))
GPS_IFD, MAKE, MODEL, ORIENTATION = 0x8825, 0x010F, 0x0110, 0x0112
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description exif:GPSLatitude="52,48.0N"/></rdf:RDF></x:xmpmeta>'
)


def gps_jpeg(size: tuple[int, int] = (640, 480), orientation: int | None = None) -> bytes:
    """A JPEG as a phone writes it: camera make and model, GPS position, XMP."""
    image = Image.new("RGB", size, (30, 120, 60))
    image.paste((250, 250, 0), (0, 0, size[0] // 4, size[1] // 4))  # a corner to follow
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "Pocket 12 Pro"
    if orientation:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 48.0, 3.5), "W", (2.0, 7.0, 1.25)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, xmp=XMP, comment=b"taken at 12 Acacia Road")
    return out.getvalue()


def png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Officer")
    info.add_text("XML:com.adobe.xmp", XMP.decode())
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (1, 2, 3, 128)).save(out, format="PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def pdf_with_metadata() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Author": "Jane Officer", "/Title": "Visit to 12 Acacia Road"})
    script = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('hello');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(script)
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): script})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_gps_photo() -> bytes:
    """A PDF as a phone's scanning app writes it: the photo kept as its own JPEG stream."""
    from pypdf.generic import ArrayObject, NumberObject, StreamObject

    photo = gps_jpeg((120, 90))
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    picture = StreamObject()
    picture._data = photo
    picture.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(120),
            NameObject("/Height"): NumberObject(90),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Filter"): ArrayObject([NameObject("/DCTDecode")]),
        }
    )
    content = StreamObject()
    content._data = b"q 120 0 0 90 10 10 cm /Im0 Do Q"
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/XObject"): DictionaryObject(
                {NameObject("/Im0"): writer._add_object(picture)}
            )
        }
    )
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- cleaning (pure)


def test_jpeg_with_gps_comes_out_without_any_metadata():
    original = gps_jpeg()
    before = Image.open(io.BytesIO(original))
    # Control: the test file really carries what must go, so the checks below can fail.
    assert before.getexif().get_ifd(GPS_IFD)[2] == (52.0, 48.0, 3.5)
    assert before.getexif()[MAKE] == "PhoneMaker"
    assert "xmp" in before.info and b"PhoneMaker" in original and b"Acacia" in original

    cleaned = ev.clean_upload(original, limit=10_000_000)
    after = Image.open(io.BytesIO(cleaned.data))
    assert cleaned.mime == "image/jpeg" and after.format == "JPEG"
    assert dict(after.getexif()) == {}
    assert after.getexif().get_ifd(GPS_IFD) == {}
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(after.info)
    for trace in (b"PhoneMaker", b"Pocket", b"xmpmeta", b"GPS", b"Acacia", b"Exif"):
        assert trace not in cleaned.data
    assert after.size == (640, 480)


def test_photo_is_turned_upright_before_its_orientation_tag_goes():
    cleaned = ev.clean_upload(gps_jpeg(orientation=6), limit=10_000_000)
    after = Image.open(io.BytesIO(cleaned.data))
    assert after.size == (480, 640)  # orientation 6: turned 90 degrees
    # the yellow corner was top left; after turning clockwise it is top right
    r, g, b = after.convert("RGB").getpixel((after.width - 5, 5))
    assert r > 200 and g > 200 and b < 80


def test_png_keeps_transparency_and_loses_text_chunks_and_exif():
    original = png_with_text()
    assert b"Jane Officer" in original  # control
    cleaned = ev.clean_upload(original, limit=10_000_000)
    after = Image.open(io.BytesIO(cleaned.data))
    assert cleaned.mime == "image/png" and after.mode == "RGBA"
    assert b"Jane Officer" not in cleaned.data and b"xmpmeta" not in cleaned.data
    assert dict(after.getexif()) == {}
    assert cleaned.thumbnail and Image.open(io.BytesIO(cleaned.thumbnail)).format == "JPEG"


def test_pdf_loses_its_document_information_and_scripts_but_keeps_its_pages():
    original = pdf_with_metadata()
    assert b"Jane Officer" in original and b"/JavaScript" in original  # control
    cleaned = ev.clean_upload(original, limit=10_000_000)
    assert cleaned.kind == "document" and cleaned.mime == "application/pdf"
    assert b"Jane Officer" not in cleaned.data and b"Acacia" not in cleaned.data
    assert b"/JavaScript" not in cleaned.data and b"/OpenAction" not in cleaned.data
    assert len(PdfReader(io.BytesIO(cleaned.data)).pages) == 2


def test_a_photo_inside_a_pdf_loses_its_location_and_camera_but_keeps_its_pixels():
    original = pdf_with_gps_photo()
    for trace in (b"PhoneMaker", b"Exif\x00\x00", b"GPSLatitude", b"Acacia"):
        assert trace in original, trace  # control: the photo's metadata is in the PDF
    cleaned = ev.clean_upload(original, limit=10_000_000)
    for trace in (b"PhoneMaker", b"Pocket 12", b"Exif\x00\x00", b"GPSLatitude", b"Acacia"):
        assert trace not in cleaned.data, trace
    picture = PdfReader(io.BytesIO(cleaned.data)).pages[0].images[0]
    shown = Image.open(io.BytesIO(picture.data))
    assert shown.size == (120, 90)
    assert shown.getpixel((100, 80)) == Image.open(io.BytesIO(gps_jpeg((120, 90)))).getpixel(
        (100, 80)
    )


def test_a_pdf_whose_picture_cannot_be_read_is_refused():
    damaged = pdf_with_gps_photo().replace(b"\xff\xd8\xff", b"\xff\xd8\x00", 1)
    with pytest.raises(ev.EvidenceRefused, match="could not be read"):
        ev.clean_upload(damaged, limit=10_000_000)


def test_heic_photo_is_read_and_kept_as_jpeg_without_metadata():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    image = Image.new("RGB", (64, 48), (10, 200, 30))
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, format="HEIF", exif=exif.tobytes())
    assert ev.sniff(out.getvalue()) == "heic"
    cleaned = ev.clean_upload(out.getvalue(), limit=10_000_000)
    assert cleaned.mime == "image/jpeg" and b"PhoneMaker" not in cleaned.data
    assert Image.open(io.BytesIO(cleaned.data)).size == (64, 48)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(b"<html><script>alert(1)</script></html>", "not a photo", id="html-as-jpg"),
        pytest.param(b"MZ\x90\x00" + b"\x00" * 100, "not a photo", id="executable"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 50, "could not be read", id="broken-jpeg"),
        pytest.param(b"%PDF-1.7\n garbage", "could not be read", id="broken-pdf"),
        pytest.param(b"", "empty", id="empty"),
    ],
)
def test_content_not_name_decides_and_bad_files_are_refused(data, words):
    with pytest.raises(ev.EvidenceRefused, match=words):
        ev.clean_upload(data, limit=10_000_000)


def test_size_limit_is_a_setting_with_10_mb_by_default(monkeypatch):
    monkeypatch.delenv("SAFER_SPACES_EVIDENCE_MAX_MB", raising=False)
    assert ev.max_bytes() == 10 * 1024 * 1024
    monkeypatch.setenv("SAFER_SPACES_EVIDENCE_MAX_MB", "0.005")
    photo = gps_jpeg()
    assert len(photo) > ev.max_bytes()
    with pytest.raises(ev.EvidenceRefused, match=r"largest accepted is 0\.0 MB"):
        ev.clean_upload(photo)
    monkeypatch.setenv("SAFER_SPACES_EVIDENCE_MAX_MB", "ten")
    with pytest.raises(ValueError, match="evidence_max_mb"):
        ev.max_bytes()


# --------------------------------------------------------------------------- storage


@pytest.fixture
def draft(engine):
    places = seed(engine)
    return svc.create_draft(engine, OFFICER, places[STAFFORD], today=TODAY)


def _no_new_temp_files(before: set[str]) -> list[str]:
    return sorted(set(os.listdir(tempfile.gettempdir())) - before)


@pytest.mark.parametrize("where", ["database", "folder"])
def test_add_list_fetch_remove_in_database_or_folder(engine, draft, where, tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    if where == "folder":
        monkeypatch.setenv("SAFER_SPACES_EVIDENCE_DIR", str(folder))
    else:
        monkeypatch.delenv("SAFER_SPACES_EVIDENCE_DIR", raising=False)
    temp_before = set(os.listdir(tempfile.gettempdir()))
    photo = ev.add_evidence(engine, OFFICER, draft, gps_jpeg(), caption="Broken lamp by the gate")
    document = ev.add_evidence(engine, OFFICER, draft, pdf_with_metadata())
    assert _no_new_temp_files(temp_before) == []  # the upload never touched the disk

    items = ev.list_evidence(engine, OFFICER, draft)
    assert [(i.kind, i.number, i.caption) for i in items] == [
        ("photo", 1, "Broken lamp by the gate"),
        ("document", 1, ""),
    ]
    assert items[0].file_name == f"assessment-{draft}-photo-1.jpg"
    assert items[0].thumbnail is not None and items[1].thumbnail is None
    content = ev.evidence_content(engine, OFFICER, photo)
    assert b"PhoneMaker" not in content and Image.open(io.BytesIO(content)).format == "JPEG"
    with session_scope(engine) as session:
        rows = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        stored = [(r.content is None, r.stored_name) for r in rows]
    if where == "folder":
        assert all(empty for empty, _ in stored)
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(name for _, name in stored)
        assert (folder / stored[0][1]).read_bytes() == content
    else:
        assert stored == [(False, None), (False, None)]

    ev.remove_evidence(engine, OFFICER, document)
    assert [i.id for i in ev.list_evidence(engine, OFFICER, draft)] == [photo]
    if where == "folder":
        assert len(list(folder.iterdir())) == 1
    with session_scope(engine) as session:
        actions = session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.entity == "assessment", AuditEvent.entity_id == str(draft))
            .where(AuditEvent.action.like("%evidence"))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("officer", "add evidence"),
        ("officer", "add evidence"),
        ("officer", "remove evidence"),
    ]


def test_same_access_rules_as_the_assessment(engine, draft):
    photo = ev.add_evidence(engine, OFFICER, draft, gps_jpeg())
    # Control: those who may see the assessment get the evidence.
    for allowed in (OFFICER, LEAD, VIEWER, STAFFORD_VIEWER):
        assert ev.evidence_content(engine, allowed, photo)
        assert len(ev.list_evidence(engine, allowed, draft)) == 1
    # An officer (or viewer) of another district gets neither the list nor the file.
    outsider_viewer = Viewer("viewer3", "viewer", (CANNOCK,))
    for outsider in (OTHER_DISTRICT, outsider_viewer):
        with pytest.raises(AccessDenied):
            ev.evidence_content(engine, outsider, photo)
        with pytest.raises(AccessDenied):
            ev.list_evidence(engine, outsider, draft)
        with pytest.raises(AccessDenied):
            ev.remove_evidence(engine, outsider, photo)
    # Viewers read but never add or remove; nobody adds to another district's assessment.
    with pytest.raises(AccessDenied, match="may not add or remove evidence"):
        ev.add_evidence(engine, VIEWER, draft, gps_jpeg())
    with pytest.raises(AccessDenied):
        ev.add_evidence(engine, OTHER_DISTRICT, draft, gps_jpeg())
    with pytest.raises(AccessDenied):
        ev.remove_evidence(engine, VIEWER, photo)
    assert len(ev.list_evidence(engine, OFFICER, draft)) == 1


def test_submitted_assessment_takes_no_more_evidence(engine, draft):
    record = svc.load_assessment(engine, OFFICER, draft)
    svc.submit(
        engine, OFFICER, draft, expected_version=record.version, form=complete_form(), today=TODAY
    )
    with pytest.raises(svc.IllegalTransition, match="only while it is a draft or returned"):
        ev.add_evidence(engine, OFFICER, draft, gps_jpeg())


def test_refused_upload_or_caption_stores_nothing(engine, draft, tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    monkeypatch.setenv("SAFER_SPACES_EVIDENCE_DIR", str(folder))
    with pytest.raises(ev.EvidenceRefused, match="personal details"):
        ev.add_evidence(engine, OFFICER, draft, gps_jpeg(), caption="Call Amy on 07700 900123")
    with pytest.raises(ev.EvidenceRefused, match="not a photo"):
        ev.add_evidence(engine, OFFICER, draft, b"GIF89a....")
    assert ev.list_evidence(engine, OFFICER, draft) == []
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_failed_database_write_leaves_no_file_behind(engine, draft, tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    monkeypatch.setenv("SAFER_SPACES_EVIDENCE_DIR", str(folder))

    def refuse(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ev.audit, "record", refuse)
    with pytest.raises(RuntimeError):
        ev.add_evidence(engine, OFFICER, draft, gps_jpeg())
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    assert ev.list_evidence(engine, OFFICER, draft) == []


def test_missing_file_in_the_folder_says_what_to_restore(engine, draft, tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    monkeypatch.setenv("SAFER_SPACES_EVIDENCE_DIR", str(folder))
    photo = ev.add_evidence(engine, OFFICER, draft, gps_jpeg())
    for path in Path(folder).iterdir():
        path.unlink()
    with pytest.raises(LookupError, match="Restore the folder from the backup"):
        ev.evidence_content(engine, OFFICER, photo)
