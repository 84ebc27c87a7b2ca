"""Mattermost markdown as a terminal shows it: what the console prints of the bot's messages.

``render`` drops the markup a person would otherwise have to read through: backslash escapes
(``mc20\\_13TeV`` -> ``mc20_13TeV``), ``**bold**`` and ``_italics_`` markers, heading hashes,
link syntax (``[text](url)`` -> ``text <url>``) and code fences; tables are aligned in columns.
With ``color`` (a terminal that shows ANSI styles), headings and bold text are bold and
inline code is highlighted; without it the text is plain. Inline code keeps its backticks in
plain text, where they still show what to type.
"""

from __future__ import annotations

import re

_BOLD, _ITALIC, _UNDERLINE, _CODE, _RESET = "\x1b[1m", "\x1b[3m", "\x1b[4m", "\x1b[36m", "\x1b[0m"
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~$=@])")
_PLACEHOLDER = "\x00{}\x00"
_RESTORE = re.compile("\x00(\\d+)\x00")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"
)
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$|^\|\s*:?-+:?\s*\|\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def render_inline(text: str, color: bool = False) -> str:
    """One line of markdown as terminal text (escapes, emphasis, links, code spans)."""
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return _PLACEHOLDER.format(len(kept) - 1)

    text = _ESCAPE.sub(lambda m: keep(m.group(1)), text.replace("\u200b", ""))
    text = _CODE_SPAN.sub(
        lambda m: keep(_style(m.group(1), _CODE, color) if color else m.group(0)), text
    )
    text = _LINK.sub(lambda m: keep(_link(m.group(1), m.group(2))), text)
    text = _STRONG.sub(lambda m: _style(m.group(1) or m.group(2), _BOLD, color), text)
    text = _EMPHASIS.sub(lambda m: _style(m.group(1) or m.group(2), _ITALIC, color), text)
    for _ in range(2):  # a link's text may hold a kept escape
        text = _RESTORE.sub(lambda m: kept[int(m.group(1))], text)
    return text


def _link(label: str, url: str) -> str:
    if url.startswith("console://"):  # a post of this console session: its id is what to type
        post = url.removeprefix("console://")
        return label if label == post else f"{label} ({post})"
    return label if url == label else f"{label} <{url}>"


def _table(rows: list[str], color: bool) -> list[str]:
    cells = [
        [render_inline(c.strip(), color) for c in _CELL_SPLIT.split(row.strip().strip("|"))]
        for row in rows
        if not _TABLE_RULE.match(row)
    ]
    width = max(len(r) for r in cells)
    sizes = [max(_visible(r[i]) if i < len(r) else 0 for r in cells) for i in range(width)]
    out = []
    for n, row in enumerate(cells):
        padded = [
            (row[i] if i < len(row) else "")
            + " " * (sizes[i] - _visible(row[i] if i < len(row) else ""))
            for i in range(width)
        ]
        out.append("| " + " | ".join(padded) + " |")
        if n == 0 and len(cells) > 1:
            out.append("|" + "|".join("-" * (size + 2) for size in sizes) + "|")
    return out


def _visible(text: str) -> int:
    return len(re.sub(r"\x1b\[[0-9;]*m", "", text))


def render(text: str, color: bool = False) -> str:
    """A whole message (see the module docstring)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    fenced = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced
            i += 1
            continue
        if fenced:
            out.append("  " + line)
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            end = i
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            out += _table(lines[i:end], color)
            i = end
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            title = render_inline(heading.group(2), color)
            out.append(_style(title, _BOLD + (_UNDERLINE if level <= 2 else ""), color))
        elif _RULE.match(line):
            out.append("─" * 40)
        elif line.startswith(">"):
            out.append("│ " + render_inline(line[1:].lstrip(), color))
        else:
            out.append(render_inline(line, color))
        i += 1
    return "\n".join(out)
