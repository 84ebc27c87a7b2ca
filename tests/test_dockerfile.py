"""The image's project-specific rules, read from Dockerfile, requirements.lock and .dockerignore.

General Dockerfile practice (exec-form ENTRYPOINT and CMD, pinned base tags and pip versions, no
root as the last USER, the shell in RUN lines) is hadolint's job, in .ci/run; these tests only
check what is particular to dastbot. scripts/check-image.sh builds and runs the image for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path, PurePosixPath

import pytest
from docker.utils.build import exclude_paths

from dastbot.kernel.config import HttpSettings

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
UID = "10001"
DEFAULT_HTTP_PORT = HttpSettings.model_fields["port"].default
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "PRIVATE_KEY")
Instructions = list[tuple[str, str]]


def instructions(text: str) -> Instructions:
    """(KEYWORD, arguments) of every instruction: comment lines dropped, continuations joined."""
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in logical.splitlines():
        keyword, _, args = line.strip().partition(" ")
        if keyword:
            found.append((keyword.upper(), " ".join(args.split())))
    return found


def final_stage(found: Instructions) -> Instructions:
    start = max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM")
    return found[start:]


def env(found: Instructions) -> dict[str, str]:
    """ENV values of the form NAME=VALUE (the only form this Dockerfile uses)."""
    return {
        name: value.strip("\"'")
        for keyword, args in found
        if keyword == "ENV"
        for name, _, value in (pair.partition("=") for pair in args.split())
    }


# --------------------------------------------------------------------------------------- rules


def runs_unprivileged(found: Instructions) -> list[str]:
    """The bot runs as the fixed uid that owns /data, so a host can prepare the volume."""
    final = final_stage(found)
    users = [i for i, (keyword, _) in enumerate(final) if keyword == "USER"]
    entry = next(i for i, (keyword, _) in enumerate(final) if keyword == "ENTRYPOINT")
    problems = []
    if not users or final[users[-1]][1] != f"{UID}:{UID}" or users[-1] > entry:
        problems.append(f"USER {UID}:{UID} must be the last USER, before ENTRYPOINT")
    if not any(k == "RUN" and f"chown {UID}:{UID} /data" in a for k, a in final):
        problems.append(f"/data must belong to uid {UID}")
    return problems


def healthcheck_command(found: Instructions) -> list[str]:
    args = next((a for k, a in final_stage(found) if k == "HEALTHCHECK"), "")
    _, cmd, command = args.partition("CMD ")
    return list(json.loads(command)) if cmd and command.startswith("[") else []


def checks_health(found: Instructions) -> list[str]:
    command = " ".join(healthcheck_command(found))
    wanted = ("/healthz", "127.0.0.1", "DASTBOT_HTTP_PORT", f"'{DEFAULT_HTTP_PORT}'")
    missing = [word for word in wanted if word not in command]
    return [f"no exec-form HEALTHCHECK on /healthz with {missing}"] if missing else []


def installs_the_lock_hash_checked(found: Instructions) -> list[str]:
    """Dependencies come from requirements.lock with --require-hashes; the runtime venv is
    installed from those wheels only."""
    run = " ".join(a for k, a in found if k == "RUN")
    problems = []
    if not re.search(r"--require-hashes --no-deps -r requirements\.lock", run):
        problems.append("requirements.lock is not installed with --require-hashes --no-deps")
    if "--no-index --find-links /wheels" not in run:
        problems.append("the runtime venv is not installed from the built wheels only")
    if any(k == "COPY" and "--from=" not in a for k, a in final_stage(found)):
        problems.append("the runtime stage copies something other than the built venv")
    return problems


def keeps_data_on_the_volume(found: Instructions) -> list[str]:
    final = final_stage(found)
    db = PurePosixPath(env(final).get("DASTBOT_DB", ""))
    volumes = [a.strip('[]"') for k, a in final if k == "VOLUME"]
    if "/data" not in volumes or PurePosixPath("/data") not in db.parents:
        return [f"DASTBOT_DB={db} must be on VOLUME /data (volumes: {volumes})"]
    return []


def bakes_in_no_secret(found: Instructions) -> list[str]:
    """No secret-looking ENV with a value, and no secret-looking ARG at all (a build argument's
    value is recorded in the image history)."""
    problems = []
    for keyword, args in found:
        if keyword not in ("ENV", "ARG"):
            continue
        for name, _, value in (pair.partition("=") for pair in args.split()):
            if not any(word in name.upper() for word in SECRET_WORDS):
                continue
            if keyword == "ARG" or value.strip("\"'"):
                problems.append(f"{keyword} {name} puts a secret in the image")
    return problems


def serves_dastbot_run(found: Instructions) -> list[str]:
    """`dastbot run` as PID 1, listening on every interface of the container, on the port
    that EXPOSE documents."""
    final = final_stage(found)
    problems = []
    if ("ENTRYPOINT", '["dastbot"]') not in final or ("CMD", '["run"]') not in final:
        problems.append('the container must run ENTRYPOINT ["dastbot"] CMD ["run"]')
    if ("EXPOSE", str(DEFAULT_HTTP_PORT)) not in final:
        problems.append(f"EXPOSE {DEFAULT_HTTP_PORT} (the bot's HTTP port) is missing")
    if env(final).get("DASTBOT_HTTP_HOST") != "0.0.0.0":
        problems.append("DASTBOT_HTTP_HOST=0.0.0.0 is needed: 127.0.0.1 is unreachable outside")
    return problems


RULES: dict[str, Callable[[Instructions], list[str]]] = {
    "user": runs_unprivileged,
    "healthcheck": checks_health,
    "lock": installs_the_lock_hash_checked,
    "volume": keeps_data_on_the_volume,
    "secrets": bakes_in_no_secret,
    "entrypoint": serves_dastbot_run,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_dockerfile_follows_the_rule(rule: str) -> None:
    assert RULES[rule](instructions(DOCKERFILE)) == []


@pytest.mark.parametrize(
    ("rule", "old", "new"),
    [
        ("user", "USER 10001:10001", "USER root"),
        ("user", 'ENTRYPOINT ["dastbot"]', 'ENTRYPOINT ["dastbot"]\nUSER 0'),
        ("user", "chown 10001:10001 /data", "true"),
        ("healthcheck", "%s/healthz", "%s/metrics"),
        ("healthcheck", "'8080'", "'9090'"),
        ("lock", "--require-hashes ", ""),
        ("lock", "--no-index ", ""),
        ("lock", "COPY --from=build", "COPY . /src\nCOPY --from=build"),
        ("volume", "VOLUME /data", "VOLUME /srv"),
        ("volume", "DASTBOT_DB=/data/dastbot.db", "DASTBOT_DB=/home/dastbot/dastbot.db"),
        ("secrets", "USER 10001", "ENV DASTBOT_SLASH_TOKEN=abc123\nUSER 10001"),
        ("secrets", "USER 10001", "ARG DB_PASSWORD\nUSER 10001"),
        ("entrypoint", 'CMD ["run"]', 'CMD ["console"]'),
        ("entrypoint", "EXPOSE 8080", "EXPOSE 8000"),
        ("entrypoint", "DASTBOT_HTTP_HOST=0.0.0.0", "DASTBOT_HTTP_HOST=127.0.0.1"),
    ],
)
def test_each_rule_catches_its_violation(rule: str, old: str, new: str) -> None:
    assert old in DOCKERFILE
    assert RULES[rule](instructions(DOCKERFILE.replace(old, new, 1)))


def test_an_empty_secret_env_is_allowed() -> None:
    text = DOCKERFILE.replace("USER 10001", 'ENV DASTBOT_SLASH_TOKEN=""\nUSER 10001')
    assert bakes_in_no_secret(instructions(text)) == []


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", re.sub(r"^#.*\n", "", text, flags=re.M))
    assert len(entries) > 10
    unpinned = [e.split()[0] for e in entries if not re.match(r"[\w.-]+==[\w.]+ ", e)]
    unhashed = [e.split()[0] for e in entries if "--hash=sha256:" not in e]
    assert unpinned == [] and unhashed == []


def test_the_healthcheck_command_passes_on_200_and_fails_otherwise() -> None:
    """Run the HEALTHCHECK's ``python -c`` with this interpreter against a local /healthz."""
    argv = healthcheck_command(instructions(DOCKERFILE))
    assert PurePosixPath(argv[0]).name in ("python", "python3") and argv[1] == "-c", argv
    status = {"code": 200}

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status["code"] if self.path == "/healthz" else 404)
            self.end_headers()
            self.wfile.write(b'{"websocket": true}')

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def probe(port: int) -> int:
        env = {**os.environ, "DASTBOT_HTTP_PORT": str(port)}
        command = [sys.executable, *argv[1:]]
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    port = server.server_address[1]
    try:
        assert probe(port) == 0
        status["code"] = 503
        assert probe(port) != 0
    finally:
        server.shutdown()
        server.server_close()
    assert probe(port) != 0  # nothing listens any more


# ----------------------------------------------------------------------------- build context

# Never in the build context: version control, venvs, caches, local databases and env files.
MUST_IGNORE = [
    ".git/config",
    ".venv/bin/python",
    "venv/bin/python",
    ".env",
    "dastbot.db",
    "dastbot.db-wal",
    "data/nested/dastbot.db",
    ".pytest_cache/v/cache/lastfailed",
    ".hypothesis/examples/x",
    "dastbot/__pycache__/app.cpython-311.pyc",
    "tests/fakes/fake_mattermost.py",
    "dastbot.egg-info/PKG-INFO",
]
# What the build stage needs (pyproject.toml names README.md as the readme).
MUST_KEEP = [
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "requirements.lock",
    "dastbot/app.py",
    "dastbot/py.typed",
    "knowledge/ami.yaml",
]


def test_the_build_context_holds_what_the_build_needs_and_nothing_else(tmp_path: Path) -> None:
    """.dockerignore applied with Docker's own rules (the docker SDK's matcher) to a sample
    tree."""
    for name in MUST_IGNORE + MUST_KEEP:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = set(exclude_paths(str(tmp_path), patterns))
    assert sorted(context.intersection(MUST_IGNORE)) == []
    assert sorted(set(MUST_KEEP) - context) == []
