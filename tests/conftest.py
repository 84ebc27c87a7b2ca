"""Shared fixtures: an in-memory store, a fake clock, a small knowledge base, and a chat harness
that lets tests read like transcripts (a user says something; the bot's replies come back)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dastbot.answering.answers import LiveKnowledge
from dastbot.chat.base import SendRefused
from dastbot.kernel.clock import FakeClock
from dastbot.kernel.config import Config, load_config
from dastbot.kernel.markdown import POST_LIMIT
from dastbot.kernel.models import Click, Command, CommandReply, OutMessage, Post, Reaction
from dastbot.router import Router
from dastbot.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
CHANNEL = "chan-help"

# No wall-clock limits in property tests (Hypothesis's 200 ms per example, its "too slow" check):
# a loaded machine must not fail a property. Speed is asserted in CPU time where it matters.
settings.register_profile("dastbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dastbot")


def shared_dir(name: str) -> Path:
    """A folder from ../shared, only through the environment; the test skips without it."""
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: this test reads reference data outside the repository")
    return Path(value)


@pytest.fixture
def store() -> Store:
    return Store.memory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def config() -> Config:
    return load_config(None, {}).model_copy(update={"kb": str(FIXTURES / "kb")})


@dataclass
class RecordingChat:
    """A Chat that remembers what the bot sent; optionally fails the next sends."""

    sent: list[tuple[str, OutMessage]] = field(default_factory=list)
    fail_next: int = 0
    lose_response_next: int = 0
    counter: int = 0
    timezones: dict[str, str] = field(default_factory=dict)
    refused_channels: set[str] = field(default_factory=set)
    """Channels the server refuses posts to for good (the bot is not a member, say)."""

    async def send(self, msg: OutMessage) -> str:
        if msg.channel_id in self.refused_channels:
            raise SendRefused(f"{msg.channel_id}: 403 the bot is not a member of the channel")
        if len(msg.message) > POST_LIMIT:
            raise SendRefused(f"400 message too long ({len(msg.message)} characters)")
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("chat is down")
        self.counter += 1
        post_id = f"bot{self.counter}"
        self.sent.append((post_id, msg))
        if self.lose_response_next:
            self.lose_response_next -= 1
            raise TimeoutError("the post was made but its response was lost")
        return post_id

    async def already_sent(self, msg: OutMessage, since: datetime) -> str | None:
        return next((pid for pid, m in self.sent if m.key == msg.key), None)

    async def user_timezone(self, user_id: str) -> str | None:
        return self.timezones.get(user_id)

    async def react(self, post_id: str, emoji: str) -> None:
        return None

    async def direct_channel(self, user_name: str) -> str:
        return f"dm-{user_name}"

    def permalink(self, post_id: str) -> str:
        return f"https://chat.test/atlas/pl/{post_id}"

    async def check_destination(self, target: str) -> str:
        return f"{target}: refused" if target in self.refused_channels else ""


class Bot:
    """A router wired to a recording chat: ``say`` posts and returns what the bot answered."""

    def __init__(self, config: Config, store: Store, clock: FakeClock) -> None:
        self.chat = RecordingChat()
        self.clock = clock
        self.store = store
        self.knowledge = LiveKnowledge.load(Path(config.kb), config)
        self.router = Router(config, store, self.chat, clock, self.knowledge, bot_user_id="bot")
        self._posts = 0

    def _new_replies(self, before: int) -> list[OutMessage]:
        return [msg for _, msg in self.chat.sent[before:]]

    async def say(
        self,
        user: str,
        text: str,
        thread: str = "",
        post_id: str = "",
        channel: str = CHANNEL,
        channel_type: str = "O",
    ) -> list[OutMessage]:
        self._posts += 1
        post = Post(
            id=post_id or f"u{self._posts}",
            channel_id=channel,
            user_id=user,
            user_name=user,
            message=text,
            create_at=self.clock.now(),
            root_id=thread,
            channel_type=channel_type,
        )
        before = len(self.chat.sent)
        await self.router.on_post(post)
        self.last_post = post
        return self._new_replies(before)

    async def command(self, user: str, text: str, thread: str = "") -> CommandReply:
        return await self.router.on_command(
            Command(user_id=user, user_name=user, channel_id=CHANNEL, text=text, root_id=thread)
        )

    async def react(self, user: str, post_id: str, emoji: str) -> list[OutMessage]:
        before = len(self.chat.sent)
        await self.router.on_reaction(Reaction(user, post_id, CHANNEL, emoji))
        return self._new_replies(before)

    async def click(self, user: str, post_id: str, button: str) -> str:
        msg = dict(self.chat.sent)[post_id]
        context = next(b.context for b in msg.buttons if b.id == button)
        return await self.router.on_click(Click(user, user, CHANNEL, post_id, context))

    def post_id_of(self, msg: OutMessage) -> str:
        return next(pid for pid, m in self.chat.sent if m is msg)


@pytest.fixture
def bot(config: Config, store: Store, clock: FakeClock) -> Bot:
    return Bot(config, store, clock)


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost that clients can trust as a CA."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        command = ["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"]
        command += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        command += ["-keyout", str(key), "-out", str(cert)]
        command += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        command += ["-addext", "basicConstraints=critical,CA:TRUE"]
        command += ["-addext", "keyUsage=critical,digitalSignature,keyCertSign"]
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    return cert, key


def _cert_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


ROSTER: list[dict[str, object]] = [
    {"user": "sam", "zone": "EU", "level": "shifter"},
    {"user": "tina", "zone": "EU", "level": "trainee"},
    {"user": "nick", "zone": "NA", "level": "shifter"},
    {"user": "cora", "zone": "EU", "level": "shifter", "roles": ["coordinator"]},
    {"user": "nora", "zone": "NA", "level": "shifter", "roles": ["coordinator"]},
]


class ShiftBot(Bot):
    """The whole app (router + scheduled jobs) with a roster, for shift transcripts."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: FakeClock,
        roster: list[dict[str, object]] | None = None,
    ) -> None:
        from dastbot.app import App
        from dastbot.kernel.config import Config as ConfigModel

        config = ConfigModel.model_validate(
            {
                **config.model_dump(exclude={"roster"}),
                "roster": ROSTER if roster is None else roster,
            }
        )
        super().__init__(config, store, clock)
        self.app = App(config, self.chat, clock, store=store, knowledge=self.knowledge)
        self.router = self.app.router
        self.router.bot_user_id = "bot"

    def book(self, day: str, slot: str, shifter: str | None, trainee: str | None = None) -> None:
        from datetime import date

        from dastbot.kernel.models import Assignment

        self.store.set_assignment(
            Assignment(date.fromisoformat(day), slot, shifter, trainee), "test", self.clock.now()
        )

    async def wait(self, delta: timedelta) -> list[OutMessage]:
        before = len(self.chat.sent)
        await self.app.advance(delta, self.clock)
        return self._new_replies(before)

    async def start(self) -> list[OutMessage]:
        before = len(self.chat.sent)
        await self.app.start()
        return self._new_replies(before)


@pytest.fixture
def shiftbot(config: Config, store: Store, clock: FakeClock) -> ShiftBot:
    return ShiftBot(config, store, clock)
