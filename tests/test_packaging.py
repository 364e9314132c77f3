"""The built wheel carries everything supportdesk needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_migrations_themes_and_example_config(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("supportdesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_themes = {n for n in names if n.startswith("supportdesk/_data/themes/")}
    assert {
        f"supportdesk/_data/themes/{p.name}" for p in (ROOT / "themes").glob("*.toml")
    } == shipped_themes
    assert len(shipped_themes) >= 4
    assert "supportdesk/_data/config.example.toml" in names
    assert "supportdesk/store/migrations/script.py.mako" in names
    assert "supportdesk/store/migrations/env.py" in names
    assert any(n.startswith("supportdesk/store/migrations/versions/0001_") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    assert "supportdesk/locale/ja/LC_MESSAGES/supportdesk.mo" in names

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    check = (
        f"import sys; sys.path.insert(0, {str(unpacked)!r});"
        "from supportdesk.resources import data_path;"
        "from supportdesk.store import migrate;"
        "import supportdesk.config as c;"
        "print(data_path('themes'), data_path('config.example.toml'), migrate.head_revision());"
        "c.parse_settings(data_path('config.example.toml').read_text(), "
        "data_path('config.example.toml'))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    themes, example, head = result.stdout.split()
    assert themes.startswith(str(unpacked)) and example.startswith(str(unpacked))
    from supportdesk.store import migrate

    assert head == migrate.head_revision()  # the wheel ships every revision
