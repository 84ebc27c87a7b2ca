"""Answering: from a user's message to the knowledge-base entry that answers it, or to none.

Owns the knowledge base (``knowledge``: loading and validating ``knowledge/*.yaml``), text
normalisation for matching (``textnorm``), identifier extraction from chat text (``extract``:
task and job ids, datasets, sites, releases, error codes and lines, the facts a request lacks),
the matcher that ranks entries and decides when to abstain (``matcher``), how an answer or an
abstention reads in chat (``answers``), building a knowledge base and its matcher in a child
process for reloads (``rebuild``), and measuring the matcher on labelled questions
(``evaluation``).

May import ``dastbot.kernel`` and its own modules, nothing else from dastbot: not the store,
router, questions, shifts, escalations, report or chat packages. Those import answering.
"""
