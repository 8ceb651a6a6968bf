"""The README and the documentation site: what drifts when files move or pages are added.

``mkdocs build --strict`` (in CI) checks the links of the site's pages once it
is built; these checks run with the plugin's tests, need no MkDocs, and cover
the README too, which the site does not build.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CI = ROOT / ".ci" / "run"

#: The README is the first screen; the rest lives in docs/.
README_MAX_LINES = 250

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_links(text: str) -> list[str]:
    """The targets of the inline links and images of a Markdown text, outside code."""
    text = _FENCE.sub("", text)
    text = _CODE_SPAN.sub("", text)
    return _LINK.findall(text)


def relative_targets(text: str) -> list[str]:
    """The links that name a file of the repository: not URLs, not anchors of the same page."""
    return [t for t in markdown_links(text) if not _SCHEME.match(t) and not t.startswith("#")]


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file (the part before ``#``) does not exist."""
    broken = []
    for target in relative_targets(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    return broken


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def load_mkdocs_config() -> dict[str, Any]:
    """mkdocs.yml as plain data; a tag such as ``!!python/name:`` or ``!relative`` reads as None."""
    yaml = pytest.importorskip("yaml", reason="PyYAML reads mkdocs.yml: pip install -e '.[test]'")

    class Loader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        pass

    # Tags SafeLoader has no constructor for are MkDocs's and its plugins'
    # (Python objects, paths relative to the file); the nav needs none of them.
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as f:
        config = yaml.load(f, Loader=Loader)  # a SafeLoader: builds plain data only
    assert isinstance(config, dict)
    return config


def nav_pages(nav: Any) -> list[str]:
    """Every page a MkDocs nav names: entries are a page, ``{title: page}`` or ``{title: [entries]}``."""
    if isinstance(nav, str):
        return [] if _SCHEME.match(nav) else [nav]
    if isinstance(nav, list):
        return [page for entry in nav for page in nav_pages(entry)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def fenced_blocks(section: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown text, in order."""
    return [m.group(1).strip() for m in re.finditer(r"^```[^\n]*\n(.*?)^```", section, re.MULTILINE | re.DOTALL)]


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_links_outside_code_are_found() -> None:
    text = (
        "See [the gate](gate.md#rules) and ![a chart](img/chart.png \"title\").\n"
        "A [site](https://example.org), an [anchor](#here), `[not](in-code.md)`.\n"
        "```\n[not](in-a-block.md)\n```\n"
    )
    assert relative_targets(text) == ["gate.md#rules", "img/chart.png"]


def test_readme_is_a_first_screen() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move the detail to a page of docs/"


@pytest.mark.parametrize("page", [README, *doc_pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_links_to_the_documentation() -> None:
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in relative_targets(README.read_text(encoding="utf-8"))}
    assert {p.resolve() for p in doc_pages() if p.name != "index.md"} <= linked


def test_every_page_of_docs_is_in_the_nav_and_every_nav_page_exists() -> None:
    config = load_mkdocs_config()
    assert config.get("docs_dir", "docs") == "docs"
    in_nav = nav_pages(config["nav"])
    on_disk = [str(p.relative_to(DOCS)) for p in doc_pages()]
    assert sorted(set(on_disk) - set(in_nav)) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(set(in_nav) - set(on_disk)) == [], "nav entries with no page in docs/"
    assert len(in_nav) == len(set(in_nav)), "a page listed twice in the nav"


def test_ci_runs_the_readmes_commands_as_written() -> None:
    commands = fenced_blocks(readme_section("Developing"))
    tests = [c for c in commands if ".venv/bin/pytest" in c and "examples" not in c]
    docs = [c for c in commands if "mkdocs build --strict" in c]
    assert len(tests) == 1 and len(docs) == 1, commands
    ci_lines = CI.read_text(encoding="utf-8").splitlines()
    for command in tests + docs:
        assert any(line.startswith(command) for line in ci_lines), f".ci/run does not run: {command}"
