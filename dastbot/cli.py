"""The command line: argv -> command. The only place that turns errors into exit codes.

The general subcommands live here; features add theirs (``add_shift_parsers``,
``add_report_parsers``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from dastbot.kernel.cli import (
    EXIT_DATABASE,
    EXIT_ERRORS,
    EXIT_MATTERMOST,
    EXIT_OK,
    CliError,
    add_common,
    config_from_args,
    parse_instant,
)
from dastbot.kernel.config import (
    SECRET_ENV,
    Config,
    ConfigError,
    check_config,
    default_config_path,
    load_config,
)
from dastbot.kernel.logs import configure_logging

if TYPE_CHECKING:
    from dastbot.answering.knowledge import KnowledgeBase, KnowledgeError
    from dastbot.answering.rebuild import Loaded
    from dastbot.app import App


def _kb_path(config: Config) -> Path:
    from dastbot.kernel.paths import knowledge_path

    return knowledge_path(config)


def _load_kb(config: Config) -> KnowledgeBase:
    from dastbot.answering.knowledge import KnowledgeError, load_knowledge

    try:
        return load_knowledge(_kb_path(config))
    except KnowledgeError as exc:
        raise _knowledge_errors(exc) from None


def _knowledge_errors(exc: KnowledgeError) -> CliError:
    lines = "\n".join(f"  {e}" for e in exc.errors)
    return CliError(f"knowledge base errors ({len(exc.errors)}):\n{lines}")


def _load_indexed(config: Config) -> Loaded:
    """The knowledge base and its matcher for ``run``, through the index kept beside the
    database (``answering.index_cache``)."""
    from dastbot.answering.index_cache import cache_path, load_indexed
    from dastbot.answering.knowledge import KnowledgeError

    m = config.matcher
    try:
        return load_indexed(
            _kb_path(config), m.threshold, m.margin, cache_path(config.resolve(config.db))
        )
    except KnowledgeError as exc:
        raise _knowledge_errors(exc) from None


def _checked_config(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The configuration ``check`` goes on with, and its problems: invalid values are left at
    their defaults so that the files the configuration names are checked in the same run."""
    path = Path(args.config) if args.config else default_config_path()
    errors: list[str] = []
    config: Config | None = None
    if path is not None and not path.is_file():
        errors.append(f"{path}: no such configuration file")
    else:
        try:
            config, errors = check_config(path)
        except ConfigError as exc:
            errors = exc.errors
    if config is None:
        config = load_config(None, {})
    if args.kb:
        config = config.model_copy(update={"kb": str(Path(args.kb).resolve())})
    return config, errors


def cmd_check(args: argparse.Namespace) -> int:
    """Every problem of the configuration, the knowledge base, the contacts, the site map and the
    roster, in one run; warnings do not fail the check."""
    from dastbot.kernel.preflight import ca_file_problem, database_path_problem
    from dastbot.shifts.load import people_warnings
    from dastbot.shifts.roster import check_roster
    from dastbot.store import integrity_problems

    problems: list[str] = []
    warnings: list[str] = []
    config, config_errors = _checked_config(args)
    if config_errors:
        problems.append("configuration errors:\n" + "\n".join(f"  {e}" for e in config_errors))
    kb: KnowledgeBase | None = None
    try:
        kb = _load_kb(config)
    except CliError as exc:
        problems.append(str(exc))
    counts, groups = _check_escalation_data(config, problems)
    roster = check_roster(config.roster, config.shifts, groups)
    if roster.errors:
        problems.append("roster errors:\n" + "\n".join(f"  {e}" for e in roster.errors))
    warnings += roster.warnings
    warnings += people_warnings(config.people)
    public = config.http.public_url
    if config.http.host not in ("127.0.0.1", "localhost") and "127.0.0.1" in public:
        warnings.append(
            f"http.public_url is {public} while the endpoint listens on "
            f"{config.http.host}: Mattermost cannot reach buttons there (DASTBOT_HTTP_PUBLIC_URL)"
        )
    ca = ca_file_problem(config)
    if ca:
        problems.append(ca)
    db_path = config.resolve(config.db)
    db_problem = database_path_problem(db_path)
    if db_problem:
        problems.append(db_problem)
    elif db_path.is_file():
        damage = integrity_problems(db_path)
        if damage:
            problems.append(
                f"{db_path}: the database is damaged (PRAGMA quick_check):\n"
                + "\n".join(f"  {line}" for line in damage)
                + "\n  restore it from a backup (see Upgrades and backups in the README)"
            )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        count = sum(p.count("\n") or 1 for p in problems)
        print(f"dastbot check: {count} problem(s) to fix, listed above", file=sys.stderr)
        return EXIT_ERRORS
    if getattr(args, "online", False):
        import asyncio

        online = asyncio.run(_check_online(config))
        if online:
            print("online check: the bot cannot post to", file=sys.stderr)
            print("\n".join(f"  {line}" for line in online), file=sys.stderr)
            return EXIT_MATTERMOST
    assert kb is not None
    print(f"configuration OK; knowledge base OK: {len(kb)} entries from {_kb_path(config)}")
    print(f"escalation contacts OK: {counts[0]} targets; site map OK: {counts[1]} sites")
    print(f"roster OK: {len(config.roster)} people")
    return EXIT_OK


async def _check_online(config: Config) -> list[str]:
    """Log in and list every channel and user the bot must post to but cannot."""
    from dastbot.chat.base import AuthRejected
    from dastbot.chat.mattermost import MattermostChat
    from dastbot.escalations.contacts import load_contacts
    from dastbot.escalations.reachable import unreachable
    from dastbot.kernel.paths import data_file

    if config.mattermost_token is None:
        return ["--online needs DASTBOT_MATTERMOST_TOKEN (the bot account's access token)"]
    chat = MattermostChat(config, config.mattermost_token.get_secret_value())
    try:
        await chat.login()
    except AuthRejected as exc:
        return [f"Mattermost refused the bot: {exc}. Check DASTBOT_MATTERMOST_TOKEN."]
    except ValueError as exc:
        return [str(exc)]
    except Exception as exc:
        return [f"cannot reach {config.mattermost.url}: {exc}"]
    contacts = load_contacts(data_file(config, config.contacts, "contacts.yaml"))
    own = [*config.channels, config.mattermost.coordinators_channel]
    return await unreachable(chat, contacts, extra=own)


CONTACTS_FIX = "fix it, or set contacts (DASTBOT_CONTACTS) to the escalation contacts file"
SITES_FIX = "fix it, or set sites (DASTBOT_SITES) to the site map (dastbot sites import)"


def _check_escalation_data(
    config: Config, problems: list[str]
) -> tuple[tuple[int, int], tuple[str, ...] | None]:
    """(targets, sites) counted, and the expert groups (roles a roster person may have; None
    when the contacts cannot be read)."""
    from dastbot.escalations.contacts import ContactsError, load_contacts
    from dastbot.escalations.sites import SitesError, load_sites
    from dastbot.kernel.paths import data_file

    try:
        contacts = load_contacts(data_file(config, config.contacts, "contacts.yaml"))
    except ContactsError as exc:
        problems.extend(f"escalation contacts: {e}: {CONTACTS_FIX}" for e in exc.errors)
        return (0, 0), None
    groups = tuple(t.id for t in contacts if t.kind == "expert-group")
    try:
        sites = load_sites(data_file(config, config.sites, "sites.yaml"), contacts.clouds())
    except SitesError as exc:
        problems.extend(f"site map: {e}: {SITES_FIX}" for e in exc.errors)
        return (len(contacts), 0), groups
    return (len(contacts), len(sites.sites)), groups


def _preflight(config: Config) -> None:
    """What ``run`` and ``console`` need before they start, checked without changing anything:
    the escalation data and the CA file (EXIT_ERRORS), the database path (EXIT_DATABASE)."""
    from dastbot.kernel.preflight import ca_file_problem, database_path_problem

    problems: list[str] = []
    _check_escalation_data(config, problems)
    ca = ca_file_problem(config)
    if ca:
        problems.append(ca)
    if problems:
        raise CliError("\n".join(problems), EXIT_ERRORS)
    db = config.resolve(config.db)
    found = database_path_problem(db) if str(config.db) != ":memory:" else None
    if found:
        raise CliError(found, EXIT_DATABASE)


def cmd_kb_match(args: argparse.Namespace) -> int:
    from dastbot.answering.matcher import Matcher

    config = config_from_args(args)
    kb = _load_kb(config)
    matcher = Matcher(kb, config.matcher.threshold, config.matcher.margin)
    ranking = matcher.rank(args.text, top=args.top)
    if args.json:
        matches = [{"id": m.entry_id, "title": m.title, "score": m.score} for m in ranking.matches]
        print(json.dumps({"abstain": ranking.abstain, "matches": matches}))
        return EXIT_OK
    for i, m in enumerate(ranking.matches, 1):
        print(f"{i}. {m.score:.3f}  {m.entry_id}  {m.title}")
    verdict = (
        f"abstain ({ranking.reason})"
        if ranking.abstain
        else f"answer: {ranking.matches[0].entry_id}"
    )
    print(f"threshold {matcher.threshold:.2f}: {verdict}")
    return EXIT_OK


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from dastbot.answering.evaluation import QuestionFileError, evaluate, load_questions
    from dastbot.answering.matcher import Matcher

    config = config_from_args(args)
    kb = _load_kb(config)
    try:
        questions = load_questions(Path(args.questions), kb)
    except QuestionFileError as exc:
        raise CliError(f"question file errors:\n{exc}") from None
    threshold = config.matcher.threshold if args.threshold is None else args.threshold
    result, outcomes = evaluate(Matcher(kb, threshold, config.matcher.margin), questions)
    if args.json:
        print(json.dumps(result.as_dict()))
        return EXIT_OK
    if args.verbose:
        for o in outcomes:
            if not o.correct:
                print(
                    f"MISS {o.question.id}: gold={o.question.gold} answered={o.answered} "
                    f"ranked={list(o.ranked)}\n     {o.question.text[:120]!r}"
                )
    r = result
    print(f"questions: {r.n} ({r.answerable} answerable, {r.nulls} null)")
    print(f"top-1: {r.top1:.3f}   top-3: {r.top3:.3f}")
    print(f"null questions abstained: {r.null_abstained}/{r.nulls}")
    if set(r.null_kinds) - {"null"}:
        print("  by kind: " + ", ".join(f"{k} {a}/{n}" for k, (a, n) in r.null_kinds.items()))
    if r.alt_accepted:
        print(f"answers accepted as an alternative (alt): {r.alt_accepted}")
    print(
        f"overall with abstention (threshold {r.threshold:.2f}, near ties within "
        f"{config.matcher.margin:.2f} offered as a choice, not answered): {r.overall:.3f}"
    )
    print(f"latency per question: p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms")
    return EXIT_OK


CONSOLE_IDS = "console.last_post_id"
"""Meta key: the last console post number, so that the next run on the database goes on."""
DEMO_WEEKS = 4


def cmd_console(args: argparse.Namespace) -> int:
    import asyncio

    from dastbot.app import App, serve
    from dastbot.chat.console import BANNER, Console, ConsoleChat
    from dastbot.chat.console_input import LineReader
    from dastbot.kernel.clock import OffsetClock
    from dastbot.kernel.preflight import database_problem

    config = config_from_args(args)
    if args.demo and not config.roster:
        from dastbot.report.demo_rota import DEMO_ROSTER

        config = config.model_copy(update={"roster": list(DEMO_ROSTER)})
    if not args.db:
        # The console is a simulator: it never writes into the bot's own database.
        name = "dastbot-demo.db" if args.demo else "dastbot-console.db"
        config = config.model_copy(update={"db": str(Path(name).resolve())})
    _load_kb(config)
    _preflight(config)
    clock = OffsetClock()
    if args.at:
        clock.set(parse_instant(args.at))
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    chat = ConsoleChat(sys.stdout, clock, color=terminal and not os.environ.get("NO_COLOR"))
    try:
        app = App(config, chat, clock)
    except (sqlite3.Error, OSError) as exc:
        raise CliError(database_problem(config.resolve(config.db), exc), EXIT_DATABASE) from None
    store = app.store
    chat.resume_ids(
        int(store.get_meta(CONSOLE_IDS) or 0), lambda n: store.set_meta(CONSOLE_IDS, str(n))
    )
    banner = BANNER
    if args.demo:
        banner = _demo(app, config, clock.now()) + "\n" + BANNER
    user = args.as_user or ("cora" if args.demo else "alice")

    def forget_timezone(user_id: str, zone: str) -> None:
        app.router.forget_timezone(user_id)

    async def main() -> None:
        await app.start()
        console = Console(
            chat,
            app.router.on_command,
            app.router.on_click,
            lambda delta: app.advance(delta, clock),
            user=user,
            stream=sys.stdin,
            lines=LineReader(
                sys.stdin, sys.stdout, Path.home() / ".dastbot_console_history", terminal
            ),
            known_thread=lambda post_id: store.question(post_id) is not None,
            on_timezone=forget_timezone,
            banner=banner,
        )
        if args.demo and not terminal:
            chat.write(banner.splitlines()[0])
        await serve(console, app.router, app.metrics)

    asyncio.run(main())
    app.store.close()
    return EXIT_OK


def _demo(app: App, config: Config, now: datetime) -> str:
    """Fill a new console database with an example schedule and a few weeks of history (the
    ``demo-data`` machinery); say what the demo holds and who to be."""
    from dastbot.report.demo import fill_demo

    if app.store.questions():
        history = "the demo history already in this database"
    else:
        summary = fill_demo(app.store, DEMO_WEEKS, now, 1, config)
        history = (
            f"{summary.questions} questions of {DEMO_WEEKS} weeks ({summary.first_day} to "
            f"{summary.last_day}) and {summary.assignments} shift assignments"
        )
    coordinators = ", ".join(f"{p.user} ({p.zone})" for p in config.roster if p.roles)
    shifters = ", ".join(p.user for p in config.roster if p.level == "shifter" and not p.roles)
    return (
        f"demo: {history}. Coordinators {coordinators}; shifters {shifters}. You are cora: "
        "try /dast shift list, /dast status, /dast report; :as alice to ask as a user."
    )


def cmd_sites_import(args: argparse.Namespace) -> int:
    from dastbot.escalations.contacts import ContactsError, load_contacts
    from dastbot.escalations.sites import SitesError, import_cric, parse_sites, sites_yaml
    from dastbot.kernel.paths import data_file

    config = config_from_args(args)
    path = Path(args.file)
    try:
        entries = import_cric(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read: {exc}") from None
    except SitesError as exc:
        listed = "\n".join(f"  {e}" for e in exc.errors)
        raise CliError(f"{path}: not a usable CRIC export:\n{listed}") from None
    try:
        clouds = load_contacts(data_file(config, config.contacts, "contacts.yaml")).clouds()
    except ContactsError as exc:
        raise CliError("contacts errors:\n" + "\n".join(f"  {e}" for e in exc.errors)) from None
    text = sites_yaml(entries, header=f"Imported from {path.name} by dastbot sites import.")
    try:
        parse_sites(text, str(args.out), clouds)
    except SitesError as exc:
        listed = "\n".join(f"  {e}" for e in exc.errors)
        raise CliError(f"the import does not validate, nothing written:\n{listed}") from None
    out = Path(args.out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror}; choose another --out") from None
    queues = sum(len(e.get("queues", [])) for e in entries)
    rses = sum(len(e.get("rses", [])) for e in entries)
    print(f"wrote {len(entries)} sites, {queues} PanDA queues, {rses} RSEs to {out}")
    return EXIT_OK


def cmd_db_metadata(args: argparse.Namespace) -> int:
    from dastbot.store.dbdocs import datasette_metadata

    print(json.dumps(datasette_metadata(args.name), indent=2))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _preflight(config)  # before the imports below: a misconfigured start fails within a second

    import asyncio
    import signal

    from dastbot.app import run_bot
    from dastbot.chat.base import AuthRejected
    from dastbot.chat.http import ListenError
    from dastbot.kernel.preflight import database_problem
    from dastbot.lease import LeaseHeld, LeaseLost
    from dastbot.store import SchemaTooNew

    loaded = _load_indexed(config)
    secrets = [s.get_secret_value() for s in (config.mattermost_token, config.slash_token) if s]
    level = logging.DEBUG if args.verbose_log else logging.INFO
    configure_logging(level, config.log_format, secrets)

    async def main() -> None:
        announce = _announce if args.ready_json else None
        task = asyncio.ensure_future(run_bot(config, ready=announce, loaded=loaded))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            logging.getLogger("dastbot").info("stopped by signal")

    try:
        asyncio.run(main())
    except AuthRejected as exc:
        raise CliError(
            f"{exc}. Check DASTBOT_MATTERMOST_TOKEN (the bot account's access token).",
            EXIT_MATTERMOST,
        ) from None
    except (LeaseHeld, LeaseLost, SchemaTooNew) as exc:
        raise CliError(str(exc), EXIT_DATABASE) from None
    except sqlite3.Error as exc:
        raise CliError(database_problem(config.resolve(config.db), exc), EXIT_DATABASE) from None
    except ListenError as exc:
        raise CliError(str(exc), EXIT_ERRORS) from None
    except ValueError as exc:
        raise CliError(str(exc), EXIT_MATTERMOST) from None
    return EXIT_OK


def _announce(info: dict[str, object]) -> None:
    public = {k: v for k, v in info.items() if isinstance(v, str | int | float | bool)}
    print(json.dumps({"ready": True, **public}), flush=True)


def installed_version() -> str:
    """The version of the installed package (its metadata), or "unknown" when run from sources
    that were never installed."""
    try:
        return metadata.version("dastbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dastbot", description="DAST support bot")
    parser.add_argument("-v", "--verbose-log", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"dastbot {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="validate the configuration and the knowledge base")
    add_common(p)
    p.add_argument(
        "--online",
        action="store_true",
        help="also log in to Mattermost and check every channel and user the bot posts to",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("console", help="chat with the bot in the terminal")
    add_common(p, db=True)
    p.add_argument(
        "--as", dest="as_user", help="user name to post as (default alice; cora with --demo)"
    )
    p.add_argument("--at", help="start the simulated clock at this ISO-8601 instant")
    p.add_argument(
        "--demo",
        action="store_true",
        help="an example roster, schedule and four weeks of history (in dastbot-demo.db)",
    )
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("run", help="connect to Mattermost and serve")
    add_common(p, db=True)
    p.add_argument("--ready-json", action="store_true", help="print one JSON line when ready")
    p.set_defaults(func=cmd_run)

    from dastbot.shifts.cli import add_shift_parsers

    add_shift_parsers(sub, add_common)

    sites = sub.add_parser("sites", help="the site map").add_subparsers(dest="sites", required=True)
    p = sites.add_parser("import", help="write sites.yaml from a CRIC JSON export")
    add_common(p)
    p.add_argument("file", help="CRIC site (or PanDA queue) JSON export")
    p.add_argument("--out", default="knowledge/sites.yaml", help="where to write sites.yaml")
    p.set_defaults(func=cmd_sites_import)

    p = sub.add_parser("db-metadata", help="Datasette metadata describing the database")
    p.add_argument("--name", default="dastbot", help="database name (the file name without .db)")
    p.set_defaults(func=cmd_db_metadata)

    kb = sub.add_parser("kb", help="knowledge-base tools").add_subparsers(dest="kb", required=True)
    p = kb.add_parser("match", help="rank the entries for a question")
    add_common(p)
    p.add_argument("text")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_kb_match)

    p = kb.add_parser("eval", help="measure the matcher on a labelled question file")
    add_common(p)
    p.add_argument("--questions", required=True)
    p.add_argument("--threshold", type=float, help="override the configured threshold")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true", help="list every miss")
    p.set_defaults(func=cmd_kb_eval)

    from dastbot.archive.cli import add_archive_parsers
    from dastbot.outbox.cli import add_outbox_parsers
    from dastbot.report.cli import add_report_parsers

    add_report_parsers(sub, add_common)
    add_archive_parsers(sub, add_common)
    add_outbox_parsers(sub, add_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = args.command != "run"
    level = logging.DEBUG if args.verbose_log else logging.WARNING if quiet else logging.INFO
    secrets = [os.environ.get(name, "") for name in SECRET_ENV.values()]
    configure_logging(level, os.environ.get("DASTBOT_LOG_FORMAT", "text"), secrets)
    try:
        code: int = args.func(args)
    except CliError as exc:
        if os.environ.get("DASTBOT_LOG_FORMAT") == "json":
            logging.getLogger("dastbot").error("%s", exc)
        else:
            print(f"dastbot: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code
