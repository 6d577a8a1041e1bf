"""Settings are data: every one registered once, documented in the README, read through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "geo", "store", "data", "dashboard")


def undocumented(readme: str) -> list[str]:
    """Return the settings the README's configuration tables leave out."""
    section = readme.split("## Configuration", 1)[-1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    missing = []
    for setting in settings.SETTINGS:
        row = next((r for r in rows if f"`{setting.env}`" in r.split("|")[2]), None)
        if row is None:
            missing.append(setting.env)
        elif setting.secret and f"`{setting.secret}`" not in row.split("|")[3]:
            missing.append(f"{setting.env} (secrets key {setting.secret})")
    for db in settings.DATABASE_SETTINGS:
        if not any(r.startswith(f"| `{db.name}` | `{db.key}` |") for r in rows):
            missing.append(f"database setting {db.name}")
    return missing


def unregistered(root: Path) -> list[str]:
    """Return each ``SAFER_SPACES_`` variable named in the packages but not registered."""
    known = {s.env for s in settings.SETTINGS}
    found = []
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            for name in re.findall(r"SAFER_SPACES_[A-Z0-9_]*[A-Z0-9]", path.read_text()):
                if name not in known:
                    found.append(f"{path.relative_to(root)}: {name}")
    return found


def direct_reads(root: Path) -> list[str]:
    """Return each read of the environment outside the registry."""
    found = []
    # a read: .get, getenv or a subscript not assigned to (doctests set variables)
    pattern = re.compile(r"os\.environ\.get\(|os\.getenv\(|(?<!del )os\.environ\[[^\]]*\](?!\s*=)")
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            if path == root / "config" / "settings.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_the_readme_lists_every_setting():
    assert undocumented((ROOT / "README.md").read_text(encoding="utf-8")) == []


def test_control_a_setting_left_out_of_the_readme_is_caught():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    without = "\n".join(
        line for line in readme.splitlines() if "`SAFER_SPACES_IDLE_MINUTES`" not in line
    )
    without = without.replace("| `link_radius` | `import` |", "| link radius | import |")
    assert undocumented(without) == ["SAFER_SPACES_IDLE_MINUTES", "database setting link_radius"]


def test_every_variable_the_code_names_is_registered():
    assert unregistered(ROOT) == []


def test_settings_are_read_only_through_the_registry():
    assert direct_reads(ROOT) == []


def test_control_an_unregistered_variable_and_a_direct_read_are_caught(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "leak.py").write_text(
        'import os\nX = os.environ.get("SAFER_SPACES_SECRET_SAUCE")\n'
    )
    assert unregistered(tmp_path) == ["store/leak.py: SAFER_SPACES_SECRET_SAUCE"]
    assert len(direct_reads(tmp_path)) == 1


def test_names_and_variables_are_unique_and_helped():
    names = [s.name for s in settings.SETTINGS]
    envs = [s.env for s in settings.SETTINGS]
    assert len(set(names)) == len(names) and len(set(envs)) == len(envs)
    kinds = ("text", "int", "float", "switch")
    assert all(s.help.strip() and s.kind in kinds for s in settings.SETTINGS)


def test_an_unknown_setting_names_the_known_ones():
    with pytest.raises(KeyError, match="idle_minutes"):
        settings.value("idel_minutes")


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [("SAFER_SPACES_MAX_FAILED_SIGN_INS", "7", 7), ("SAFER_SPACES_MAX_FAILED_SIGN_INS", "x", 5),
     ("SAFER_SPACES_LOCK_MINUTES", "0", 15.0), ("SAFER_SPACES_DEMO_ACCOUNTS", "No", False)],
)
def test_values_are_typed_with_defaults_for_bad_input(monkeypatch, env, text, expected):
    monkeypatch.setenv(env, text)
    assert settings.value(env) == expected
