"""Service packages: a service is a folder checked and deployed as a unit, versioned together (docs/services.md).

A folder holds the manifest, BPMN, forms, reports and documents."""
from __future__ import annotations

from . import manifest, settings
from .check import Checked, check
from .deploy import bundled, content_hash, deploy, list_versions, package_history, publish
from .drafts import files_of, save_draft
from .export import export
from .load import from_files, from_folder, from_zip
from .parts import PARTS, Package, PackagePart, PackageProblem, register_part

__all__ = ["PARTS", "Checked", "Package", "PackagePart", "PackageProblem", "bundled", "check", "content_hash",
           "deploy", "export", "files_of", "from_files", "from_folder", "from_zip", "list_versions", "manifest",
           "package_history", "publish", "register_part", "save_draft", "settings"]
