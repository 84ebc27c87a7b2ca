"""The fake Mattermost server's data and rules, free of any network code.

Owns: the seeded team, channels and users; posts, threads, reactions, files, slash commands and
their response URLs, ephemeral posts; the validation the real server applies (membership,
``root_id`` must be a thread root, alphanumeric action ids, ...); and the websocket events each
change produces, handed to a ``publish`` callback. Errors are raised as ``FakeAppError``.
"""

from __future__ import annotations

import copy
import random
import re
import time
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from dastbot.kernel.clock import Clock

from .fake_model import (
    JSON,
    Channel,
    Command,
    CommandHook,
    EphemeralPost,
    Event,
    FakeAppError,
    FileInfo,
    Post,
    Reaction,
    Team,
    User,
    bad_param,
    dumps,
    forbidden,
    new_id,
    not_found,
    strip_integrations,
)

MAX_MESSAGE_RUNES = 16383
HOOK_MAX_USES = 5
HOOK_LIFETIME_MS = 30 * 60 * 1000

_ACTION_ID = re.compile(r"[A-Za-z0-9]+")
_EMOJI_NAME = re.compile(r"[a-zA-Z0-9+_-]{1,64}")
_MENTION = re.compile(r"@([a-z0-9][a-z0-9._-]*)")
_TRIGGER = re.compile(r"[^\s/][^\s]*")
_CHANNEL_WIDE = frozenset({"channel", "all", "here"})
# Props a client may not drop when it edits a post.
_SERVER_PROPS = ("from_bot", "from_webhook", "override_username", "override_icon_url")


def invalid_root_id() -> FakeAppError:
    return FakeAppError(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")


class FakeState:
    """Everything the fake server stores. Single-threaded: call it from the server's loop."""

    def __init__(
        self,
        *,
        rng: random.Random,
        clock: Clock | None = None,
        publish: Callable[[Event], None] | None = None,
        changed: Callable[[], None] | None = None,
    ) -> None:
        self.rng = rng
        self._clock = clock
        self._publish = publish or (lambda event: None)
        self._changed = changed or (lambda: None)
        self._last_ms = 0
        self.users: dict[str, User] = {}
        self.teams: dict[str, Team] = {}
        self.channels: dict[str, Channel] = {}
        self.posts: dict[str, Post] = {}  # insertion order is creation order
        self.reactions: dict[str, list[Reaction]] = {}
        self.files: dict[str, FileInfo] = {}
        self.commands: dict[str, Command] = {}
        self.hooks: dict[str, CommandHook] = {}
        self.ephemerals: list[EphemeralPost] = []
        self.post_log: list[str] = []  # ids of posts as they are created or changed
        self._replies: dict[str, list[str]] = {}
        self._channel_posts: dict[str, list[str]] = {}

    # ----------------------------------------------------------------- basics

    def now(self) -> int:
        """Epoch milliseconds, strictly increasing so that every post has its own instant."""
        if self._clock is not None:
            ms = int(self._clock.now().timestamp() * 1000)
        else:
            ms = time.time_ns() // 1_000_000
        self._last_ms = max(ms, self._last_ms + 1)
        return self._last_ms

    def new_id(self) -> str:
        return new_id(self.rng)

    def _touch(self, post_id: str) -> None:
        self.post_log.append(post_id)
        self._changed()

    # ---------------------------------------------------------------- seeding

    def add_team(self, name: str, display_name: str) -> Team:
        team = Team(id=self.new_id(), name=name, display_name=display_name, create_at=self.now())
        self.teams[team.id] = team
        return team

    def add_user(self, username: str, *, is_bot: bool = False, first_name: str = "") -> User:
        if any(u.username == username for u in self.users.values()):
            raise ValueError(f"user {username!r} exists")
        user = User(
            id=self.new_id(),
            username=username,
            token=self.new_id(),
            create_at=self.now(),
            is_bot=is_bot,
            first_name=first_name or username.capitalize(),
        )
        self.users[user.id] = user
        return user

    def rename_user(self, user: User, new_name: str) -> None:
        """Change a username, as a user or an admin does in Mattermost: the old name is free."""
        if any(u.username == new_name for u in self.users.values()):
            raise ValueError(f"user {new_name!r} exists")
        user.username = new_name
        user.update_at = self.now()

    def add_channel(
        self, team: Team, name: str, display_name: str, channel_type: str = "O"
    ) -> Channel:
        channel = Channel(
            id=self.new_id(),
            team_id=team.id,
            name=name,
            display_name=display_name,
            type=channel_type,
            create_at=self.now(),
        )
        self.channels[channel.id] = channel
        return channel

    def join(self, user: User, channel: Channel) -> None:
        if channel.team_id:
            self.teams[channel.team_id].members.add(user.id)
        channel.members.add(user.id)

    def seed_default(self) -> None:
        """Team ``atlas``, channels ``dast-help`` and ``dast-coordinators``, four members."""
        team = self.add_team("atlas", "ATLAS")
        channels = [
            self.add_channel(team, "dast-help", "DAST help"),
            self.add_channel(team, "dast-coordinators", "DAST coordinators"),
        ]
        people = [self.add_user("dastbot", is_bot=True, first_name="DAST bot")]
        people += [self.add_user(name) for name in ("alice", "bob", "carol")]
        for user in people:
            team.members.add(user.id)
            for channel in channels:
                self.join(user, channel)

    def set_timezone(self, user: User, tz_name: str) -> None:
        zoneinfo.ZoneInfo(tz_name)  # raises for unknown names
        user.timezone = {
            "automaticTimezone": "",
            "manualTimezone": tz_name,
            "useAutomaticTimezone": "false",
        }
        user.update_at = self.now()

    # ---------------------------------------------------------------- lookups

    def user_by_token(self, token: str) -> User | None:
        return next((u for u in self.users.values() if u.token == token), None)

    def user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise FakeAppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return user

    def user_named(self, username: str) -> User:
        for user in self.users.values():
            if user.username == username:
                return user
        raise FakeAppError(404, "app.user.missing_account.const", "Unable to find the user.")

    def team(self, team_id: str) -> Team:
        team = self.teams.get(team_id)
        if team is None:
            raise FakeAppError(404, "app.team.get.find.app_error", "Unable to find the team.")
        return team

    def team_named(self, name: str) -> Team:
        for team in self.teams.values():
            if team.name == name:
                return team
        raise FakeAppError(
            404, "app.team.get_by_name.missing.app_error", "Unable to find the team."
        )

    def channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise FakeAppError(404, "app.channel.get.existing.app_error", "Unable to find channel.")
        return channel

    def channel_named(self, team: Team, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.team_id == team.id and channel.name == name:
                return channel
        raise FakeAppError(404, "app.channel.get_by_name.missing.app_error", "Channel not found.")

    def can_read(self, user: User, channel: Channel) -> bool:
        if user.id in channel.members:
            return True
        team = self.teams.get(channel.team_id)
        return channel.type == "O" and team is not None and user.id in team.members

    def readable_channel(self, user: User, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None or not self.can_read(user, channel):
            raise forbidden()
        return channel

    def member_channel(self, user: User, channel_id: object) -> Channel:
        if not isinstance(channel_id, str) or not channel_id:
            raise bad_param("channel_id")
        channel = self.channels.get(channel_id)
        if channel is None or user.id not in channel.members:
            raise forbidden()
        return channel

    # ------------------------------------------------------------- DM channels

    def direct_channel(self, requester: User, user_ids: object) -> Channel:
        if (
            not isinstance(user_ids, list)
            or len(user_ids) != 2
            or not all(isinstance(u, str) for u in user_ids)
        ):
            raise bad_param("user_ids")
        for user_id in user_ids:
            if user_id not in self.users:
                raise FakeAppError(
                    400,
                    "api.channel.create_direct_channel.invalid_user.app_error",
                    "Invalid user ID for direct channel creation.",
                )
        if requester.id not in user_ids:
            raise forbidden()
        name = "__".join(sorted(user_ids))
        for channel in self.channels.values():
            if channel.type == "D" and channel.name == name:
                return channel
        channel = Channel(
            id=self.new_id(),
            team_id="",
            name=name,
            display_name="",
            type="D",
            create_at=self.now(),
            members=set(user_ids),
        )
        self.channels[channel.id] = channel
        return channel

    # ------------------------------------------------------------------ posts

    def create_post(
        self,
        user: User,
        body: JSON,
        *,
        from_webhook: bool = False,
        override_username: str = "",
    ) -> Post:
        channel = self.member_channel(user, body.get("channel_id"))
        message = body.get("message", "")
        if not isinstance(message, str):
            raise bad_param("message")
        if len(message) > MAX_MESSAGE_RUNES:
            raise FakeAppError(400, "model.post.is_valid.msg.app_error", "Invalid Message.")
        root_id = body.get("root_id") or ""
        if not isinstance(root_id, str):
            raise bad_param("root_id")
        if root_id:
            root = self.posts.get(root_id)
            if root is None or root.delete_at or root.root_id or root.channel_id != channel.id:
                raise invalid_root_id()
        props = self.checked_props(body.get("props"))
        if user.is_bot:
            props["from_bot"] = "true"
        if from_webhook:
            props["from_webhook"] = "true"
            if override_username:
                props["override_username"] = override_username
        pending = body.get("pending_post_id", "")
        now = self.now()
        post = Post(
            id=self.new_id(),
            user_id=user.id,
            channel_id=channel.id,
            message=message,
            create_at=now,
            update_at=now,
            root_id=root_id,
            props=props,
            file_ids=self._attach_files(user, channel, body.get("file_ids")),
            pending_post_id=pending if isinstance(pending, str) else "",
        )
        for file_id in post.file_ids:
            self.files[file_id].post_id = post.id
        self.posts[post.id] = post
        self._channel_posts.setdefault(channel.id, []).append(post.id)
        if root_id:
            self._replies.setdefault(root_id, []).append(post.id)
        else:
            channel.total_msg_count_root += 1
            channel.last_root_post_at = now
        channel.total_msg_count += 1
        channel.last_post_at = now
        self._publish_posted(post, user, channel)
        self._touch(post.id)
        return post

    def checked_props(self, raw: object) -> JSON:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise bad_param("props")
        props: JSON = copy.deepcopy(raw)
        attachments = props.get("attachments")
        if attachments is None:
            return props
        if not isinstance(attachments, list):
            raise bad_param("props.attachments")
        for attachment in attachments:
            if not isinstance(attachment, dict):
                raise bad_param("props.attachments")
            actions = attachment.get("actions") or []
            if not isinstance(actions, list):
                raise bad_param("props.attachments.actions")
            for action in actions:
                if not isinstance(action, dict):
                    raise bad_param("props.attachments.actions")
                action_id = action.get("id")
                if action_id in (None, ""):
                    action["id"] = self.new_id()  # the server fills in missing ids
                elif not isinstance(action_id, str) or not _ACTION_ID.fullmatch(action_id):
                    raise FakeAppError(
                        400,
                        "model.post.is_valid.action_id.app_error",
                        "Invalid action id: use letters and digits only.",
                        f"action id {action_id!r}",
                    )
        return props

    def _attach_files(self, user: User, channel: Channel, raw: object) -> list[str]:
        """The file ids the server keeps: the poster's own unattached uploads to this channel."""
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
            raise bad_param("file_ids")
        kept: list[str] = []
        for file_id in raw:
            info = self.files.get(file_id)
            if (
                info is not None
                and info.user_id == user.id
                and info.channel_id == channel.id
                and not info.post_id
                and file_id not in kept
            ):
                kept.append(file_id)
        return kept

    def _mentioned(self, post: Post, sender: User, channel: Channel) -> set[str]:
        others = channel.members - {sender.id}
        if channel.type == "D":
            return others
        words = {w.rstrip("._-") for w in _MENTION.findall(post.message.lower())}
        if words & _CHANNEL_WIDE:
            return set(others)
        return {uid for uid in others if self.users[uid].username in words}

    def _publish_posted(self, post: Post, sender: User, channel: Channel) -> None:
        data: JSON = {
            "channel_display_name": (
                f"@{sender.username}" if channel.type == "D" else channel.display_name
            ),
            "channel_name": channel.name,
            "channel_type": channel.type,
            "post": dumps(self.post_json(post)),
            "sender_name": f"@{sender.username}",
            "set_online": True,
            "team_id": channel.team_id,
        }
        if post.file_ids:
            data["otherFile"] = "true"
        per_user = {
            uid: {"mentions": dumps([uid])} for uid in self._mentioned(post, sender, channel)
        }
        self._publish(
            Event(
                "posted",
                data,
                frozenset(channel.members),
                channel_id=channel.id,
                per_user=per_user,
            )
        )

    def _publish_post_event(self, name: str, post: Post, extra: JSON | None = None) -> None:
        channel = self.channels[post.channel_id]
        data: JSON = {"post": dumps(self.post_json(post))}
        data.update(extra or {})
        self._publish(Event(name, data, frozenset(channel.members), channel_id=channel.id))

    def live_post(self, post_id: str) -> Post:
        post = self.posts.get(post_id)
        if post is None or post.delete_at:
            raise not_found("post")
        return post

    def get_post(self, user: User, post_id: str) -> Post:
        post = self.live_post(post_id)
        if not self.can_read(user, self.channels[post.channel_id]):
            raise forbidden()
        return post

    def update_post(self, actor: User | None, post_id: str, body: JSON, *, patch: bool) -> Post:
        """PUT /posts/{id} (``patch=False``: full replacement) or /patch; ``actor=None``
        is the server itself (an integration's ``update``)."""
        post = self.posts.get(post_id)
        if post is None or post.delete_at:
            raise forbidden()
        if actor is not None and actor.id != post.user_id:
            raise forbidden()
        if not patch and body.get("id", post_id) != post_id:
            raise bad_param("id")
        message = post.message
        if "message" in body or not patch:
            message = body.get("message", "")
            if not isinstance(message, str) or len(message) > MAX_MESSAGE_RUNES:
                raise bad_param("message")
        props = post.props
        if "props" in body or not patch:
            props = self.checked_props(body.get("props"))
            props.update({k: post.props[k] for k in _SERVER_PROPS if k in post.props})
        file_ids = post.file_ids
        if "file_ids" in body:
            wanted = body.get("file_ids")
            kept = [f for f in post.file_ids if isinstance(wanted, list) and f in wanted]
            author = self.users[post.user_id]
            file_ids = kept + self._attach_files(author, self.channels[post.channel_id], wanted)
        now = self.now()
        if message != post.message:
            post.message = message
            post.edit_at = now
        post.props = props
        for file_id in file_ids:
            self.files[file_id].post_id = post.id
        post.file_ids = file_ids
        if "is_pinned" in body:
            post.is_pinned = bool(body["is_pinned"])
        post.update_at = now
        self._publish_post_event("post_edited", post)
        self._touch(post.id)
        return post

    def apply_action_update(self, post: Post, update: JSON) -> Post:
        """An integration's ``update`` after a button click: message and attachments are
        replaced (missing means empty), the post's other props are kept."""
        props = {k: v for k, v in post.props.items() if k != "attachments"}
        new_props = update.get("props")
        if isinstance(new_props, dict):
            props.update({k: v for k, v in new_props.items() if k not in _SERVER_PROPS})
        return self.update_post(
            None, post.id, {"message": update.get("message", ""), "props": props}, patch=True
        )

    def delete_post(self, actor: User, post_id: str) -> Post:
        post = self.live_post(post_id)
        if actor.id != post.user_id and "system_admin" not in actor.roles:
            raise forbidden()
        now = self.now()
        post.delete_at = post.update_at = now
        if not post.root_id:
            for reply_id in self._replies.get(post.id, []):
                reply = self.posts[reply_id]
                if not reply.delete_at:
                    reply.delete_at = reply.update_at = now
        self._publish_post_event("post_deleted", post, {"delete_by": actor.id})
        self._touch(post.id)
        return post

    def thread(self, user: User, post_id: str) -> list[Post]:
        """Root and live replies, deliberately NOT in time order: clients must sort."""
        post = self.get_post(user, post_id)
        root = self.posts[post.root_id] if post.root_id else post
        posts = [root] + [
            self.posts[r] for r in self._replies.get(root.id, []) if not self.posts[r].delete_at
        ]
        by_time = sorted(posts, key=lambda p: p.create_at)
        shuffled = list(posts)
        self.rng.shuffle(shuffled)
        if len(shuffled) >= 3 and shuffled in (by_time, by_time[::-1]):
            shuffled = shuffled[1:] + shuffled[:1]
        elif len(shuffled) == 2 and shuffled == by_time:
            shuffled.reverse()
        return shuffled

    def channel_posts(
        self, user: User, channel_id: str, *, since: int | None, page: int, per_page: int
    ) -> JSON:
        channel = self.readable_channel(user, channel_id)
        ids = self._channel_posts.get(channel.id, [])
        has_next = False
        if since is not None:
            # Created, edited, reacted to or deleted after ``since``, plus the roots of any
            # such replies (deleted posts come back with ``delete_at`` set).
            chosen = {
                pid
                for pid in ids
                if self.posts[pid].update_at > since or self.posts[pid].edit_at > since
            }
            chosen |= {self.posts[p].root_id for p in chosen if self.posts[p].root_id}
            posts = [self.posts[p] for p in chosen]
        else:
            live = [self.posts[p] for p in reversed(ids) if not self.posts[p].delete_at]
            start = page * per_page
            posts = live[start : start + per_page]
            has_next = len(live) > start + per_page
        posts.sort(key=lambda p: p.create_at, reverse=True)
        return self.post_list(posts, has_next=has_next)

    def post_list(self, posts: Iterable[Post], *, has_next: bool = False) -> JSON:
        ordered = list(posts)
        return {
            "order": [p.id for p in ordered],
            "posts": {p.id: self.post_json(p) for p in ordered},
            "next_post_id": "",
            "prev_post_id": "",
            "has_next": has_next,
            "first_inaccessible_post_time": 0,
        }

    def post_json(self, post: Post, *, client: bool = True) -> JSON:
        """The Post as the server sends it; ``client=False`` keeps action integrations."""
        root_id = post.root_id or post.id
        replies = [self.posts[r] for r in self._replies.get(root_id, [])]
        live_replies = [r for r in replies if not r.delete_at]
        reactions = self.reactions.get(post.id, [])
        files = [self.files[f] for f in post.file_ids if f in self.files]
        metadata: JSON = {}
        if post.props.get("attachments"):
            metadata["embeds"] = [{"type": "message_attachment"}]
        if files:
            metadata["files"] = [f.to_json() for f in files]
        if reactions:
            metadata["reactions"] = [r.to_json() for r in reactions]
        body: JSON = {
            "id": post.id,
            "create_at": post.create_at,
            "update_at": post.update_at,
            "edit_at": post.edit_at,
            "delete_at": post.delete_at,
            "is_pinned": post.is_pinned,
            "user_id": post.user_id,
            "channel_id": post.channel_id,
            "root_id": post.root_id,
            "original_id": "",
            "message": post.message,
            "type": post.type,
            "props": strip_integrations(post.props) if client else copy.deepcopy(post.props),
            "hashtags": "",
            "pending_post_id": post.pending_post_id,
            "reply_count": len(live_replies),
            "last_reply_at": max((r.create_at for r in live_replies), default=0),
            "participants": None,
            "metadata": metadata,
        }
        if post.file_ids:
            body["file_ids"] = list(post.file_ids)
        if reactions:
            body["has_reactions"] = True
        return body

    # -------------------------------------------------------------- reactions

    def _reactable(self, user: User, post_id: object, emoji_name: object) -> tuple[Post, str]:
        if not isinstance(emoji_name, str) or not _EMOJI_NAME.fullmatch(emoji_name):
            raise bad_param("emoji_name")
        post = self.posts.get(post_id) if isinstance(post_id, str) else None
        if (
            post is None
            or post.delete_at
            or not self.can_read(user, self.channels[post.channel_id])
        ):
            raise forbidden()
        return post, emoji_name

    def add_reaction(self, user: User, post_id: object, emoji_name: object) -> Reaction:
        post, emoji = self._reactable(user, post_id, emoji_name)
        existing = self.reactions.setdefault(post.id, [])
        for reaction in existing:
            if reaction.user_id == user.id and reaction.emoji_name == emoji:
                return reaction
        now = self.now()
        reaction = Reaction(user.id, post.id, emoji, post.channel_id, now)
        existing.append(reaction)
        post.update_at = now
        self._publish_reaction("reaction_added", reaction)
        self._touch(post.id)
        return reaction

    def remove_reaction(self, user: User, post_id: object, emoji_name: object) -> None:
        post, emoji = self._reactable(user, post_id, emoji_name)
        existing = self.reactions.get(post.id, [])
        for reaction in existing:
            if reaction.user_id == user.id and reaction.emoji_name == emoji:
                existing.remove(reaction)
                post.update_at = self.now()
                self._publish_reaction("reaction_removed", reaction)
                self._touch(post.id)
                return

    def reactions_of(self, user: User, post_id: str) -> list[Reaction]:
        post = self.posts.get(post_id)
        if post is None or not self.can_read(user, self.channels[post.channel_id]):
            raise forbidden()
        return list(self.reactions.get(post_id, []))

    def _publish_reaction(self, name: str, reaction: Reaction) -> None:
        channel = self.channels[reaction.channel_id]
        self._publish(
            Event(
                name,
                {"reaction": dumps(reaction.to_json())},
                frozenset(channel.members),
                channel_id=channel.id,
            )
        )

    # ------------------------------------------------------------------ files

    def add_file(
        self, user: User, channel_id: str, name: str, mime_type: str, data: bytes
    ) -> FileInfo:
        channel = self.member_channel(user, channel_id)
        info = FileInfo(
            id=self.new_id(),
            user_id=user.id,
            channel_id=channel.id,
            name=name,
            mime_type=mime_type,
            data=data,
            create_at=self.now(),
        )
        self.files[info.id] = info
        return info

    def file(self, user: User, file_id: str) -> FileInfo:
        info = self.files.get(file_id)
        if info is None:
            raise FakeAppError(404, "app.file_info.get.app_error", "Unable to get the file info.")
        if not self.can_read(user, self.channels[info.channel_id]):
            raise forbidden()
        return info

    # --------------------------------------------------------- slash commands

    def add_command(self, user: User, body: JSON) -> Command:
        team = self.teams.get(str(body.get("team_id", "")))
        if team is None:
            raise bad_param("team_id")
        if user.id not in team.members:
            raise forbidden()
        trigger = body.get("trigger")
        if not isinstance(trigger, str) or not _TRIGGER.fullmatch(trigger) or len(trigger) > 128:
            raise FakeAppError(400, "model.command.is_valid.trigger.app_error", "Invalid trigger.")
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise FakeAppError(400, "model.command.is_valid.url.app_error", "Invalid URL.")
        method = body.get("method") or "P"
        if method not in ("P", "G"):
            raise FakeAppError(400, "model.command.is_valid.method.app_error", "Invalid method.")
        if self.find_command(team.id, trigger) is not None:
            raise FakeAppError(
                400, "api.command.duplicate_trigger.app_error", "This trigger word is already used."
            )
        token = body.get("token") or self.new_id()

        def text(key: str) -> str:
            value = body.get(key, "")
            return value if isinstance(value, str) else ""

        command = Command(
            id=self.new_id(),
            token=str(token),
            team_id=team.id,
            trigger=trigger,
            url=url,
            method=method,
            creator_id=user.id,
            create_at=self.now(),
            username=text("username"),
            icon_url=text("icon_url"),
            auto_complete=bool(body.get("auto_complete", False)),
            auto_complete_desc=text("auto_complete_desc"),
            auto_complete_hint=text("auto_complete_hint"),
            display_name=text("display_name"),
            description=text("description"),
        )
        self.commands[command.id] = command
        return command

    def find_command(self, team_id: str, trigger: str) -> Command | None:
        for command in self.commands.values():
            if command.team_id == team_id and command.trigger == trigger:
                return command
        return None

    def new_hook(self, command: Command, user: User, channel: Channel, root_id: str) -> CommandHook:
        hook = CommandHook(
            id=self.new_id(),
            command_id=command.id,
            user_id=user.id,
            channel_id=channel.id,
            root_id=root_id,
            create_at=self.now(),
        )
        self.hooks[hook.id] = hook
        return hook

    def use_hook(self, hook_id: str) -> CommandHook:
        hook = self.hooks.get(hook_id)
        if hook is None:
            raise FakeAppError(404, "app.command_webhook.get.missing", "Unable to get the webhook.")
        if hook.uses >= HOOK_MAX_USES or self.now() - hook.create_at > HOOK_LIFETIME_MS:
            raise FakeAppError(
                400, "app.command_webhook.try_use.invalid.app_error", "Invalid webhook."
            )
        hook.uses += 1
        return hook

    # -------------------------------------------------------------- ephemeral

    def add_ephemeral(
        self,
        *,
        recipient: User,
        sender_id: str,
        channel: Channel,
        root_id: str,
        message: str,
        props: JSON,
        source: str,
    ) -> EphemeralPost:
        post = EphemeralPost(
            id=self.new_id(),
            recipient_id=recipient.id,
            user_id=sender_id,
            channel_id=channel.id,
            root_id=root_id,
            message=message,
            props=copy.deepcopy(props),
            create_at=self.now(),
            source=source,
        )
        self.ephemerals.append(post)
        self._publish(
            Event(
                "ephemeral_message",
                {"post": dumps(post.to_post_json())},
                frozenset({recipient.id}),
                channel_id=channel.id,
                user_id=recipient.id,
            )
        )
        self._changed()
        return post

    def dump(self) -> dict[str, Any]:
        """A debugging snapshot (server-side truth: integrations included)."""
        return {
            "users": {u.username: u.id for u in self.users.values()},
            "channels": {c.id: c.name for c in self.channels.values()},
            "posts": [self.post_json(p, client=False) for p in self.posts.values()],
            "ephemeral": [
                {"recipient_id": e.recipient_id, "source": e.source} | e.to_post_json()
                for e in self.ephemerals
            ],
            "commands": [c.to_json() for c in self.commands.values()],
        }
