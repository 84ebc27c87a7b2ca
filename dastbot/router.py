"""Incoming post, reaction, click or command -> decision -> store -> chat. The one error boundary.

Every decision is recorded in the store, together with the messages it implies (the outbox), in one
transaction; only then are messages sent, and each is marked sent after. A crash in between
repeats at most the last send and never loses one; incoming post ids are deduplicated.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from datetime import datetime

from dastbot.answering.answers import (
    HELPED_BUTTON,
    NONE_FIT_BUTTON,
    NOT_HELPED_BUTTON,
    PICK_BUTTON,
    RESOLVE_BUTTON,
    TAKE_BUTTON,
    LiveKnowledge,
)
from dastbot.chat.base import Chat
from dastbot.conversation import Conversation
from dastbot.escalations import commands as escalation_commands
from dastbot.escalations.contacts import Contacts, load_contacts
from dastbot.escalations.desk import Desk
from dastbot.escalations.sites import SiteMap, load_sites
from dastbot.kernel.clock import Clock
from dastbot.kernel.commands import CommandContext, Registry, dispatch, split_args
from dastbot.kernel.config import Config
from dastbot.kernel.events import EventKind
from dastbot.kernel.logs import log_context
from dastbot.kernel.metrics import Metrics
from dastbot.kernel.models import (
    Button,
    Click,
    Command,
    CommandReply,
    OutMessage,
    Post,
    Reaction,
)
from dastbot.kernel.paths import data_file
from dastbot.outbox import commands as outbox_commands
from dastbot.outbox.sender import Sender
from dastbot.questions import commands as question_commands
from dastbot.questions import kb_commands
from dastbot.questions.feedback import feedback_from_emoji
from dastbot.questions.services import QuestionServices
from dastbot.report import job as report_commands
from dastbot.report.job import ReportServices
from dastbot.shifts import commands as shift_commands
from dastbot.shifts import team_commands
from dastbot.shifts.duty import Duty
from dastbot.shifts.identity import RoleBook
from dastbot.shifts.onboarding import ONBOARDING, tick
from dastbot.shifts.services import ShiftServices
from dastbot.store import Store

log = logging.getLogger("dastbot.router")
_MENTION = re.compile(r"^\s*@([a-z0-9._-]+)[:,]?\s+(.+)$", re.IGNORECASE | re.DOTALL)
_THREAD_REF = re.compile(r"(?:/pl/|^|\s)([a-z0-9]{26})(?:\s|$|[/?#])")


class Router:
    def __init__(
        self,
        config: Config,
        store: Store,
        chat: Chat,
        clock: Clock,
        knowledge: LiveKnowledge,
        bot_user_id: str = "",
        metrics: Metrics | None = None,
        contacts: Contacts | None = None,
        sites: SiteMap | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.chat = chat
        self.clock = clock
        self.knowledge = knowledge
        self.bot_user_id = bot_user_id
        self.bot_username = config.bot_name
        """The bot's Mattermost username (set from the server at login), for ``@`` commands."""
        self.duty = Duty(config, store)
        contacts = contacts or load_contacts(data_file(config, config.contacts, "contacts.yaml"))
        sites = sites or load_sites(
            data_file(config, config.sites, "sites.yaml"), clouds=contacts.clouds()
        )
        self.desk = Desk(
            config,
            store,
            self.duty,
            contacts,
            sites,
            chat.permalink,
            self._post_now,
            self._find_sent,
        )
        self.roles = RoleBook(lambda: self.duty.roster, store)
        """Roles by the sender's Mattermost user id once ``run_bot`` has bound the roster."""
        self._timezones: dict[str, str | None] = {}
        self.metrics = metrics or Metrics()
        self.registry = Registry()
        self.sender = Sender(
            store,
            chat,
            clock,
            self.metrics,
            config.mattermost.coordinators_channel,
            thread_of=self._thread_of_message,
        )
        self.conversation = Conversation(
            config,
            store,
            clock,
            knowledge,
            self.duty,
            self.desk,
            self.metrics,
            self._timezones.get,
            self._queue,
            supporter=self._supporter,
        )
        self._register_commands()

    def _supporter(self, user_id: str, user_name: str) -> bool:
        """Someone whose reply in a question's thread means a person is on it: a roster member
        (anyone, while no roster is configured: nobody could be pinged anyway)."""
        return not self.duty.roster or self.roles.role_of(user_id, user_name) != "user"

    def _register_commands(self) -> None:
        """Each feature's commands, bound to the services they use."""
        questions = QuestionServices(
            self.store, self.config, self.knowledge, self.chat.permalink, self.registry
        )
        question_commands.register(self.registry, questions)
        kb_commands.register(self.registry, questions)
        shifts = ShiftServices(self.store, self.config, self.duty, self._timezones.get)
        shift_commands.register(self.registry, shifts)
        team_commands.register(self.registry, shifts)
        escalation_commands.register(self.registry, self.desk)
        outbox_commands.register(self.registry, self.store)
        report_commands.register(
            self.registry, ReportServices(self.store, self.duty, self.knowledge, self.config)
        )

    # posts ------------------------------------------------------------------------------------

    async def on_post(self, post: Post) -> bool:
        """Handle a post; False when it could not be handled (the store failed, say), so that
        the feed delivers it again later. A post handled once is never handled twice."""
        if post.is_bot or (self.bot_user_id and post.user_id == self.bot_user_id):
            return True
        handled = True
        with log_context(post.id, post.thread_id):
            started = time.perf_counter()
            try:
                await self._on_post(post)
            except Exception:
                handled = False
                log.exception("failed to handle a post; it will be handled again later")
            await self.flush()
            self.metrics.handler_seconds.labels("post").observe(time.perf_counter() - started)
        return handled

    async def _on_post(self, post: Post) -> None:
        await self._learn_timezone(post.user_id)
        command = self.command_in(post)
        if command:
            await self._thread_command(post, command)
            return
        if post.root_id:
            self.conversation.thread_reply(post, self.bot_user_id)
        elif self.conversation.is_question(post):
            self.conversation.new_question(post)

    async def _learn_timezone(self, user_id: str) -> None:
        """Remember a user's Mattermost time zone before a decision that may need it."""
        if user_id and user_id not in self._timezones:
            try:
                self._timezones[user_id] = await self.chat.user_timezone(user_id)
            except Exception as exc:
                log.warning("time zone of user %s unknown: %s", user_id, exc)
                self._timezones[user_id] = None

    def forget_timezone(self, user_id: str) -> None:
        """Ask the chat for this user's time zone again before the next decision that needs it
        (the user changed it)."""
        self._timezones.pop(user_id, None)

    async def on_edit(self, post: Post) -> None:
        """An edited post is recorded in its thread's trail (the answer is not redone)."""
        if post.is_bot or post.user_id == self.bot_user_id:
            return
        if self.store.question(post.thread_id) is not None:
            self.store.record(
                EventKind.EDITED, self.clock.now(), post.thread_id, post.user_name, post_id=post.id
            )

    def thread_reference(self, text: str) -> str:
        """A thread named in command text by permalink or post id, if it is one the bot tracks."""
        for match in _THREAD_REF.finditer(text):
            question = self.store.question(match.group(1))
            if question is not None:
                return str(question["thread_id"])
        return ""

    # reactions and clicks ---------------------------------------------------------------------

    async def on_reaction(self, reaction: Reaction) -> None:
        with log_context(reaction.post_id):
            await self._on_reaction(reaction)

    async def _on_reaction(self, reaction: Reaction) -> None:
        if not reaction.added or reaction.user_id == self.bot_user_id:
            return
        feedback = feedback_from_emoji(reaction.emoji)
        if feedback is None:
            return
        await self._learn_timezone(reaction.user_id)
        try:
            with self.store.atomic():
                question = self._question_for_bot_post(reaction.post_id)
                if question is None or reaction.user_id != question["author_id"]:
                    return
                key = f"reaction:{reaction.post_id}:{reaction.user_id}:{reaction.emoji}"
                if not self.store.claim_post(key, self.clock.now()):
                    return
                self.conversation.feedback(question, feedback, reaction.user_id, key)
        except Exception:
            log.exception("failed to handle a reaction")
        await self.flush()

    def _question_for_bot_post(self, post_id: str) -> dict[str, object] | None:
        kind, _, rest = (self.store.key_of_post(post_id) or "").partition(":")
        return self.store.question(rest.split(":")[0]) if kind == "answer" else None

    async def on_click(self, click: Click) -> str:
        with log_context(click.post_id, str(click.context.get("thread", ""))):
            return await self._on_click(click)

    async def _on_click(self, click: Click) -> str:
        if click.context.get("kind") == ONBOARDING:
            return await self._onboarding_click(click)
        thread = str(click.context.get("thread", ""))
        action = str(click.context.get("action", ""))
        if action in (TAKE_BUTTON, RESOLVE_BUTTON):
            # The same command, roles and reply as `/dast take` in the thread.
            done = await self._command(
                Command(click.user_id, click.user_name, click.channel_id, action, root_id=thread)
            )
            return done.text
        await self._learn_timezone(click.user_id)
        try:
            with self.store.atomic():
                question = self.store.question(thread) if thread else None
                if question is None:
                    return "This button belongs to a question I no longer track."
                if click.user_id != question["author_id"]:
                    return "Only the person who asked can say whether the answer helped."
                if action.startswith(PICK_BUTTON):
                    entry = str(click.context.get("entry", ""))
                    picked = self.conversation.pick(question, entry, click.user_name)
                else:
                    picked = ""
            if picked:
                await self.flush()
                return picked
            with self.store.atomic():
                feedback = {
                    HELPED_BUTTON: "helped",
                    NOT_HELPED_BUTTON: "not_helped",
                    NONE_FIT_BUTTON: "not_helped",
                }.get(action)
                if feedback is None:
                    return "Unknown button."
                key = f"click:{thread}:{click.user_id}:{action}"
                if not self.store.claim_post(key, self.clock.now()):
                    return "Already noted, thanks."
                reply = self.conversation.feedback(question, feedback, click.user_name, key)
        except Exception:
            log.exception("failed to handle a click")
            return "Something went wrong on my side; it has been logged."
        await self.flush()
        return reply

    async def _onboarding_click(self, click: Click) -> str:
        """A "Done" button of an onboarding checklist: the same as `/dast roster tick`."""
        if self.roles.role_of(click.user_id, click.user_name) != "coordinator":
            return "Only coordinators can tick onboarding items."
        member = str(click.context.get("member", ""))
        try:
            with self.store.atomic():
                reply = tick(
                    self.store,
                    member,
                    str(click.context.get("item", "")),
                    click.user_name,
                    self.clock.now(),
                )
        except Exception:
            log.exception("failed to handle an onboarding click")
            return "Something went wrong on my side; it has been logged."
        await self.flush()
        return reply

    # commands ---------------------------------------------------------------------------------

    async def on_command(self, command: Command) -> CommandReply:
        with log_context("", command.root_id):
            return await self._command(command)

    def command_in(self, post: Post) -> str:
        """The command in a post that starts by mentioning the bot (``@dastbot take``), or "".
        Mattermost sends no thread with a slash command (servers up to v10), so a reply that
        mentions the bot is how a shifter runs a command on the thread it is in."""
        match = _MENTION.match(post.message)
        if match is None or match.group(1).lower() != self.bot_username.lower():
            return ""
        rest = match.group(2).strip()
        spec, _ = self.registry.find(split_args(rest))
        return rest if spec is not None or rest.lower().startswith("help") else ""

    async def _thread_command(self, post: Post, text: str) -> None:
        """Run a command posted in a thread (or the channel) and answer in that thread."""
        now = self.clock.now()
        if not self.store.claim_post(post.id, now):
            return
        reply = await self._command(
            Command(post.user_id, post.user_name, post.channel_id, text, root_id=post.root_id)
        )
        self._queue(post.channel_id, post.thread_id, reply.text, f"command:{post.id}")

    async def _command(self, command: Command) -> CommandReply:
        ctx = CommandContext(
            user_id=command.user_id,
            user_name=command.user_name,
            channel_id=command.channel_id,
            thread_id=command.root_id,
            role=self.roles.role_of(command.user_id, command.user_name),
            now=self.clock.now(),
            audit=self.store,
            find_thread=self.thread_reference,
        )
        try:
            reply = await dispatch(self.registry, ctx, command.text)
        except Exception:
            log.exception("command failed user=%s text=%r", command.user_name, command.text[:200])
            reply = CommandReply("Something went wrong on my side; it has been logged.")
        await self.flush()
        return reply

    # sending ----------------------------------------------------------------------------------

    def _queue(
        self, channel: str, root: str, text: str, key: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        with_context = tuple(
            type(b)(b.id, b.name, {**b.context, "thread": root, "action": b.id}, b.style)
            for b in buttons
        )
        self.store.enqueue(
            OutMessage(
                channel_id=channel, message=text, root_id=root, key=key, buttons=with_context
            ),
            self.clock.now(),
        )

    def queue(self, messages: Iterable[OutMessage]) -> None:
        for msg in messages:
            self.store.enqueue(msg, self.clock.now())

    async def _post_now(self, msg: OutMessage) -> str:
        return await self.chat.send(msg)

    async def _find_sent(self, msg: OutMessage, since: datetime) -> str | None:
        return await self.chat.already_sent(msg, since)

    async def flush(self) -> int:
        """Send what is due in the outbox (see ``dastbot.outbox.sender``)."""
        return await self.sender.flush()

    def _thread_of_message(self, msg: OutMessage) -> str:
        """The user's question thread an outgoing message is about (keys name it second)."""
        if msg.root_id and self.store.question(msg.root_id) is not None:
            return msg.root_id
        parts = msg.key.split(":")
        if len(parts) > 1 and self.store.question(parts[1]) is not None:
            return parts[1]
        escalation = self.store.escalation(parts[1]) if len(parts) > 1 else None
        return escalation.thread_id if escalation else msg.root_id
