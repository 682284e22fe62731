"""The admin UI's files ship as package data, so a wheel install serves the same pages."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_ui_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "api"
    ]
    shipped = {path for pattern in patterns for path in (ROOT / "api").glob(pattern) if path.is_file()}
    files = {path for path in (ROOT / "api" / "ui" / "static").rglob("*") if path.is_file()}
    assert files and files <= shipped
    assert (ROOT / "api" / "ui" / "static" / "index.html") in shipped
