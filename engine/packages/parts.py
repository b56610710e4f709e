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
    message: str  # in English, as the command line prints it
    # What the web app words in the reader's language (web/findings.py): a stable code, the names and values the
    # message quotes (the BPMN element among them); empty for a problem worded only in English so far. The
    # element a modeler selects is found from the line (engine/packages/drafts.py, locate).
    code: str = ""
    params: dict = field(default_factory=dict)
    severity: str = "error"  # or "warning": shown, but the package may deploy

    @classmethod
    def of(cls, detail: dict, file: str | None = None) -> PackageProblem:
        """A problem from a detail of the definition checks (file, line, message, and code and params)."""
        return cls(file or detail.get("file") or "", detail.get("line"), detail["message"], detail.get("code") or "",
                   detail.get("params") or {}, detail.get("severity") or "error")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"

    def to_dict(self) -> dict:
        found: dict = {"file": self.file, "line": self.line, "message": self.message}
        if self.code:
            found |= {"code": self.code, "params": self.params, "severity": self.severity}
        return found


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
