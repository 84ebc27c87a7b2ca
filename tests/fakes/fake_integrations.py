"""Outgoing HTTP of the fake Mattermost server: slash commands and interactive buttons.

Owns: ``POST /commands/execute`` (the form POST to the command URL with ``Authorization: Token``,
then the command response turned into posts or ephemeral messages), the ``response_url`` hooks,
and button clicks (the JSON POST to the action's integration URL, then ``update`` and
``ephemeral_text``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.parse

import aiohttp

from .fake_model import (
    JSON,
    Channel,
    Command,
    FakeAppError,
    Post,
    Team,
    User,
    bad_param,
)
from .fake_state import FakeState

MAX_INTEGRATION_RESPONSE = 1024 * 1024
"""Bytes of a command response Mattermost reads (``MaxIntegrationResponseSize``); the rest is cut
off, so a longer JSON body fails to parse."""
_USER_MENTION = re.compile(r"@([a-z0-9][a-z0-9._-]*)")
_CHANNEL_MENTION = re.compile(r"~([a-z0-9][a-z0-9_-]*)")


class Integrations:
    def __init__(self, state: FakeState, *, timeout: float = 30.0) -> None:
        self._state = state
        self.timeout = timeout
        self.base_url = ""
        self._session: aiohttp.ClientSession | None = None
        self.slash_root_id = False
        """The server generation: up to v10.x the slash payload has no ``root_id`` even in a
        thread; newer servers send it when the command runs in a thread."""

    async def start(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _trigger_id(self, user: User) -> str:
        raw = f"{self._state.new_id()}:{user.id}:{self._state.now()}"
        return base64.b64encode(raw.encode()).decode()

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> tuple[int, str, bytes]:
        if self._session is None:
            raise RuntimeError("the fake server is not running")
        async with (
            asyncio.timeout(self.timeout),
            self._session.request(method, url, data=body, params=params, headers=headers) as resp,
        ):
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

    # --------------------------------------------------------- slash commands

    async def execute(self, user: User, body: JSON) -> JSON:
        line = body.get("command")
        if not isinstance(line, str) or not line.startswith("/") or len(line) < 2:
            raise bad_param("command")
        channel = self._state.member_channel(user, body.get("channel_id"))
        team = self._command_team(user, channel, body.get("team_id"))
        word, _, text = line.partition(" ")
        trigger = word[1:].lower()
        command = self._state.find_command(team.id, trigger)
        if command is None:
            raise FakeAppError(
                404,
                "api.command.execute_command.not_found.app_error",
                f"Command with a trigger of '{trigger}' not found.",
            )
        root_id = body.get("root_id") or ""
        if not isinstance(root_id, str):
            raise bad_param("root_id")
        hook = self._state.new_hook(command, user, channel, root_id)
        trigger_id = self._trigger_id(user)
        fields = [
            ("channel_id", channel.id),
            ("channel_name", channel.name),
            ("command", "/" + trigger),
            ("response_url", f"{self.base_url}/hooks/commands/{hook.id}"),
            ("team_domain", team.name),
            ("team_id", team.id),
            ("text", text),
            ("token", command.token),
            ("trigger_id", trigger_id),
            ("user_id", user.id),
            ("user_name", user.username),
        ]
        if self.slash_root_id and root_id:
            fields.append(("root_id", root_id))
        fields += self._mention_fields(text, team)
        headers = {"Authorization": f"Token {command.token}", "Accept": "application/json"}
        try:
            if command.method == "G":
                status, ctype, raw = await self._send(
                    "GET", command.url, headers=headers, params=fields
                )
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                form = urllib.parse.urlencode(fields).encode()
                status, ctype, raw = await self._send(
                    "POST", command.url, headers=headers, body=form
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._command_failed(trigger, repr(exc)) from exc
        if status != 200:
            raise self._command_failed(trigger, f"status {status}: {raw[:200]!r}")
        raw = raw[:MAX_INTEGRATION_RESPONSE]
        response: JSON
        if ctype.startswith("application/json"):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError as exc:
                raise self._command_failed(trigger, "invalid JSON") from exc
            response = parsed if isinstance(parsed, dict) else {}
        else:
            response = {"text": raw.decode("utf-8", "replace")}
        response.setdefault("response_type", "ephemeral")
        self.apply_command_response(response, command, user, channel, root_id, "command")
        return response | {"trigger_id": trigger_id}

    @staticmethod
    def _post_failed(trigger: str) -> FakeAppError:
        return FakeAppError(
            500,
            "api.command.execute_command.create_post_failed.app_error",
            f"Command '{trigger}' failed to post response. Please contact your System "
            "Administrator.",
        )

    def _command_team(self, user: User, channel: Channel, team_id: object) -> Team:
        if channel.team_id:
            return self._state.team(channel.team_id)
        if isinstance(team_id, str) and team_id in self._state.teams:
            return self._state.teams[team_id]
        for team in self._state.teams.values():
            if user.id in team.members:
                return team
        raise bad_param("team_id")

    def _mention_fields(self, text: str, team: Team) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        for name in dict.fromkeys(_USER_MENTION.findall(text.lower())):
            user = next((u for u in self._state.users.values() if u.username == name), None)
            if user is not None:
                fields += [("user_mentions", name), ("user_mentions_ids", user.id)]
        for name in dict.fromkeys(_CHANNEL_MENTION.findall(text.lower())):
            channel = next(
                (
                    c
                    for c in self._state.channels.values()
                    if c.team_id == team.id and c.name == name
                ),
                None,
            )
            if channel is not None:
                fields += [("channel_mentions", name), ("channel_mentions_ids", channel.id)]
        return fields

    @staticmethod
    def _command_failed(trigger: str, detail: str) -> FakeAppError:
        return FakeAppError(
            500,
            "api.command.execute_command.failed_resp.app_error",
            f"Command with a trigger of '{trigger}' returned an error.",
            detail,
        )

    def apply_command_response(
        self,
        response: JSON,
        command: Command,
        user: User,
        channel: Channel,
        root_id: str,
        source: str,
    ) -> None:
        """Turn a command response (and its ``extra_responses``) into posts.

        As in Mattermost, ``in_channel`` posts belong to the invoking user and carry
        ``props.from_webhook: "true"``; ephemeral ones are shown to that user only. As in
        Mattermost's ``HandleCommandResponse`` (server/channels/app/command.go), every part is
        tried, and when any ``in_channel`` part cannot be posted (e.g. its text is over the post
        limit of 16,383 runes: ``CreatePostMissingChannel`` validates it) the command fails with
        "failed to post response" (500); the other parts stay posted. Ephemeral parts are not
        validated by the server (``SendEphemeralPost``); they are recorded as sent.
        """
        extras = response.get("extra_responses") or []
        parts = [response] + [r for r in extras if isinstance(r, dict)]
        failed = False
        for part in parts:
            text = part.get("text") or ""
            attachments = part.get("attachments")
            props = dict(part["props"]) if isinstance(part.get("props"), dict) else {}
            if attachments:
                props["attachments"] = attachments
            if not text and not attachments:
                continue
            target = channel
            wanted = part.get("channel_id")
            if isinstance(wanted, str) and wanted and wanted != channel.id:
                target = self._state.member_channel(user, wanted)
            if part.get("response_type") == "in_channel":
                override = command.username or str(part.get("username") or "")
                try:
                    self._state.create_post(
                        user,
                        {
                            "channel_id": target.id,
                            "message": str(text),
                            "root_id": root_id,
                            "props": props,
                        },
                        from_webhook=True,
                        override_username=override,
                    )
                except FakeAppError:
                    failed = True
            else:
                self._state.add_ephemeral(
                    recipient=user,
                    sender_id=user.id,
                    channel=target,
                    root_id=root_id,
                    message=str(text),
                    props=self._state.checked_props(props),
                    source=source,
                )
        if failed:
            raise self._post_failed(command.trigger)

    def use_response_url(self, hook_id: str, response: JSON) -> None:
        hook = self._state.use_hook(hook_id)
        command = self._state.commands[hook.command_id]
        user = self._state.users[hook.user_id]
        channel = self._state.channels[hook.channel_id]
        response.setdefault("response_type", "ephemeral")
        self.apply_command_response(response, command, user, channel, hook.root_id, "response_url")

    # ------------------------------------------------------------ buttons

    @staticmethod
    def find_action(post: Post, action_id: str) -> JSON | None:
        for attachment in post.props.get("attachments") or []:
            if not isinstance(attachment, dict):
                continue
            for action in attachment.get("actions") or []:
                if isinstance(action, dict) and action.get("id") == action_id:
                    return action
        return None

    async def click(
        self, user: User, post_id: str, action_id: str, selected_option: str = ""
    ) -> tuple[JSON, str]:
        """Press a button as ``user``; returns the integration's reply and the trigger id."""
        post = self._state.get_post(user, post_id)
        action = self.find_action(post, action_id)
        if action is None:
            raise FakeAppError(404, "api.post.do_action.action_id.app_error", "Invalid action id.")
        integration = action.get("integration")
        if not isinstance(integration, dict):
            integration = {}
        url = integration.get("url")
        if not isinstance(url, str) or not url:
            raise FakeAppError(
                400, "api.post.do_action.action_integration.app_error", "Action has no URL."
            )
        context = integration.get("context")
        context = dict(context) if isinstance(context, dict) else {}
        if selected_option:
            context["selected_option"] = selected_option
        channel = self._state.channels[post.channel_id]
        team = self._state.teams.get(channel.team_id)
        trigger_id = self._trigger_id(user)
        payload: JSON = {
            "user_id": user.id,
            "user_name": user.username,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "team_id": channel.team_id,
            "team_domain": team.name if team else "",
            "post_id": post.id,
            "trigger_id": trigger_id,
            "type": str(action.get("type") or "button"),
            "data_source": str(action.get("data_source") or ""),
            "context": context,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            status, _, raw = await self._send(
                "POST", url, headers=headers, body=json.dumps(payload).encode()
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._action_failed(repr(exc)) from exc
        if status != 200:
            raise self._action_failed(f"status {status}: {raw[:200]!r}")
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise self._action_failed("invalid JSON") from exc
        reply: JSON = parsed if isinstance(parsed, dict) else {}
        update = reply.get("update")
        if isinstance(update, dict):
            self._state.apply_action_update(post, update)
        ephemeral = reply.get("ephemeral_text")
        if isinstance(ephemeral, str) and ephemeral:
            self._state.add_ephemeral(
                recipient=user,
                sender_id=post.user_id,
                channel=channel,
                root_id=post.root_id or post.id,
                message=ephemeral,
                props={},
                source="action",
            )
        return reply, trigger_id

    @staticmethod
    def _action_failed(detail: str) -> FakeAppError:
        return FakeAppError(
            400,
            "api.post.do_action.action_integration.app_error",
            "Action integration error.",
            detail,
        )
