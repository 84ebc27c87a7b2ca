"""The knowledge base: load knowledge/*.yaml (or one YAML list) and validate it as a whole.

Validation collects every problem before failing: unique ids, required fields, known categories
and escalation targets, non-empty patterns; each error names the file, the line and the entry id.

Size limits keep a load (and ``/dast kb reload``) to seconds and its memory small, whatever is
put in the folder: ``MAX_FILE_BYTES`` per file and ``MAX_TOTAL_BYTES`` in all, checked before
anything is parsed; ``MAX_ENTRIES`` entries, counted while scanning so an oversized file is
refused after its first ``MAX_ENTRIES`` items, not after parsing it whole; ``MAX_PATTERNS``
patterns of at most ``MAX_PATTERN_CHARS`` characters per entry, answers of at most
``MAX_ANSWER_CHARS`` (an answer must fit a Mattermost post with its title and links).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dastbot.kernel.yamlsource import Located, YamlSyntaxError, parse

CATEGORIES = (
    "panda",
    "rucio",
    "grid-auth",
    "athena",
    "conditions",
    "site",
    "monitoring",
    "ami",
    "containers",
    "other",
)
ESCALATION_TARGETS = (
    "none",
    "cloud-support",
    "site-support",
    "panda-experts",
    "rucio-experts",
    "ami-team",
)
FACTS = ("task_id", "job_id", "error", "dataset", "site", "release", "log")
REQUIRED = ("id", "title", "category", "patterns", "answer", "escalate_to")
OPTIONAL = ("links", "ask_for", "tags")
# Files in a knowledge folder that hold other data (escalation contacts, the site map).
RESERVED_FILES = frozenset({"contacts.yaml", "sites.yaml"})
ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")

MAX_ENTRIES = 5_000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_PATTERNS = 100
MAX_PATTERN_CHARS = 2_000
MAX_ANSWER_CHARS = 10_000


class KnowledgeError(Exception):
    """Every problem found in a knowledge base, each as ``file:line: entry 'id': message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    category: str
    patterns: tuple[str, ...]
    answer: str
    escalate_to: str
    links: tuple[Link, ...] = ()
    ask_for: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    origin: str = ""
    _by_id: dict[str, Entry] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({e.id: e for e in self.entries})

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)


def knowledge_files(path: Path) -> list[Path]:
    """The files ``load_knowledge(path)`` reads: ``path`` itself, or a folder's YAML files."""
    if path.is_dir():
        return sorted(
            p
            for p in path.iterdir()
            if p.suffix in (".yaml", ".yml") and p.is_file() and p.name not in RESERVED_FILES
        )
    return [path]


def _text_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    return None


class _Checker:
    def __init__(self, targets: Collection[str]) -> None:
        self.targets = targets
        self.errors: list[str] = []
        self.entries: list[Entry] = []
        self.seen: dict[str, str] = {}

    def error(self, located: Located, path: tuple[str | int, ...], entry: str, msg: str) -> None:
        label = f"entry '{entry}'" if entry else f"entry #{int(path[0]) + 1}"
        self.errors.append(f"{located.where(path)}: {label}: {msg}")

    def document(self, located: Located) -> None:
        data = located.data
        if data is None:
            return
        if isinstance(data, dict) and "entries" in data:
            data = data["entries"]
            located = Located(
                data,
                located.file,
                {k[1:]: v for k, v in located.lines.items() if k[:1] == ("entries",)},
            )
        if not isinstance(data, list):
            self.errors.append(f"{located.file}:1: expected a list of entries")
            return
        for i, raw in enumerate(data):
            self.entry(located, i, raw)

    def entry(self, located: Located, i: int, raw: Any) -> None:
        if not isinstance(raw, dict):
            self.error(located, (i,), "", "an entry must be a mapping of fields")
            return
        entry_id = raw.get("id")
        name = entry_id if isinstance(entry_id, str) else ""
        before = len(self.errors)
        for key in REQUIRED:
            if key not in raw or raw[key] is None or raw[key] == "":
                self.error(located, (i,), name, f"missing required field '{key}'")
        for key in raw:
            if key not in REQUIRED and key not in OPTIONAL:
                self.error(located, (i, key), name, f"unknown field '{key}'")
        if "id" in raw and raw["id"] is not None:
            if not isinstance(entry_id, str) or not ID_RE.match(entry_id):
                self.error(located, (i, "id"), name, "id must be lowercase kebab-case")
            elif entry_id in self.seen:
                where = self.seen[entry_id]
                self.error(located, (i, "id"), name, f"duplicate id (first defined at {where})")
            else:
                self.seen[entry_id] = located.where((i, "id"))
        for key in ("title", "answer"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                self.error(located, (i, key), name, f"'{key}' must be text")
        category = raw.get("category")
        if category is not None and category not in CATEGORIES:
            known = ", ".join(CATEGORIES)
            self.error(located, (i, "category"), name, f"unknown category {category!r} ({known})")
        target = raw.get("escalate_to")
        if target is not None and target not in self.targets:
            known = ", ".join(sorted(self.targets))
            msg = f"unknown escalation target {target!r} ({known})"
            self.error(located, (i, "escalate_to"), name, msg)
        patterns = _text_list(raw.get("patterns")) if "patterns" in raw else []
        if "patterns" in raw and raw["patterns"] is not None:
            if patterns is None:
                self.error(located, (i, "patterns"), name, "patterns must be a list of text")
            elif not [p for p in patterns if p.strip()]:
                self.error(located, (i, "patterns"), name, "patterns must not be empty")
            else:
                self.sizes(located, i, name, patterns)
        answer = raw.get("answer")
        if isinstance(answer, str) and len(answer) > MAX_ANSWER_CHARS:
            msg = (
                f"the answer has {len(answer):,} characters; at most {MAX_ANSWER_CHARS:,} fit a "
                "post: shorten it and link to the documentation"
            )
            self.error(located, (i, "answer"), name, msg)
        ask_for = _text_list(raw.get("ask_for", [])) or []
        for fact in ask_for:
            if fact not in FACTS:
                msg = f"unknown fact {fact!r} in ask_for ({', '.join(FACTS)})"
                self.error(located, (i, "ask_for"), name, msg)
        links = self.links(located, i, name, raw.get("links", []))
        tags = _text_list(raw.get("tags", [])) or []
        if len(self.errors) > before:
            return
        self.entries.append(
            Entry(
                id=str(entry_id),
                title=str(raw["title"]).strip(),
                category=str(category),
                patterns=tuple(p.strip() for p in patterns or [] if p.strip()),
                answer=str(raw["answer"]).strip(),
                escalate_to=str(target),
                links=links,
                ask_for=tuple(ask_for),
                tags=tuple(tags),
                source=located.where((i,)),
            )
        )

    def sizes(self, located: Located, i: int, name: str, patterns: list[str]) -> None:
        if len(patterns) > MAX_PATTERNS:
            msg = f"{len(patterns)} patterns; at most {MAX_PATTERNS} per entry: split the entry"
            self.error(located, (i, "patterns"), name, msg)
        for j, pattern in enumerate(patterns):
            if len(pattern) > MAX_PATTERN_CHARS:
                msg = (
                    f"pattern {j + 1} has {len(pattern):,} characters; at most "
                    f"{MAX_PATTERN_CHARS:,}: keep the telling line of an error, not the whole log"
                )
                self.error(located, (i, "patterns", j), name, msg)

    def links(self, located: Located, i: int, name: str, raw: Any) -> tuple[Link, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error(located, (i, "links"), name, "links must be a list of {title, url}")
            return ()
        out: list[Link] = []
        for j, link in enumerate(raw):
            if isinstance(link, str) and link.startswith(("http://", "https://")):
                out.append(Link(title=link, url=link))
            elif (
                isinstance(link, dict)
                and isinstance(link.get("url"), str)
                and link["url"].startswith(("http://", "https://"))
            ):
                out.append(Link(title=str(link.get("title") or link["url"]), url=link["url"]))
            else:
                self.error(located, (i, "links", j), name, "a link needs an http(s) url")
        return tuple(out)


def validate(
    documents: Iterable[Located], targets: Collection[str] = ESCALATION_TARGETS
) -> KnowledgeBase:
    checker = _Checker(targets)
    origin: list[str] = []
    for located in documents:
        origin.append(located.file)
        checker.document(located)
    if checker.errors:
        raise KnowledgeError(checker.errors)
    if not checker.entries:
        raise KnowledgeError([f"{', '.join(origin) or 'knowledge'}: no entries found"])
    return KnowledgeBase(tuple(checker.entries), origin=", ".join(origin))


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _check_sizes(files: list[Path]) -> None:
    """Refuse files that are too large before reading them (KnowledgeError)."""
    errors: list[str] = []
    total = 0
    for file in files:
        try:
            size = file.stat().st_size
        except OSError as exc:
            raise KnowledgeError([f"{file}: cannot read: {exc.strerror}"]) from None
        total += size
        if size > MAX_FILE_BYTES:
            errors.append(
                f"{file}: {_megabytes(size)}; a knowledge file may hold at most "
                f"{_megabytes(MAX_FILE_BYTES)}: split it into several files"
            )
    if total > MAX_TOTAL_BYTES:
        errors.append(
            f"{files[0].parent}: the knowledge files hold {_megabytes(total)}; at most "
            f"{_megabytes(MAX_TOTAL_BYTES)} in all"
        )
    if errors:
        raise KnowledgeError(errors)


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _count_items(text: str, file: Path, before: int) -> int:
    """The entries of one file (top-level list items, or those of its ``entries:`` list), counted
    from the parser's events; KnowledgeError as soon as ``before`` + them passes MAX_ENTRIES.
    Malformed YAML is left to the real parse, which names the problem."""
    count = depth = counting = 0  # counting: the depth whose items are entries (0: none yet)
    root_is_mapping, expect_key, key = False, True, None
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.NodeEvent):
                if depth == 0:
                    root_is_mapping = isinstance(event, yaml.MappingStartEvent)
                    counting = 1 if isinstance(event, yaml.SequenceStartEvent) else 0
                elif depth == counting:
                    count += 1
                    if before + count > MAX_ENTRIES:
                        raise _too_many(file, event)
                elif depth == 1 and root_is_mapping:
                    if expect_key:
                        key = event.value if isinstance(event, yaml.ScalarEvent) else None
                    elif key == "entries" and isinstance(event, yaml.SequenceStartEvent):
                        counting = 2
                    expect_key = not expect_key
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                if depth < counting:
                    counting = 0
    except yaml.YAMLError:
        pass
    return count


def _too_many(file: Path, event: yaml.Event) -> KnowledgeError:
    line = event.start_mark.line + 1 if event.start_mark is not None else 1
    return KnowledgeError(
        [
            f"{file}:{line}: the knowledge base reaches entry {MAX_ENTRIES + 1:,} here; at most "
            f"{MAX_ENTRIES:,} entries in all (a larger one makes every reload slow): remove "
            "entries or merge similar ones"
        ]
    )


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlSyntaxError(f"{file}:1", "not UTF-8 text") from None
    except OSError as exc:
        raise YamlSyntaxError(f"{file}:1", f"cannot read: {exc.strerror}") from None


def load_knowledge(path: Path, targets: Collection[str] = ESCALATION_TARGETS) -> KnowledgeBase:
    """Load a folder of YAML files or one YAML file; raise KnowledgeError listing every problem
    (or naming the first limit passed: see the module's docstring)."""
    if not path.exists():
        raise KnowledgeError([f"{path}: no such file or folder"])
    files = knowledge_files(path)
    if not files:
        raise KnowledgeError([f"{path}: no .yaml files in this folder"])
    _check_sizes(files)
    documents: list[Located] = []
    errors: list[str] = []
    counted = 0
    for file in files:
        try:
            text = _read(file)
            counted += _count_items(text, file, counted)
            documents.append(parse(text, str(file)))
        except YamlSyntaxError as exc:
            errors.append(str(exc))
    try:
        kb = validate(documents, targets)
    except KnowledgeError as exc:
        raise KnowledgeError(errors + exc.errors) from None
    if errors:
        raise KnowledgeError(errors)
    return kb


def load_text(text: str, name: str = "<text>") -> KnowledgeBase:
    """Validate a knowledge base given as YAML text (for tests and chat-side reloads)."""
    try:
        return validate([parse(text, name)])
    except YamlSyntaxError as exc:
        raise KnowledgeError([str(exc)]) from None
