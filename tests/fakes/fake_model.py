"""Entities of the fake Mattermost server and the JSON shapes the real server gives them.

Owns: id and token generation, the AppError exception, and one dataclass per stored object
(user, team, channel, post, reaction, file, slash command, command response URL, ephemeral post).
It holds no behaviour beyond rendering; the rules live in ``fake_state``.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

SERVER_VERSION = "9.11.0"

# Mattermost ids are a base32 uuid in this alphabet: 26 lowercase alphanumerics.
_ID_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def new_id(rng: random.Random) -> str:
    return "".join(rng.choice(_ID_ALPHABET) for _ in range(26))


def dumps(value: object) -> str:
    """Compact JSON, as the Go server writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class FakeAppError(Exception):
    """A Mattermost AppError: raised by the state, rendered as the error body by the server."""

    def __init__(self, status: int, error_id: str, message: str, detailed_error: str = "") -> None:
        super().__init__(f"{status} {error_id}: {message}")
        self.status = status
        self.error_id = error_id
        self.message = message
        self.detailed_error = detailed_error

    def to_json(self, request_id: str) -> JSON:
        return {
            "id": self.error_id,
            "message": self.message,
            "detailed_error": self.detailed_error,
            "request_id": request_id,
            "status_code": self.status,
        }


def forbidden() -> FakeAppError:
    return FakeAppError(
        403, "api.context.permissions.app_error", "You do not have the appropriate permissions."
    )


def bad_param(name: str) -> FakeAppError:
    return FakeAppError(
        400, "api.context.invalid_param.app_error", f"Invalid or missing {name} parameter."
    )


def not_found(what: str) -> FakeAppError:
    return FakeAppError(404, f"app.{what}.get.app_error", f"Unable to find the {what}.")


def automatic_timezone() -> dict[str, str]:
    return {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}


@dataclass
class User:
    id: str
    username: str
    token: str
    create_at: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str = ""
    nickname: str = ""
    roles: str = "system_user"
    timezone: dict[str, str] = field(default_factory=automatic_timezone)
    update_at: int = 0

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"

    def to_json(self) -> JSON:
        body: JSON = {
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at or self.create_at,
            "delete_at": 0,
            "username": self.username,
            "auth_data": "",
            "auth_service": "",
            "email": self.email,
            "email_verified": True,
            "nickname": self.nickname,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "position": "",
            "roles": self.roles,
            "props": {},
            "notify_props": {
                "channel": "true",
                "comments": "never",
                "desktop": "mention",
                "desktop_sound": "true",
                "email": "true",
                "first_name": "false",
                "mention_keys": "",
                "push": "mention",
                "push_status": "away",
            },
            "last_password_update": self.create_at,
            "last_picture_update": 0,
            "failed_attempts": 0,
            "locale": "en",
            "timezone": dict(self.timezone),
            "mfa_active": False,
            "disable_welcome_email": False,
        }
        if self.is_bot:  # the server omits is_bot for people
            body["is_bot"] = True
            body["bot_description"] = ""
            body["bot_last_icon_update"] = 0
        return body


@dataclass
class Team:
    id: str
    name: str
    display_name: str
    create_at: int
    members: set[str] = field(default_factory=set)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "display_name": self.display_name,
            "name": self.name,
            "description": "",
            "email": "",
            "type": "O",
            "company_name": "",
            "allowed_domains": "",
            "invite_id": "",
            "allow_open_invite": False,
            "scheme_id": "",
            "group_constrained": False,
        }


@dataclass
class Channel:
    id: str
    team_id: str
    name: str
    display_name: str
    type: str
    create_at: int
    creator_id: str = ""
    members: set[str] = field(default_factory=set)
    last_post_at: int = 0
    total_msg_count: int = 0
    total_msg_count_root: int = 0
    last_root_post_at: int = 0

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "team_id": self.team_id,
            "type": self.type,
            "display_name": self.display_name,
            "name": self.name,
            "header": "",
            "purpose": "",
            "last_post_at": self.last_post_at,
            "last_root_post_at": self.last_root_post_at,
            "total_msg_count": self.total_msg_count,
            "total_msg_count_root": self.total_msg_count_root,
            "extra_update_at": 0,
            "creator_id": self.creator_id,
            "scheme_id": "",
            "group_constrained": False,
            "shared": False,
        }


@dataclass
class Reaction:
    user_id: str
    post_id: str
    emoji_name: str
    channel_id: str
    create_at: int

    def to_json(self) -> JSON:
        return {
            "user_id": self.user_id,
            "post_id": self.post_id,
            "emoji_name": self.emoji_name,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "remote_id": "",
            "channel_id": self.channel_id,
        }


@dataclass
class FileInfo:
    id: str
    user_id: str
    channel_id: str
    name: str
    mime_type: str
    data: bytes
    create_at: int
    post_id: str = ""

    def to_json(self) -> JSON:
        extension = self.name.rsplit(".", 1)[1].lower() if "." in self.name else ""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "post_id": self.post_id,
            "channel_id": self.channel_id,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "name": self.name,
            "extension": extension,
            "size": len(self.data),
            "mime_type": self.mime_type,
            "has_preview_image": False,
            "remote_id": "",
            "archived": False,
        }


@dataclass
class Post:
    """A stored post. ``props`` is the server-side truth, action integrations included."""

    id: str
    user_id: str
    channel_id: str
    message: str
    create_at: int
    root_id: str = ""
    props: JSON = field(default_factory=dict)
    file_ids: list[str] = field(default_factory=list)
    type: str = ""
    pending_post_id: str = ""
    update_at: int = 0
    edit_at: int = 0
    delete_at: int = 0
    is_pinned: bool = False


def strip_integrations(props: JSON) -> JSON:
    """A deep copy of post props without ``integration`` in any attachment action."""
    clean = copy.deepcopy(props)
    attachments = clean.get("attachments")
    if isinstance(attachments, list):
        for attachment in attachments:
            actions = attachment.get("actions") if isinstance(attachment, dict) else None
            if isinstance(actions, list):
                for action in actions:
                    if isinstance(action, dict):
                        action.pop("integration", None)
    return clean


@dataclass
class Command:
    id: str
    token: str
    team_id: str
    trigger: str
    url: str
    method: str
    creator_id: str
    create_at: int
    username: str = ""
    icon_url: str = ""
    auto_complete: bool = False
    auto_complete_desc: str = ""
    auto_complete_hint: str = ""
    display_name: str = ""
    description: str = ""

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "token": self.token,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "creator_id": self.creator_id,
            "team_id": self.team_id,
            "trigger": self.trigger,
            "method": self.method,
            "username": self.username,
            "icon_url": self.icon_url,
            "auto_complete": self.auto_complete,
            "auto_complete_desc": self.auto_complete_desc,
            "auto_complete_hint": self.auto_complete_hint,
            "display_name": self.display_name,
            "description": self.description,
            "url": self.url,
            "plugin_id": "",
        }


@dataclass
class CommandHook:
    """A slash command's ``response_url``: five uses within thirty minutes."""

    id: str
    command_id: str
    user_id: str
    channel_id: str
    root_id: str
    create_at: int
    uses: int = 0


@dataclass(frozen=True)
class EphemeralPost:
    """A message only ``recipient_id`` sees; the fake records it for tests."""

    id: str
    recipient_id: str
    user_id: str
    channel_id: str
    root_id: str
    message: str
    props: JSON
    create_at: int
    source: str  # "command", "response_url" or "action"

    def to_post_json(self) -> JSON:
        return {
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "edit_at": 0,
            "delete_at": 0,
            "is_pinned": False,
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "root_id": self.root_id,
            "original_id": "",
            "message": self.message,
            "type": "system_ephemeral",
            "props": strip_integrations(self.props),
            "hashtags": "",
            "pending_post_id": "",
            "reply_count": 0,
            "metadata": {},
        }


@dataclass
class Event:
    """A websocket event for the members in ``recipients``.

    ``per_user`` adds keys to ``data`` for single recipients (``mentions`` on ``posted``).
    """

    event: str
    data: JSON
    recipients: frozenset[str]
    channel_id: str = ""
    team_id: str = ""
    user_id: str = ""
    per_user: dict[str, JSON] = field(default_factory=dict)

    def broadcast(self) -> JSON:
        return {
            "omit_users": None,
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "team_id": self.team_id,
            "connection_id": "",
            "omit_connection_id": "",
        }
