"""What an asker's words or emoji say about the bot's answer, read the way a person would.

``feedback_in`` returns one of:

* ``"helped"``: the answer solved it (``that worked``, ``works now, thanks``, ``yes``);
* ``"not_helped"``: the asker still needs help: the answer did not work or was wrong
  (``didn\u2019t help``, ``nope, same error``, ``this does not solve my problem``), or they ask
  something back (a question a person has to answer);
* ``"ambiguous"``: a person would ask before acting: ``thanks`` alone, ``I solved it myself``,
  ``that worked. How do I also ...?``, or good and bad news with no ``but`` to say which counts;
* ``None``: nothing about the answer (more details, ``I will try that``).

The text is normalised first: Unicode compatibility forms, curly apostrophes, contractions with or
without their apostrophe (``didnt`` -> ``did not``), letters repeated for emphasis (``noooo``),
quoted lines (``> ...``) and pasted code blocks dropped. Complaints about the answer itself win
over everything (``I solved it myself, but the answer was wrong``); otherwise, when a message has
both good and bad news, the clause after the last ``but`` decides.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Feedback = Literal["helped", "not_helped", "ambiguous"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_QUOTED = re.compile(r"^\s*>.*$", re.MULTILINE)
_CONTRACTIONS = (
    (re.compile(r"\bwo ?n'?t\b"), "will not"),
    (re.compile(r"\b(?:ca ?n'?t|cannot)\b"), "can not"),
    (
        re.compile(r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should) ?n'?t\b"),
        r"\1 not",
    ),
    (re.compile(r"\b(it|that|this|what|there)'s\b"), r"\1 is"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(i|you|we|they)'ve\b"), r"\1 have"),
    (re.compile(r"\b(i|you|we|they|it|that)'ll\b"), r"\1 will"),
)
_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r"[ \t]+")

# Each pattern is tried on the normalised text; a match is removed before the next group is
# tried, so that "not working" is never also read as "working".
_ANSWER_WRONG = re.compile(
    r"\b(?:not (?:\w+ )?help(?:ful|ed|s|ing)?\b|no help\b|(?:of )?no use\b|useless"
    r"|not (?:very |really |at all )?(?:useful|relevant|related|applicable)"
    r"|irrelevant|does not apply|wrong answer|(?:answer|suggestion|reply|bot) (?:is|was) "
    r"(?:wrong|incorrect|not (?:right|correct|relevant))|not (?:the )?(?:right|correct) answer"
    r"|not (?:what i (?:asked|meant|need(?:ed)?)|my (?:problem|issue|question|case))"
    r"|(?:you|the bot) (?:did not|do not|does not) understand|misunderstood)"
)
_SELF_SOLVED = re.compile(
    r"\b(?:(?:solved|fixed|sorted|figured)(?: it| this| that)?(?: out)? (?:myself|on my own)"
    r"|figured (?:it|this|that) out)\b"
)
_STILL_BROKEN = re.compile(
    r"\b(?:(?:not|never) (?:\w+ ){0,2}?(?:work|works|working|worked|solve[sd]?|fix(?:e[sd])?"
    r"|resolve[sd]?|change[sd]? anything|succeed(?:ed|s)?)\b"
    r"|no longer work(?:s|ing)?|still (?:\w+ ){0,2}?(?:fail\w*|broken|exhausted|the same|same"
    r"|get\w*|see\w*|ha(?:ve|s|ving)|stuck|error\w*|not|crash\w*|happen\w*|does|doing|there)\b"
    r"|same (?:error|problem|issue|result|thing|message|failure|as before)"
    r"|(?:error|problem|issue|failure) (?:persists|remains|is still)"
    r"|(?:fail\w*|crash\w*|broke) again|no luck|no change|nothing changed"
    r"|no (?:difference|effect)|unfortunately not|^(?:no|nope|nah|not really|not quite)\b"
    r"(?! (?:problem|worries|need|rush)))"
)
_HELPED = re.compile(
    r"\b(?:(?:that|this|it|which|your (?:answer|suggestion|tip|advice|fix|reply)|the "
    r"(?:answer|suggestion|fix|command|solution|link)) (?:\w+ ){0,2}?(?:helped|helps|worked|works"
    r"|did it|did the trick|fixed (?:it|this|that|the problem|my problem)|fixed|solved|solves"
    r"|resolved|sorted)"
    r"|(?:work|works|working|worked) (?:now|fine|again|perfectly|like a charm|great|well)"
    r"|(?:it|that|this|all|everything|problem|issue|error) (?:is |are )?(?:now )?"
    r"(?:fixed|solved|resolved|sorted|working|gone|good now|fine now|ok now)"
    r"|(?:^|[,.!] )(?:(?:it|that) )?(?:works|worked)\b|all good|exactly what i needed|spot on"
    r"|(?:was|is|very|really|super|most) (?:useful|helpful)"
    r"|^(?:solved|fixed|resolved|perfect|excellent|awesome|brilliant|great|wonderful|fantastic"
    r"|yes|yep|yeah|yup)\b)"
)
_HEDGE = re.compile(r"\b(?:not sure|do not know if|no idea if|i hope)\b")
_WILL_TRY = re.compile(
    r"\b(?:(?:i )?(?:will|am going to|going to|gonna|let me|shall) (?:try|test|check|look|give)"
    r"|trying (?:it|that|this|now)|will (?:report|let you know|come back))\b"
)
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|ty|cheers|merci|danke|grazie|ok|okay)\b")
_BUT = re.compile(r"\b(?:but|however|though|although|except that|yet)\b")


def normalise(text: str) -> str:
    """The text as compared: lower case, plain apostrophes, contractions spelled out, emphasis
    repeats squeezed, quoted lines and code blocks dropped, one space between words."""
    text = _QUOTED.sub(" ", _CODE_BLOCK.sub(" ", unicodedata.normalize("NFKC", text)))
    text = text.translate(_APOSTROPHES).lower()
    text = _REPEATS.sub(r"\1", text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()


def _signals(clause: str) -> set[str]:
    """Which kinds of news one clause holds: wrong, self, broken, helped, hedge, try, thanks."""
    found: set[str] = set()
    for name, pattern in (
        ("wrong", _ANSWER_WRONG),
        ("self", _SELF_SOLVED),
        ("broken", _STILL_BROKEN),
        ("helped", _HELPED),
    ):
        clause, hits = pattern.subn(" ", clause)
        if hits:
            found.add(name)
    for name, pattern in (("hedge", _HEDGE), ("try", _WILL_TRY), ("thanks", _THANKS)):
        if pattern.search(clause):
            found.add(name)
    return found


def feedback_in(text: str) -> Feedback | None:
    """What an asker's reply says about the bot's answer (see the module docstring)."""
    plain = normalise(text)
    if not plain:
        return None
    clauses = [c.strip(" ,.;:!") for c in _BUT.split(plain)]
    per_clause = [_signals(c) for c in clauses if c]
    signals = set().union(*per_clause) if per_clause else set()
    if "wrong" in signals:
        return "not_helped"
    asks = "?" in plain
    if "broken" in signals and "helped" in signals:
        deciding = [s for s in per_clause if s & {"broken", "helped"}]
        last = deciding[-1] if len(deciding) > 1 else set()
        if last & {"broken", "helped"} == {"broken"}:
            return "not_helped"
        if last & {"broken", "helped"} == {"helped"}:
            return "ambiguous" if asks else "helped"
        return "ambiguous"
    if "broken" in signals:
        return "not_helped"
    if "helped" in signals:
        return "ambiguous" if asks or signals & {"hedge", "self"} else "helped"
    if "self" in signals:
        return "ambiguous"
    if asks:
        return "not_helped"
    if "try" in signals:
        return None
    if "thanks" in signals and len(plain.split()) <= 12:
        return "ambiguous"
    return None


POSITIVE_EMOJI = frozenset(
    {"white_check_mark", "heavy_check_mark", "+1", "thumbsup", "tada", "ok_hand", "raised_hands"}
)
NEGATIVE_EMOJI = frozenset(
    {"x", "-1", "thumbsdown", "no_entry_sign", "disappointed", "confused", "cry"}
)


def feedback_from_emoji(emoji: str) -> Literal["helped", "not_helped"] | None:
    """A reaction on the bot's answer: a check mark or thumbs up helped, a cross or thumbs down
    did not; any other emoji says nothing."""
    if emoji in POSITIVE_EMOJI:
        return "helped"
    if emoji in NEGATIVE_EMOJI:
        return "not_helped"
    return None
