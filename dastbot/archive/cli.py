"""``dastbot archive import|eval|gaps``: the archive's subcommands (``add_archive_parsers``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dastbot.kernel.cli import EXIT_ERRORS, EXIT_USAGE, CliError, config_from_args
from dastbot.kernel.config import Config
from dastbot.store import Store
from dastbot.store import archive as tables

if TYPE_CHECKING:
    from dastbot.answering.matcher import Matcher


def _error(message: str, usage: bool = False) -> CliError:
    return CliError(message, EXIT_USAGE if usage else EXIT_ERRORS)


def _open(config: Config, create: bool = False) -> Store:
    path = config.resolve(config.db)
    if not create and str(path) != ":memory:" and not path.is_file():
        raise _error(f"{path}: no such database (import an archive first, or give --db)")
    return Store.open(path)


def _archived(store: Store) -> None:
    if not tables.thread_count(store.db):
        store.close()
        raise _error("no archive imported in this database: run dastbot archive import PATH")


def cmd_import(args: argparse.Namespace) -> int:
    from dastbot.archive.importer import import_archive, problems_text

    config: Config = config_from_args(args)
    store = _open(config, create=True)
    try:
        result = import_archive(
            store,
            [Path(p) for p in args.paths],
            keep_addresses=args.keep_addresses,
            progress=not args.no_progress,
        )
    finally:
        store.close()
    print(result.summary())
    if result.problems:
        print(f"problems ({len(result.problems)}):", file=sys.stderr)
        print(problems_text(result.problems, args.show_problems), file=sys.stderr)
    if result.mails == 0 and result.problems:
        return EXIT_ERRORS
    return 0


def _matcher(args: argparse.Namespace, config: Config) -> Matcher:
    from dastbot.answering.knowledge import KnowledgeError, load_knowledge
    from dastbot.answering.matcher import Matcher
    from dastbot.kernel.paths import knowledge_path

    try:
        kb = load_knowledge(knowledge_path(config))
    except KnowledgeError as exc:
        lines = "\n".join(f"  {e}" for e in exc.errors)
        raise _error(f"knowledge base errors ({len(exc.errors)}):\n{lines}") from None
    threshold = config.matcher.threshold if args.threshold is None else args.threshold
    return Matcher(kb, threshold, config.matcher.margin)


def cmd_eval(args: argparse.Namespace) -> int:
    from dastbot.archive import evaluation as ev

    config: Config = config_from_args(args)
    if (args.sample is None) != (args.out is None):
        raise _error("--sample N and --out FILE.yaml go together", usage=True)
    if args.sample is not None and args.sample < 1:
        raise _error("--sample must be at least 1", usage=True)
    labels = None
    if args.labels:
        try:
            labels = ev.read_labels(Path(args.labels))
        except ev.LabelError as exc:
            raise _error(f"labelling sheet errors:\n{exc}") from None
    matcher = _matcher(args, config)
    store = _open(config)
    try:
        _archived(store)
        threads = tables.threads(store.db, since_year=args.since)
        verdicts = ev.judge(threads, matcher)
        if labels is not None:
            current = {v.thread_id: v.entry_id for v in verdicts}
            sys.stdout.write(ev.precision_text(ev.precision(labels, current), args.labels))
            return 0
        result = ev.summarise(verdicts, matcher.kb, matcher.threshold)
        if args.sample is not None:
            by_id = {str(t["thread_id"]): t for t in threads}
            first: dict[str, str] = {}
            for v in verdicts:
                if v.entry_id:
                    answers = tables.replies(store.db, v.thread_id, by_id[v.thread_id]["asker"])
                    first[v.thread_id] = answers[0] if answers else ""
            sheet = ev.sample_sheet(
                by_id, verdicts, matcher.kb, first, args.sample, args.seed, args.out
            )
            try:
                Path(args.out).write_text(sheet, encoding="utf-8")
            except OSError as exc:
                raise _error(f"{args.out}: cannot write: {exc.strerror}") from None
            print(f"wrote a labelling sheet of {sheet.count(chr(10) + '- thread:')} questions "
                  f"to {args.out}", file=sys.stderr)  # fmt: skip
    finally:
        store.close()
    if args.json:
        sys.stdout.write(json.dumps(ev.to_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(ev.to_text(result))
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    from dastbot.archive import evaluation as ev
    from dastbot.archive import gaps

    config: Config = config_from_args(args)
    if args.top < 1:
        raise _error("--top must be at least 1", usage=True)
    matcher = _matcher(args, config)
    store = _open(config)
    try:
        _archived(store)
        threads = tables.threads(store.db, since_year=args.since)
        verdicts = ev.judge(threads, matcher)
        found = gaps.find_gaps(
            threads, verdicts, lambda t, asker: tables.replies(store.db, t, asker), args.top
        )
    finally:
        store.close()
    if args.drafts:
        try:
            Path(args.drafts).write_text(gaps.drafts_file(found), encoding="utf-8")
        except OSError as exc:
            raise _error(f"{args.drafts}: cannot write: {exc.strerror}") from None
    if args.json:
        sys.stdout.write(json.dumps(gaps.to_json(found), indent=2) + "\n")
    else:
        sys.stdout.write(gaps.to_text(found))
    return 0


def add_archive_parsers(subparsers: Any, common: Callable[..., None]) -> None:
    """Add ``archive import|eval|gaps`` to dastbot's subcommands (``common(p, db=True)`` adds
    --config, --kb and --db, as in ``dastbot.__main__.build_parser``)."""
    archive = subparsers.add_parser(
        "archive", help="the forum's mail archive: import, evaluate, find gaps"
    ).add_subparsers(dest="archive", required=True)

    p = archive.add_parser("import", help="read mbox files, Maildirs or .eml folders")
    common(p, db=True)
    p.add_argument("paths", nargs="+", metavar="PATH", help="mbox file, Maildir or folder")
    p.add_argument(
        "--keep-addresses", action="store_true", help="store addresses as they are, not hashed"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--show-problems", type=int, default=50, metavar="N", help="list at most N problems"
    )
    p.set_defaults(func=cmd_import)

    p = archive.add_parser("eval", help="what the knowledge base answers of the archive")
    common(p, db=True)
    p.add_argument("--since", type=int, metavar="YEAR", help="only questions from YEAR on")
    p.add_argument("--threshold", type=float, help="override the configured threshold")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sample", type=int, metavar="N", help="write a labelling sheet of N answers")
    p.add_argument("--out", metavar="FILE.yaml", help="where --sample writes the sheet")
    p.add_argument("--seed", type=int, default=1, help="--sample's random seed")
    p.add_argument("--labels", metavar="FILE.yaml", help="a filled sheet: measure precision")
    p.set_defaults(func=cmd_eval)

    p = archive.add_parser("gaps", help="clusters of unanswered questions, with draft entries")
    common(p, db=True)
    p.add_argument("--since", type=int, metavar="YEAR", help="only questions from YEAR on")
    p.add_argument("--threshold", type=float, help="override the configured threshold")
    p.add_argument("--top", type=int, default=10, help="clusters to show")
    p.add_argument("--json", action="store_true")
    p.add_argument("--drafts", metavar="FILE.yaml", help="also write the drafts to this file")
    p.set_defaults(func=cmd_gaps)
