"""The fake Mattermost server checked against the official OpenAPI reference.

The reference fragments are CC BY-NC-SA test data kept outside the repository: point
``DASTBOT_MM_SPEC`` at their folder. They are joined in the order their README gives (plain
concatenation, like upstream's Makefile). For every endpoint the bot uses, the fake's status code
must be a documented one (or a documented spec-vs-server difference) and its JSON must have the
properties of the referenced schema, with the right JSON types.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from fakes.fake_mattermost import FakeMattermost, FakeMattermostThread
from websockets.sync.client import connect as ws_connect

SPEC_ENV = "DASTBOT_MM_SPEC"
SKIP_REASON = (
    "DASTBOT_MM_SPEC not set: the Mattermost OpenAPI fragments are test reference data "
    "outside the repository"
)
FRAGMENTS = (
    "introduction.yaml",
    "users.yaml",
    "channels.yaml",
    "posts.yaml",
    "files.yaml",
    "commands.yaml",
    "reactions.yaml",
    "definitions.yaml",
)
JSONDict = dict[str, Any]

# Spec-vs-server differences the README documents (the real server wins).
STATUS_DIFFERENCES = {("post", "/api/v4/reactions", 200): "201"}
# Listed properties the server leaves out of these objects.
MAY_BE_ABSENT = {
    "User": {"terms_of_service_id", "terms_of_service_create_at"},  # "not present if empty"
    "Post": {"hashtag", "file_ids"},  # the key is "hashtags"; file_ids is omitempty
    "FileInfo": {"width", "height"},  # images only
    "Team": {"policy_id"},
}
# The server stores these as strings (``"true"``/``"false"``) although the spec says boolean.
TYPE_DIFFERENCES = {("Timezone", "useAutomaticTimezone"): "string"}
# Schemas written with Go field names; the JSON keys are snake_case.
GO_FIELD_NAMES = {"CommandResponse", "SlackAttachment", "SlackAttachmentField"}
# Objects whose every listed property the fake must send (others: types only).
COMPLETE = {"User", "Channel", "Team", "Post", "PostList", "Reaction", "FileInfo", "Command"}
COMPLETE |= {"AppError", "StatusOK"}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class SchemaChecker:
    """Just enough OpenAPI 3.0: local ``$ref``s, object/array/scalar types, enums, nullable."""

    def __init__(self, document: JSONDict) -> None:
        self.document = document

    def resolve(self, node: JSONDict) -> tuple[str | None, JSONDict]:
        name = None
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"non-local $ref {ref}"
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part]
            name, node = ref.rsplit("/", 1)[1], target
        return name, node

    def errors(self, value: Any, schema: JSONDict, where: str = "$") -> list[str]:
        name, schema = self.resolve(schema)
        if value is None:
            return [] if schema.get("nullable") else [f"{where}: null"]
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        checks: dict[str, Callable[[Any], bool]] = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "array": lambda v: isinstance(v, list),
            "object": lambda v: isinstance(v, dict),
        }
        if kind is not None and not checks[kind](value):
            return [f"{where}: expected {kind}, got {type(value).__name__} {value!r:.60}"]
        found: list[str] = []
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{where}: {value!r} not in {schema['enum']}")
        if kind == "array" and "items" in schema:
            for i, item in enumerate(value):
                found += self.errors(item, schema["items"], f"{where}[{i}]")
        if kind == "object":
            found += self._object_errors(value, name, schema, where)
        return found

    def _object_errors(
        self, value: JSONDict, name: str | None, schema: JSONDict, where: str
    ) -> list[str]:
        found: list[str] = []
        for prop, sub in schema.get("properties", {}).items():
            key = snake(prop) if name in GO_FIELD_NAMES else prop
            if key not in value:
                if name in COMPLETE and prop not in MAY_BE_ABSENT.get(name or "", set()):
                    found.append(f"{where}: {name} lacks {key!r}")
                continue
            difference = TYPE_DIFFERENCES.get((name or "", prop))
            if difference is not None:
                sub = {"type": difference}
            found += self.errors(value[key], sub, f"{where}.{key}")
        for required in schema.get("required", []):
            if required not in value:
                found.append(f"{where}: required {required!r} missing")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                found += self.errors(item, extra, f"{where}[{key!r}]")
        return found


@pytest.fixture(scope="module")
def spec() -> JSONDict:
    folder = os.environ.get(SPEC_ENV)
    if not folder:
        pytest.skip(SKIP_REASON)
    text = "".join((Path(folder) / name).read_text(encoding="utf-8") for name in FRAGMENTS)
    document: JSONDict = yaml.safe_load(text)
    assert document["openapi"].startswith("3.")
    assert "/api/v4/posts" in document["paths"] and "Post" in document["components"]["schemas"]
    return document


class _CommandEndpoint(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"response_type": "ephemeral", "text": "fine"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class World:
    fake: FakeMattermost
    url: str
    command_url: str
    root: JSONDict
    reply: JSONDict
    file_id: str

    def call(self, method: str, path: str, user: str | None = "dastbot", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.fake.token(user)}"} if user else {}
        return requests.request(method, self.url + path, headers=headers, timeout=5, **kw)


@pytest.fixture(scope="module")
def world(spec: JSONDict) -> Iterator[World]:
    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), _CommandEndpoint)
    serving = threading.Thread(target=endpoint.serve_forever, daemon=True)
    serving.start()
    try:
        with FakeMattermostThread() as server:
            fake = server.fake
            root = server.run(fake.create_post("alice", "dast-help", "How do I run DAST?"))
            reply = server.run(fake.create_post("dastbot", "dast-help", "Like so.", root["id"]))
            server.run(fake.add_reaction("bob", root["id"], "eyes"))
            uploaded = requests.post(
                server.url + "/api/v4/files",
                headers={"Authorization": f"Bearer {fake.token('dastbot')}"},
                data={"channel_id": fake.channel_id("dast-help")},
                files={"files": ("notes.txt", b"some notes", "text/plain")},
                timeout=5,
            )
            file_id = uploaded.json()["file_infos"][0]["id"]
            command_url = f"http://127.0.0.1:{endpoint.server_address[1]}/dast"
            yield World(fake, server.url, command_url, root, reply, file_id)
    finally:
        endpoint.shutdown()
        endpoint.server_close()


@dataclass(frozen=True)
class Case:
    method: str
    spec_path: str
    request: Callable[[World], Any]
    status: int


def _post_with_extras(w: World) -> Any:
    props = {
        "attachments": [
            {
                "text": "Did this help?",
                "actions": [
                    {
                        "id": "yes",
                        "name": "Yes",
                        "integration": {"url": w.command_url, "context": {"q": 1}},
                    }
                ],
            }
        ]
    }
    body = {
        "channel_id": w.fake.channel_id("dast-help"),
        "message": "with extras",
        "root_id": w.root["id"],
        "props": props,
    }
    return w.call("POST", "/api/v4/posts", json=body)


def _delete_fresh_post(w: World) -> Any:
    body = {"channel_id": w.fake.channel_id("dast-help"), "message": "to delete"}
    post = w.call("POST", "/api/v4/posts", json=body).json()
    return w.call("DELETE", f"/api/v4/posts/{post['id']}", json={})


def _execute(w: World) -> Any:
    register = {"team_id": w.fake.team_id(), "trigger": "speccheck", "url": w.command_url}
    if not any(c.trigger == "speccheck" for c in w.fake.state.commands.values()):
        assert w.call("POST", "/api/v4/commands", json=register).status_code == 201
    body = {"channel_id": w.fake.channel_id("dast-help"), "command": "/speccheck status"}
    return w.call("POST", "/api/v4/commands/execute", "alice", json=body)


def _help(w: World) -> str:
    return w.fake.channel_id("dast-help")


CASES = {
    "users/me": Case(
        "get", "/api/v4/users/{user_id}", lambda w: w.call("GET", "/api/v4/users/me", json={}), 200
    ),
    "users/{id}": Case(
        "get",
        "/api/v4/users/{user_id}",
        lambda w: w.call("GET", f"/api/v4/users/{w.fake.user_id('alice')}"),
        200,
    ),
    "users/username": Case(
        "get",
        "/api/v4/users/username/{username}",
        lambda w: w.call("GET", "/api/v4/users/username/bob"),
        200,
    ),
    "users/ids": Case(
        "post",
        "/api/v4/users/ids",
        lambda w: w.call("POST", "/api/v4/users/ids", json=[w.fake.user_id("carol")]),
        200,
    ),
    "channel by name": Case(
        "get",
        "/api/v4/teams/name/{team_name}/channels/name/{channel_name}",
        lambda w: w.call("GET", "/api/v4/teams/name/atlas/channels/name/dast-coordinators"),
        200,
    ),
    "channel by id": Case(
        "get",
        "/api/v4/channels/{channel_id}",
        lambda w: w.call("GET", f"/api/v4/channels/{_help(w)}"),
        200,
    ),
    "channels/direct": Case(
        "post",
        "/api/v4/channels/direct",
        lambda w: w.call(
            "POST",
            "/api/v4/channels/direct",
            json=[w.fake.user_id("dastbot"), w.fake.user_id("bob")],
        ),
        201,
    ),
    "create post": Case("post", "/api/v4/posts", _post_with_extras, 201),
    "get post": Case(
        "get",
        "/api/v4/posts/{post_id}",
        lambda w: w.call("GET", f"/api/v4/posts/{w.root['id']}"),
        200,
    ),
    "patch post": Case(
        "put",
        "/api/v4/posts/{post_id}/patch",
        lambda w: w.call(
            "PUT", f"/api/v4/posts/{w.reply['id']}/patch", json={"message": "Like so!"}
        ),
        200,
    ),
    "delete post": Case("delete", "/api/v4/posts/{post_id}", _delete_fresh_post, 200),
    "thread": Case(
        "get",
        "/api/v4/posts/{post_id}/thread",
        lambda w: w.call("GET", f"/api/v4/posts/{w.reply['id']}/thread"),
        200,
    ),
    "channel posts since": Case(
        "get",
        "/api/v4/channels/{channel_id}/posts",
        lambda w: w.call(
            "GET", f"/api/v4/channels/{_help(w)}/posts", params={"since": w.root["create_at"] - 1}
        ),
        200,
    ),
    "add reaction": Case(
        "post",
        "/api/v4/reactions",
        lambda w: w.call(
            "POST",
            "/api/v4/reactions",
            json={
                "user_id": w.fake.user_id("dastbot"),
                "post_id": w.root["id"],
                "emoji_name": "eyes",
            },
        ),
        200,
    ),
    "list reactions": Case(
        "get",
        "/api/v4/posts/{post_id}/reactions",
        lambda w: w.call("GET", f"/api/v4/posts/{w.root['id']}/reactions"),
        200,
    ),
    "remove reaction": Case(
        "delete",
        "/api/v4/users/{user_id}/posts/{post_id}/reactions/{emoji_name}",
        lambda w: w.call(
            "DELETE", f"/api/v4/users/me/posts/{w.root['id']}/reactions/eyes", json={}
        ),
        200,
    ),
    "upload file": Case(
        "post",
        "/api/v4/files",
        lambda w: w.call(
            "POST",
            "/api/v4/files",
            data={"channel_id": _help(w)},
            files={"files": ("a.log", b"x" * 10, "text/plain")},
        ),
        201,
    ),
    "file info": Case(
        "get",
        "/api/v4/files/{file_id}/info",
        lambda w: w.call("GET", f"/api/v4/files/{w.file_id}/info"),
        200,
    ),
    "commands execute": Case("post", "/api/v4/commands/execute", _execute, 200),
    "no token": Case(
        "get", "/api/v4/users/{user_id}", lambda w: w.call("GET", "/api/v4/users/me", None), 401
    ),
    "unknown user": Case(
        "get",
        "/api/v4/users/username/{username}",
        lambda w: w.call("GET", "/api/v4/users/username/zed"),
        404,
    ),
    "reply to a reply": Case(
        "post",
        "/api/v4/posts",
        lambda w: w.call(
            "POST",
            "/api/v4/posts",
            json={"channel_id": _help(w), "message": "x", "root_id": w.reply["id"]},
        ),
        400,
    ),
    "not a member": Case(
        "post",
        "/api/v4/posts",
        lambda w: w.call(
            "POST",
            "/api/v4/posts",
            json={"channel_id": w.fake.dm_channel_id("alice", "bob"), "message": "x"},
        ),
        403,
    ),
}


def response_schema(spec: JSONDict, case: Case, status: int) -> JSONDict:
    operation = spec["paths"][case.spec_path][case.method]
    responses = operation["responses"]
    code = str(status)
    if code not in responses:
        code = STATUS_DIFFERENCES.get((case.method, case.spec_path, status), "")
    assert code in responses, (
        f"{case.method.upper()} {case.spec_path}: status {status} is not documented "
        f"(documented: {sorted(responses)})"
    )
    _, documented = SchemaChecker(spec).resolve(responses[code])
    schema: JSONDict = documented["content"]["application/json"]["schema"]
    return schema


@pytest.mark.parametrize("name", list(CASES))
def test_endpoint_matches_spec(spec: JSONDict, world: World, name: str) -> None:
    case = CASES[name]
    response = case.request(world)
    assert response.status_code == case.status, response.text
    schema = response_schema(spec, case, response.status_code)
    assert response.headers["Content-Type"] == "application/json"
    problems = SchemaChecker(spec).errors(response.json(), schema)
    assert not problems, "\n".join(problems)


def test_team_matches_schema(spec: JSONDict, world: World) -> None:
    team = world.call("GET", "/api/v4/teams/name/atlas").json()
    checker = SchemaChecker(spec)
    assert not checker.errors(team, {"$ref": "#/components/schemas/Team"})


def test_websocket_post_matches_post_schema(spec: JSONDict, world: World) -> None:
    fake = world.fake
    url = world.url.replace("http", "ws", 1) + "/api/v4/websocket"
    with ws_connect(url, open_timeout=5) as ws:
        challenge = {
            "seq": 1,
            "action": "authentication_challenge",
            "data": {"token": fake.token("carol")},
        }
        ws.send(json.dumps(challenge))
        first = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
        assert {"status": "OK", "seq_reply": 1} in first
        requests.post(
            world.url + "/api/v4/posts",
            headers={"Authorization": f"Bearer {fake.token('alice')}"},
            json={"channel_id": fake.channel_id("dast-help"), "message": "hi @carol"},
            timeout=5,
        )
        event = json.loads(ws.recv(timeout=5))
    assert event["event"] == "posted"
    post = json.loads(event["data"]["post"])
    problems = SchemaChecker(spec).errors(post, {"$ref": "#/components/schemas/Post"})
    assert not problems, "\n".join(problems)


def test_checker_catches_type_and_missing_properties(spec: JSONDict) -> None:
    checker = SchemaChecker(spec)
    user_ref = {"$ref": "#/components/schemas/User"}
    assert any("lacks" in p for p in checker.errors({"id": "x"}, user_ref))
    reaction_ref = {"$ref": "#/components/schemas/Reaction"}
    wrong = {"user_id": "u", "post_id": "p", "emoji_name": "e", "create_at": "yesterday"}
    assert any("expected integer" in p for p in checker.errors(wrong, reaction_ref))
    assert snake("IconURL") == "icon_url" and snake("ResponseType") == "response_type"
