"""The contract between a service package and what plugs into it (reports, documents): see docs/services.md."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session


@dataclass
class Package:
    """A service folder read into memory: its key, the manifest (parsed service.yaml) and every file by path."""

    key: str
    folder_name: str
    manifest: dict
    files: dict[str, bytes] = field(default_factory=dict)  # relative path ("forms/joining.json") -> bytes

    def under(self, folder: str) -> dict[str, bytes]:
        """The files of one subfolder ("reports", "forms"), by path relative to the package."""
        prefix = folder.rstrip("/") + "/"
        return {path: data for path, data in self.files.items() if path.startswith(prefix)}


@dataclass
class PackageProblem:
    """One thing wrong with a package, where it is: a file of the package and, when known, the line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class PackagePart:
    """A kind of content a package may hold in a subfolder of its own (e.g. declared reports in ``reports/``).

    ``check`` reads the package and names every problem (no database); ``store`` runs inside the deploy
    transaction with the id of the package version row, after every process of the package is deployed."""

    folder: str
    check: Callable[[Package], list[PackageProblem]]
    store: Callable[[Session, Package, int], None]


PARTS: list[PackagePart] = []


def register_part(part: PackagePart) -> None:
    """Add a part; called from the one wiring place (engine/setup.py), never as an import side effect. A second
    part for the same folder replaces the first, so wiring twice (tests, a second runtime) is harmless."""
    PARTS[:] = [p for p in PARTS if p.folder != part.folder] + [part]
