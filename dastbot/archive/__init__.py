"""The forum's mail archive: what the bot would have answered, and what to write next.

This package owns reading mail archives (mbox, Maildir, .eml folders) into the store, rebuilding
their threads, and three uses of them:

* ``dastbot archive import PATH...``: ``sources`` (files -> raw mails), ``parse`` (raw mail ->
  headers and text), ``clean`` (the sender's own words), ``threads`` (reconstruction),
  ``importer`` (the pipeline, idempotent and never fatal);
* ``dastbot archive eval``: ``evaluation`` runs the current matcher over every archived
  question, per year and overall, and turns a labelled sample into measured precision;
* ``dastbot archive gaps``: ``gaps`` clusters the questions the bot abstains on with the weekly
  report's grouping and drafts a knowledge-base entry per cluster with ``kb propose``'s drafting;
* the weekly report's archive line: ``weekly.report_line``, an ``ExtraLine`` of the report that
  the composition root (``dastbot.app``, ``dastbot.router``, ``dastbot.cli``) hands to it.

``cli.add_archive_parsers`` adds the subcommands to ``dastbot``.

It may import ``dastbot.kernel``, ``dastbot.store`` (its tables and SQL are in
``dastbot.store.archive``), the public functions of ``dastbot.answering`` (``load_knowledge``,
``Matcher``, ...), ``dastbot.answering.gaps.cluster_texts`` (the knowledge-gap grouping it reuses)
and ``dastbot.questions.kb_draft.draft_entry`` (the drafting it reuses). Its layer sits
between the router and the report (pyproject's import-linter contract): the report cannot import
it, so it receives the archive line instead of calling it.
"""

from __future__ import annotations
