"""constraints.txt pins what `make` installs: every package pyproject.toml asks for, inside its range.

A dependency added to pyproject.toml without a pin would install its newest release on a fresh
machine, and a pin outside the range would make pip refuse to install at all.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in (*project["dependencies"], *extras)]


def test_every_package_pyproject_asks_for_is_pinned_inside_its_range():
    pins = _pins()
    for requirement in _required():
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not pinned in constraints.txt"
        inside = requirement.specifier.contains(pinned, prereleases=True)
        assert inside, f"{requirement.name}=={pinned} is outside {requirement}"
