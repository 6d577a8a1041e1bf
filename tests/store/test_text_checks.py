"""The one checker for personal details in free text: corpus figures, kinds, the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from services.text_checks import find_personal, highlight_html, personal_kinds, personal_problems

CORPUS = Path(__file__).with_name("text_corpus.tsv")


def _corpus() -> list[tuple[str, str]]:
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def test_the_corpus_is_big_enough_and_labelled():
    labels = [label for label, _ in _corpus()]
    assert set(labels) == {"personal", "ordinary"}
    assert labels.count("personal") >= 100 and labels.count("ordinary") >= 100


def test_precision_and_recall_on_the_labelled_corpus(capsys):
    rows = _corpus()
    flagged = [(label, bool(find_personal(text)), text) for label, text in rows]
    personal = [f for f in flagged if f[0] == "personal"]
    ordinary = [f for f in flagged if f[0] == "ordinary"]
    caught = sum(hit for _, hit, _ in personal)
    false_alarms = sum(hit for _, hit, _ in ordinary)
    recall = caught / len(personal)
    precision = caught / max(caught + false_alarms, 1)
    flagged_ordinary = false_alarms / len(ordinary)
    with capsys.disabled():
        print(
            f"\ncorpus: {len(personal)} personal, {len(ordinary)} ordinary | caught {caught} "
            f"(recall {recall:.1%}) | ordinary flagged {false_alarms} ({flagged_ordinary:.1%}) "
            f"| precision {precision:.1%}"
        )
    missed = [text for label, hit, text in personal if not hit]
    wrong = [text for label, hit, text in ordinary if hit]
    assert recall >= 0.95, missed
    assert flagged_ordinary <= 0.10, wrong


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Speak to Jordan Smith (15, DOB 03/04/2011)", "name with an age"),
        ("Jordan Smith (15, DOB 03/04/2011)", "date of birth"),
        ("Chloe, 15, comes in after 10pm", "name with an age"),
        ("Leo aged 13 was there", "name with an age"),
        ("15-year-old Kai was approached", "name with an age"),
        ("Amy in Year 10 is often there", "name with a school year"),
        ("Evie attends Walton High School", "name with a school"),
        ("born 3rd April 2011", "date of birth"),
        ("d.o.b. 2009-07-21", "date of birth"),
        ("call 07700 900123", "phone number"),
        ("ring (01782) 555 0199", "phone number"),
        ("+44 7700 900456", "phone number"),
        ("e-mail kayla.j@gmail.com", "e-mail address"),
        ("record 943 476 5919", "NHS number"),
        ("she lives at 12 Oak Road", "home address"),
        ("his home postcode is ST17 4AB", "home postcode"),
        ("follow @kayz_99", "social media handle"),
        ("Snapchat: kayz99", "social media handle"),
    ],
)
def test_each_kind_is_found(text, kind):
    assert kind in personal_kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "Groups of 13 to 15 year olds gather outside Jordan's Takeaway",
        "Visited on 12/03/2024; review due 12/06/2024",
        "Planning ref 21/01234/FUL; incident ref 2021-000123; crime ref 20/123456/21",
        "Young people aged 13 to 15 use the skatepark",
        "Year 10 pupils cut through the alley",
        "The park off ST16 2LJ has poor lighting",
        "Bus route 15 stops by the precinct; Platform 3 is unstaffed",
        "Groups use Snapchat to arrange meetings at the park",
    ],
)
def test_ordinary_place_text_passes(text):
    assert find_personal(text) == []


def test_nhs_numbers_need_their_check_digit():
    assert personal_kinds("record 943 476 5919") == ["NHS number"]
    assert personal_kinds("record 943 476 5918") == [], "a wrong check digit is not an NHS number"


def test_the_spans_are_highlighted_and_the_rest_is_escaped():
    marked = highlight_html("<script>x</script> Amy (14) said")
    assert "&lt;script&gt;" in marked and "<script>" not in marked
    assert '<mark title="name with an age">Amy (14</mark>' in marked


def test_personal_problems_name_each_field():
    problems = personal_problems({"goals": "Make it safe", "a": "Speak to Jordan Smith (15)"})
    assert list(problems) == ["a"] and "Jordan Smith (15" in problems["a"]


def test_check_text_prints_one_line_per_input_line(tmp_path, capsys):
    path = tmp_path / "texts.txt"
    path.write_text(
        "Bins full by the gate\n"
        "Speak to Jordan Smith (15, DOB 03/04/2011) phone 07700 900123\n"
        "\n"
        "Jordan's Takeaway closes at 11pm\n",
        encoding="utf-8",
    )
    assert main(["check-text", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "ok",
        "personal\tname with an age, date of birth, phone number",
        "ok",
        "ok",
    ]
    clean = tmp_path / "clean.txt"
    clean.write_text("Bins full\n", encoding="utf-8")
    assert main(["check-text", str(clean)]) == 0
    assert main(["check-text", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
