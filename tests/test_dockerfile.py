"""The container image's rules, checked on the Dockerfile and .dockerignore without a container
engine: a small Dockerfile parser (instructions, continuation lines, comments, stages, ARG
substitution in FROM) and a .dockerignore matcher with Docker's semantics; each rule is a function
returning the problems it finds, tested on the real files and on broken examples.
scripts/check-image.sh builds and runs the image for real.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path, PurePosixPath

import pytest

from dastbot.kernel.config import HttpSettings

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# Base images: the official slim Python 3.11 image; these tags are also made locally by
# ../shared/tools/oci-base.sh, so the same Dockerfile builds offline and against Docker Hub.
ALLOWED_BASES = {"python:3.11-slim", "python:3.11-slim-bookworm"}
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "PRIVATE_KEY")
DEFAULT_HTTP_PORT = HttpSettings.model_fields["port"].default


# ------------------------------------------------------------------------------ Dockerfile parser


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-cased: FROM, RUN, ...
    args: str  # the rest of the logical line, continuations joined
    line: int  # 1-based line where the instruction starts

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's argv, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None


@dataclass
class Stage:
    base: str  # the FROM image, global ARGs substituted
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def everywhere(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def parse_instructions(text: str) -> list[Instruction]:
    """Logical instructions: parser directives honoured (``# escape=``), comment lines dropped
    (also inside continuations, as Docker does), lines ending in the escape char joined."""
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:  # parser directives: only at the very top, before any other line
        match = _DIRECTIVE.match(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            escape = match.group(2)
    out: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue  # a comment, or a blank line between instructions
        if not parts:
            start = number
        if stripped.endswith(escape):
            parts.append(stripped[: -len(escape)].strip())
            continue
        parts.append(stripped)
        out.append(_instruction(" ".join(p for p in parts if p), start))
        parts = []
    if parts:  # a continuation on the last line
        out.append(_instruction(" ".join(p for p in parts if p), start))
    return out


def _instruction(logical: str, line: int) -> Instruction:
    keyword, _, args = logical.partition(" ")
    return Instruction(keyword.upper(), args.strip(), line)


def substitute(text: str, variables: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` (modifiers ignored) from ``variables``; unknown ones stay."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(value, text)


def key_values(instruction: Instruction) -> dict[str, str]:
    """ENV/ARG/LABEL pairs: ``K=V K2="v 2"`` or the legacy ``ENV K some value``; ``ARG K`` → ''."""
    args = instruction.args
    if instruction.keyword == "ENV" and "=" not in args.split(" ", 1)[0]:
        name, _, value = args.partition(" ")
        return {name: value.strip()}
    pairs: dict[str, str] = {}
    for token in shlex.split(args, posix=True):
        name, _, value = token.partition("=")
        pairs[name] = value
    return pairs


def parse_dockerfile(text: str) -> Dockerfile:
    instructions = parse_instructions(text)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            if not words:
                raise ValueError(f"line {instruction.line}: FROM without an image")
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(substitute(words[0], global_args), name, instruction.line))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ValueError(f"line {instruction.line}: {instruction.keyword} before FROM")
            global_args.update(key_values(instruction))
        if stages:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise ValueError("no FROM instruction")
    return Dockerfile(instructions, global_args, stages)


def stage_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        env.update(key_values(instruction))
    return env


# ------------------------------------------------------------------------------------ the rules


def _image(reference: str) -> str:
    """``docker.io/library/python:3.11-slim@sha256:…`` → ``python:3.11-slim``."""
    name = reference.split("@", 1)[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def check_base(df: Dockerfile) -> list[str]:
    problems = []
    names: set[str] = set()
    for stage in df.stages:
        if stage.base in names:
            pass  # FROM an earlier stage
        elif _image(stage.base) not in ALLOWED_BASES:
            problems.append(
                f"line {stage.line}: base {stage.base!r} is not one of {sorted(ALLOWED_BASES)}"
            )
        if stage.name:
            names.add(stage.name)
    if df.final.base in names:
        problems.append("the final stage must start from the Python base, not from a build stage")
    return problems


def _is_root(user: str) -> bool:
    name, _, group = user.partition(":")
    return name in ("", "0", "root") or group in ("0", "root")


def check_user(df: Dockerfile) -> list[str]:
    """A USER that is not root (nor uid/gid 0) is in effect when ENTRYPOINT and CMD run."""
    final = df.final
    current = "root"
    at: dict[str, str] = {}
    for instruction in final.instructions:
        if instruction.keyword == "USER":
            current = instruction.args.strip()
        elif instruction.keyword in ("ENTRYPOINT", "CMD"):
            at[instruction.keyword] = current
    problems = []
    if not final.all("USER"):
        problems.append("the final stage has no USER: the bot would run as root")
    for keyword in ("ENTRYPOINT", "CMD"):
        if keyword in at and _is_root(at[keyword]):
            problems.append(f"{keyword} runs as {at[keyword]!r}: set a non-root USER before it")
    if _is_root(current):
        problems.append(f"the image's final USER is {current!r}")
    return problems


def healthcheck_argv(df: Dockerfile) -> list[str] | None:
    instruction = df.final.last("HEALTHCHECK")
    if instruction is None:
        return None
    words = instruction.args.split()
    if words and words[0].upper() == "NONE":
        return None
    _, found, command = instruction.args.partition("CMD")
    if not found:
        return None
    argv = Instruction("CMD", command.strip(), instruction.line).exec_form()
    return argv if argv is not None else ["/bin/sh", "-c", command.strip()]


def check_healthcheck(df: Dockerfile) -> list[str]:
    argv = healthcheck_argv(df)
    if argv is None:
        return ["no HEALTHCHECK with a CMD in the final stage"]
    command = " ".join(argv)
    problems = []
    if "/healthz" not in command:
        problems.append("the HEALTHCHECK does not request /healthz")
    if "127.0.0.1" not in command and "localhost" not in command:
        problems.append("the HEALTHCHECK should ask the bot on 127.0.0.1")
    if "DASTBOT_HTTP_PORT" not in command or str(DEFAULT_HTTP_PORT) not in command:
        problems.append(
            f"the HEALTHCHECK should use $DASTBOT_HTTP_PORT, defaulting to {DEFAULT_HTTP_PORT}"
        )
    if re.search(r"\bcurl\b", command) and not any("curl" in r.args for r in df.final.all("RUN")):
        problems.append("the HEALTHCHECK uses curl, which the slim base image does not have")
    return problems


def volumes(stage: Stage) -> list[str]:
    found: list[str] = []
    for instruction in stage.all("VOLUME"):
        argv = instruction.exec_form()
        found.extend(argv if argv is not None else instruction.args.split())
    return found


def check_volume(df: Dockerfile) -> list[str]:
    declared = [PurePosixPath(v) for v in volumes(df.final)]
    if not declared:
        return ["no VOLUME in the final stage: the database would live in the container layer"]
    db = stage_env(df.final).get("DASTBOT_DB", "")
    if not db:
        return ["DASTBOT_DB is not set in the final stage"]
    path = PurePosixPath(db)
    if not path.is_absolute():
        return [f"DASTBOT_DB={db} is not an absolute path"]
    if not any(path.parent == v or v in path.parents for v in declared):
        return [f"DASTBOT_DB={db} is not on a VOLUME ({', '.join(map(str, declared))})"]
    return []


def check_secrets(df: Dockerfile) -> list[str]:
    """No secret-looking ENV with a value anywhere; no secret-looking ARG at all (a build
    argument's value is recorded in the image history, default or not)."""
    problems = []
    for instruction in df.everywhere("ENV") + df.everywhere("ARG"):
        for name, value in key_values(instruction).items():
            if not any(word in name.upper() for word in SECRET_WORDS):
                continue
            if instruction.keyword == "ARG":
                problems.append(
                    f"line {instruction.line}: ARG {name} would put a secret in the image"
                )
            elif value.strip("\"'"):
                problems.append(f"line {instruction.line}: ENV {name} has a value baked in")
    return problems


def exposed_ports(stage: Stage) -> set[int]:
    ports: set[int] = set()
    for instruction in stage.all("EXPOSE"):
        for spec in instruction.args.split():
            ports.add(int(spec.split("/", 1)[0]))
    return ports


def check_http(df: Dockerfile) -> list[str]:
    problems = []
    env = stage_env(df.final)
    port = int(env.get("DASTBOT_HTTP_PORT", DEFAULT_HTTP_PORT))
    if port not in exposed_ports(df.final):
        problems.append(f"EXPOSE does not include the bot's HTTP port {port}")
    if env.get("DASTBOT_HTTP_HOST") != "0.0.0.0":
        problems.append(
            "DASTBOT_HTTP_HOST=0.0.0.0 is needed: 127.0.0.1 is unreachable from outside"
        )
    return problems


def check_entrypoint(df: Dockerfile) -> list[str]:
    entrypoint, cmd = df.final.last("ENTRYPOINT"), df.final.last("CMD")
    if entrypoint is None:
        return ["no ENTRYPOINT in the final stage"]
    argv = entrypoint.exec_form()
    if argv is None:
        return ["ENTRYPOINT must use the exec (JSON) form so the bot gets SIGTERM as PID 1"]
    problems = []
    program = PurePosixPath(argv[0]).name if argv else ""
    runs_module = program.startswith("python") and argv[1:3] == ["-m", "dastbot"]
    if program != "dastbot" and not runs_module:
        problems.append(f"ENTRYPOINT {argv} does not run dastbot")
    command = cmd.exec_form() if cmd is not None else None
    if cmd is not None and command is None:
        problems.append("CMD must use the exec (JSON) form")
    if (argv[1:] if program == "dastbot" else argv[3:]) + (command or []) != ["run"]:
        problems.append(f"the container should run `dastbot run`, not {argv + (command or [])}")
    return problems


RULES = {
    "base": check_base,
    "user": check_user,
    "healthcheck": check_healthcheck,
    "volume": check_volume,
    "secrets": check_secrets,
    "http": check_http,
    "entrypoint": check_entrypoint,
}


# -------------------------------------------------------------------------- .dockerignore matcher


@dataclass(frozen=True)
class IgnoreRule:
    pattern: re.Pattern[str]
    exclude: bool  # False for "!pattern" exceptions
    text: str


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's syntax: Go's filepath.Match plus ``**`` (any number of directories)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out += "(?:.*/)?"
                i += 1
            else:
                out += ".*"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(c)
            else:
                body = pattern[i + 1 : end]
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line if exclude else line[1:].strip()
        pattern = posixpath.normpath(pattern).lstrip("/") if pattern not in ("", ".") else pattern
        rules.append(IgnoreRule(_pattern_regex(pattern), exclude, line))
    return rules


def ignored(rules: list[IgnoreRule], path: str) -> bool:
    """Whether ``path`` (relative, /-separated) stays out of the build context: the last rule
    matching the path or one of its parent folders decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for rule in rules:
        if any(rule.pattern.match(candidate) for candidate in candidates):
            verdict = rule.exclude
    return verdict


MUST_IGNORE = [
    ".git",
    ".git/config",
    ".venv",
    ".venv/bin/python",
    "venv/bin/python",
    "dastbot.db",
    "dastbot.db-wal",
    "dastbot.db-shm",
    "dastbot-console.db",
    "data/nested/dastbot.db",
    ".pytest_cache/v/cache/lastfailed",
    ".mypy_cache/3.11/dastbot/app.meta.json",
    ".ruff_cache/CACHEDIR.TAG",
    ".hypothesis/examples/x",
    "dastbot/__pycache__/app.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311.pyc",
    "build/lib/dastbot/app.py",
    "dastbot.egg-info/PKG-INFO",
]
# What the build stage needs to build the wheel (pyproject.toml names README.md as the readme).
MUST_KEEP = ["pyproject.toml", "README.md", "LICENSE", "dastbot/py.typed", "requirements.lock"]


# ---------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_dockerfile_follows_the_rule(dockerfile: Dockerfile, rule: str) -> None:
    assert RULES[rule](dockerfile) == []


def test_the_image_is_multi_stage_and_installs_only_prebuilt_wheels(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    text = " ".join(i.args for i in dockerfile.everywhere("RUN"))
    assert "--no-index" in text and "--find-links" in text
    assert re.search(r"pip==\d", substitute(text, dockerfile.global_args)), "pin pip's version"
    copies = [i.args for i in dockerfile.final.all("COPY")]
    assert copies and all("--from=" in c for c in copies), "the runtime stage copies no sources"


def test_the_healthcheck_command_passes_on_200_and_fails_otherwise(dockerfile: Dockerfile) -> None:
    """Run the HEALTHCHECK's ``python -c`` with this interpreter against a local /healthz."""
    argv = healthcheck_argv(dockerfile)
    assert argv is not None
    if PurePosixPath(argv[0]).name not in ("python", "python3") or argv[1] != "-c":
        pytest.skip(f"the HEALTHCHECK is not `python -c`: {argv[:2]}")
    status = {"code": 200}

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status["code"] if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"websocket": true}')

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def probe(port: int) -> int:
        env = {**os.environ, "DASTBOT_HTTP_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, *argv[1:]], env=env, capture_output=True, timeout=10, check=False
        )
        return result.returncode

    try:
        port = server.server_address[1]
        assert probe(port) == 0
        status["code"] = 503
        assert probe(port) != 0
    finally:
        server.shutdown()
        server.server_close()
    assert probe(port) != 0  # nothing listens any more


def test_the_dockerignore_keeps_junk_and_secrets_out_of_the_build_context() -> None:
    rules = parse_dockerignore(DOCKERIGNORE.read_text(encoding="utf-8"))
    leaked = [path for path in MUST_IGNORE if not ignored(rules, path)]
    assert leaked == []


def test_the_dockerignore_keeps_what_the_build_needs() -> None:
    rules = parse_dockerignore(DOCKERIGNORE.read_text(encoding="utf-8"))
    needed = MUST_KEEP + [
        p.relative_to(REPO).as_posix()
        for folder in ("dastbot", "knowledge")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and p.suffix in (".py", ".yaml")
    ]
    assert len(needed) > len(MUST_KEEP)
    assert [path for path in needed if ignored(rules, path)] == []


# --------------------------------------------------------------- the parser and rules themselves

HEALTH = (
    'HEALTHCHECK --interval=30s CMD ["python", "-c", "import os; print('
    "'127.0.0.1', os.environ.get('DASTBOT_HTTP_PORT', '8080'), '/healthz')\"]"
)
GOOD = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
RUN pip wheel . \\
# a comment inside a continuation
      --wheel-dir /wheels
FROM python:3.11-slim
COPY --from=build /opt/venv /opt/venv
ENV DASTBOT_DB=/data/bot.db \\
    DASTBOT_HTTP_HOST=0.0.0.0 LABEL_TEXT="two words"
VOLUME ["/data"]
EXPOSE 8080/tcp
USER 10001:10001
@HEALTHCHECK@
ENTRYPOINT ["dastbot"]
CMD ["run"]
""".replace("@HEALTHCHECK@", HEALTH)


def test_the_parser_joins_continuations_drops_comments_and_substitutes_args() -> None:
    df = parse_dockerfile(GOOD)
    assert [s.base for s in df.stages] == ["python:3.11-slim", "python:3.11-slim"]
    assert df.stages[0].name == "build"
    run = df.stages[0].all("RUN")[0]
    assert run.args == "pip wheel . --wheel-dir /wheels" and run.line == 4
    assert stage_env(df.final) == {
        "DASTBOT_DB": "/data/bot.db",
        "DASTBOT_HTTP_HOST": "0.0.0.0",
        "LABEL_TEXT": "two words",
    }
    assert volumes(df.final) == ["/data"]
    assert key_values(Instruction("ENV", "LEGACY some value", 1)) == {"LEGACY": "some value"}
    assert all(rule(df) == [] for rule in RULES.values())


def test_the_parser_honours_the_escape_directive() -> None:
    df = parse_dockerfile("# escape=`\nFROM python:3.11-slim\nRUN echo a `\n    b\n")
    assert df.final.all("RUN")[0].args == "echo a b"


@pytest.mark.parametrize(
    ("rule", "old", "new"),
    [
        ("base", "FROM python:3.11-slim\n", "FROM python:3.12-alpine\n"),
        ("base", "FROM python:3.11-slim\n", "FROM build\n"),
        ("user", "USER 10001:10001\n", "USER root\n"),
        ("user", "USER 10001:10001\n", "USER 0\n"),
        ("user", "USER 10001:10001\n", "USER app:0\n"),
        ("user", "USER 10001:10001\n", ""),
        ("user", 'CMD ["run"]\n', 'CMD ["run"]\nUSER root\n'),
        ("healthcheck", "/healthz", "/metrics"),
        ("healthcheck", "HEALTHCHECK --interval=30s CMD", "HEALTHCHECK NONE\n#"),
        ("healthcheck", "'8080'", "'9090'"),
        ("volume", 'VOLUME ["/data"]\n', ""),
        ("volume", "DASTBOT_DB=/data/bot.db", "DASTBOT_DB=/var/lib/bot.db"),
        ("secrets", "USER 10001", "ENV DASTBOT_MATTERMOST_TOKEN=abc123\nUSER 10001"),
        ("secrets", "USER 10001", "ENV DASTBOT_SLASH_TOKEN abc123\nUSER 10001"),
        ("secrets", "USER 10001", "ARG DB_PASSWORD\nUSER 10001"),
        ("http", "EXPOSE 8080/tcp", "EXPOSE 8000"),
        ("http", "DASTBOT_HTTP_HOST=0.0.0.0", "DASTBOT_HTTP_HOST=127.0.0.1"),
        ("entrypoint", 'ENTRYPOINT ["dastbot"]', 'ENTRYPOINT ["python", "app.py"]'),
        ("entrypoint", 'ENTRYPOINT ["dastbot"]', "ENTRYPOINT dastbot"),
        ("entrypoint", 'CMD ["run"]', 'CMD ["console"]'),
    ],
)
def test_each_rule_catches_its_violation(rule: str, old: str, new: str) -> None:
    assert old in GOOD
    df = parse_dockerfile(GOOD.replace(old, new, 1))
    assert RULES[rule](df), f"rule {rule} missed: {new!r}"


def test_an_empty_secret_env_is_allowed() -> None:
    df = parse_dockerfile(GOOD.replace("USER 10001", 'ENV DASTBOT_SLASH_TOKEN=""\nUSER 10001'))
    assert check_secrets(df) == []


def _ignore(text: str) -> Iterator[tuple[str, bool]]:
    rules = parse_dockerignore(text)
    for path in ("a.db", "x/y/a.db", ".git/HEAD", "src/keep.db", "tests/t.py", "docs/tests"):
        yield path, ignored(rules, path)


def test_the_dockerignore_matcher_follows_docker_semantics() -> None:
    assert dict(_ignore("*.db\n.git\ntests\n")) == {
        "a.db": True,
        "x/y/a.db": False,  # `*` does not cross folders and patterns are rooted
        ".git/HEAD": True,  # a folder pattern covers its contents
        "src/keep.db": False,
        "tests/t.py": True,
        "docs/tests": False,
    }
    assert dict(_ignore("# comment\n**/*.db\n!src/keep.db\n/.git/\n")) == {
        "a.db": True,
        "x/y/a.db": True,
        ".git/HEAD": True,
        "src/keep.db": False,  # the last matching rule wins
        "tests/t.py": False,
        "docs/tests": False,
    }
