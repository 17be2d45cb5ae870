"""The one reader of ``_toc.yml``: the book's documents, in reading order.

Everything that needs the chapter list (the equation check, the browser test)
asks this module, so a new chapter is added in one place: ``_toc.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = (".ipynb", ".md")


@dataclass(frozen=True)
class Document:
    """One document of the table of contents."""

    docname: str  # as Sphinx names it, without suffix: "book/01_chain_rule"
    numbered: bool  # in a part with ``numbered: true`` (its equations read (chapter.n))
    root: bool = False  # the root document (the landing page)


def documents(root: Path = ROOT) -> list[Document]:
    """Every document listed in ``root/_toc.yml``: the root first, then the rest in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found = [Document(_docname(toc["root"]), False, root=True)]

    def walk(entries: list[dict] | None, numbered: bool) -> None:
        for entry in entries or []:
            if "file" in entry:
                found.append(Document(_docname(entry["file"]), numbered))
            walk(entry.get("sections"), numbered)
            walk(entry.get("chapters"), numbered)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), bool(part.get("numbered", False)))
    walk(toc.get("chapters"), bool(toc.get("numbered", False)))
    return found


def source_files(root: Path = ROOT) -> list[Path]:
    """The source file (``.ipynb`` or ``.md``) of every document of the toc, root first."""
    paths = []
    for doc in documents(root):
        for suffix in SOURCE_SUFFIXES:
            path = root / f"{doc.docname}{suffix}"
            if path.exists():
                paths.append(path)
                break
    return paths


def _docname(file: str) -> str:
    return str(Path(file).with_suffix("")) if Path(file).suffix in SOURCE_SUFFIXES else file
