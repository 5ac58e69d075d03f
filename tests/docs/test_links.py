"""README.md and docs/*.md: every relative link points at a file that exists, every anchor at a heading.

Links are `[text](target)`, `![alt](target)`, reference definitions `[ref]: target` and `<a href="target">`,
outside fenced code blocks and inline code. Targets with a scheme (http, https, mailto, ws, wss) are not
followed; everything else resolves from the markdown file's folder, also outside the repository
(`../shared/CONTRACT.md`: CI puts shared/ beside the clone); a clone with no such folder beside it cannot
vouch for what is in it, so links into a sibling folder that is absent are not judged. An anchor (`#part` or `file.md#part`) must be the
GitHub slug of a heading in the target markdown file. README.md stays a page read in two minutes.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
README_MAX_LINES = 150
EXTERNAL_SCHEMES = ("http:", "https:", "mailto:", "ws:", "wss:")

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_HREF = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (links and code unwrapped) lowercased, punctuation other
    than hyphens and underscores dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    """Every heading slug of a markdown file (a repeated heading gets -1, -2, ... as on GitHub), plus
    explicit `<a name/id>` anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(markdown.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def link_targets(markdown: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link in the file's prose."""
    targets = []
    for number, line in prose_lines(markdown.read_text(encoding="utf-8")):
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            targets.append((number, definition.group(1)))
            continue
        code_free = INLINE_CODE.sub("", line)
        targets.extend((number, target) for target in INLINE_LINK.findall(code_free))
        targets.extend((number, target) for target in HTML_HREF.findall(code_free))
    return targets


def dead_links(markdown: Path) -> list[str]:
    """Every link of `markdown` that leads nowhere: a missing file or folder, or an anchor with no heading."""
    problems = []
    for number, target in link_targets(markdown):
        if target.lower().startswith(EXTERNAL_SCHEMES):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (markdown.parent / unquote(path_part)).resolve() if path_part else markdown
        where = f"{markdown}:{number}: {target}"
        if _in_absent_sibling_of_repository(destination):
            continue
        if not destination.exists():
            problems.append(f"{where}: no such file {destination}")
        elif anchor and destination.suffix.lower() == ".md" and unquote(anchor).lower() not in anchors(destination):
            problems.append(f"{where}: no heading with anchor #{anchor} in {destination}")
    return problems


def _in_absent_sibling_of_repository(destination: Path) -> bool:
    """True for a path in a folder beside this repository (e.g. ../shared) when that folder does not exist."""
    if destination.is_relative_to(REPO_ROOT) or not destination.is_relative_to(REPO_ROOT.parent):
        return False
    sibling = REPO_ROOT.parent / destination.relative_to(REPO_ROOT.parent).parts[0]
    return not sibling.exists()


def project_markdown() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_collect_project_markdown_in_repository_includes_readme_and_docs() -> None:
    files = project_markdown()

    assert README in files
    assert DOCS / "README.md" in files
    assert len(files) > 2


@pytest.mark.parametrize("markdown", project_markdown(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_check_links_in_project_markdown_finds_no_dead_link(markdown: Path) -> None:
    assert dead_links(markdown) == []


def test_count_readme_lines_in_repository_at_most_150() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()

    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_check_links_on_missing_file_reports_dead_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\nSee [the guide](guide/missing.md).\n", encoding="utf-8")

    problems = dead_links(page)

    assert len(problems) == 1
    assert "guide/missing.md" in problems[0] and "no such file" in problems[0]


def test_check_links_on_missing_anchor_in_other_file_reports_dead_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[there](other.md#real-part) and [nowhere](other.md#made-up-part)\n", encoding="utf-8")

    problems = dead_links(page)

    assert len(problems) == 1
    assert "#made-up-part" in problems[0] and "no heading" in problems[0]


def test_check_links_on_missing_anchor_in_same_file_reports_dead_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Two commands\n\n[ok](#two-commands), [gone](#three-commands)\n", encoding="utf-8")

    problems = dead_links(page)

    assert len(problems) == 1
    assert "#three-commands" in problems[0]


def test_check_links_on_existing_targets_outside_folder_reports_nothing(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "CONTRACT.md").write_text("# Contract\n\n## 2. HTTP API\n", encoding="utf-8")
    (tmp_path / "repo" / "docs").mkdir(parents=True)
    page = tmp_path / "repo" / "docs" / "page.md"
    page.write_text("# Page\n\n[api](../../shared/CONTRACT.md#2-http-api), <a href=\"page.md#page\">top</a>\n",
                    encoding="utf-8")

    assert dead_links(page) == []


def test_check_links_on_external_code_and_fenced_targets_ignores_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[web](https://example.org/x.md) [mail](mailto:a@b.c) [socket](ws://127.0.0.1:8080/ws)\n"
                    "`[not a link](missing.md)`\n\n```bash\necho [x](missing.md)\n```\n", encoding="utf-8")

    assert dead_links(page) == []


@pytest.mark.parametrize(("heading", "slug"), [
    ("The local stack (`make run`)", "the-local-stack-make-run"),
    ("CI/CD: `.github/workflows/ci.yml`", "cicd-githubworkflowsciyml"),
    ("API additions (beyond the contract)", "api-additions-beyond-the-contract"),
    ("Observability: X-Ray, EMF metrics, logs and the ops page",
     "observability-x-ray-emf-metrics-logs-and-the-ops-page"),
])
def test_slug_of_heading_with_code_and_punctuation_matches_github(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_anchors_of_repeated_heading_numbers_the_repeats(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Runs\n\n## Runs\n\n```\n# Runs\n```\n", encoding="utf-8")

    assert anchors(page) == {"runs", "runs-1"}


def test_check_links_into_absent_sibling_folder_are_not_judged() -> None:
    absent = REPO_ROOT.parent / "careforall-no-such-sibling" / "CONTRACT.md"

    assert _in_absent_sibling_of_repository(absent) is True
    assert _in_absent_sibling_of_repository(REPO_ROOT / "docs" / "missing.md") is False
