"""The README (also the package's description on the package index) and docs/ hold together:
every relative link names a file that exists and, with ``#anchor``, a heading it has; and the
README tells a newcomer the two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives ``path``'s headings: lowercased, punctuation dropped, spaces
    to hyphens, a repeated heading numbered ``-1``, ``-2``, ..."""
    slugs: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", path.read_text("utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        counts[slug] = counts.get(slug, 0) + 1
        slugs.add(slug if counts[slug] == 1 else f"{slug}-{counts[slug] - 1}")
    return slugs


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", document.read_text("utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        destination = (document.parent / file).resolve() if file else document
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.name}")
    return broken


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = {d.relative_to(ROOT).as_posix(): broken_links(d) for d in DOCUMENTS}
    assert {name: links for name, links in broken.items() if links} == {}


def test_a_broken_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n## Two words\n", "utf-8")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md#two-words) [ok](a.md#two-words-1) [no](a.md#gone) [no](c.md)\n", "utf-8"
    )
    assert broken_links(page) == ["a.md#gone: no heading #gone in a.md", "c.md: no such file"]


def test_the_readme_tells_a_newcomer_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert "make templates" in section
    assert "make test" in section
