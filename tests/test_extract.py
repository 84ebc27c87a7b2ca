"""Tests for dastbot.answering.extract: identifiers in what users really paste, and its speed."""

from __future__ import annotations

import itertools
import random
import string
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dastbot.answering.extract import (
    FACTS,
    KINDS,
    MAX_ERROR_LINE_CHARS,
    MAX_ERROR_LINES,
    Identifiers,
    Span,
    ask_sentence,
    extract,
    identifier_links,
    mask,
    missing_facts,
    spans,
)
from dastbot.answering.extract.errors import RUCIO_EXCEPTIONS as _RUCIO_EXCEPTIONS

PANDA = "https://bigpanda.cern.ch"
RUCIO = "https://rucio-ui.cern.ch"
MC_DID = (
    "mc23_13p6TeV:mc23_13p6TeV.601229.PhPy8EG_A14_ttbar_hdamp258p75_SingleLep"
    ".deriv.DAOD_PHYS.e8514_s4162_r14622_p6026"
)


# --------------------------------------------------------------------------------------------
# Task and job ids


def test_bigpanda_task_link_in_a_sentence() -> None:
    ids = extract("Hi, my task https://bigpanda.cern.ch/task/40211133/ keeps failing, any idea?")
    assert ids.task_ids == ("40211133",)
    assert ids.urls == ("https://bigpanda.cern.ch/task/40211133/",)
    assert ids.job_ids == ()


@pytest.mark.parametrize(
    ("text", "tasks", "jobs"),
    [
        (f"see {PANDA}/job?pandaid=6345123456 please", (), ("6345123456",)),
        (f"{PANDA}/jobs/?jeditaskid=40211133&jobstatus=failed", ("40211133",), ()),
        (f"{PANDA}/tasknew/40211133/", ("40211133",), ()),
        ("bigpanda.cern.ch/task/40211133", ("40211133",), ()),
        (f"[my task]({PANDA}/task/40211133/)", ("40211133",), ()),
        ("HTTPS://BIGPANDA.CERN.CH/TASK/40211133/", ("40211133",), ()),
    ],
)
def test_ids_inside_bigpanda_urls(text: str, tasks: tuple[str, ...], jobs: tuple[str, ...]) -> None:
    ids = extract(text)
    assert (ids.task_ids, ids.job_ids) == (tasks, jobs)


@pytest.mark.parametrize(
    ("text", "tasks", "jobs"),
    [
        ("task 12345678 is stuck", ("12345678",), ()),
        ("jeditaskid=40211133", ("40211133",), ()),
        ("taskID: 40211133", ("40211133",), ()),
        ("JediTaskID 40211133 broken", ("40211133",), ()),
        ("the task (40211133) and task #40211134", ("40211133", "40211134"), ()),
        ("tasks 40211133, 40211134 and 40211135 failed", ("40211133", "40211134", "40211135"), ()),
        ("job 6345123456 got killed", (), ("6345123456",)),
        ("PandaID: 6345123456, pandaid=6345123457", (), ("6345123456", "6345123457")),
        ("task 40211133, job 6345123456", ("40211133",), ("6345123456",)),
    ],
)
def test_ids_after_cue_words(text: str, tasks: tuple[str, ...], jobs: tuple[str, ...]) -> None:
    ids = extract(text)
    assert (ids.task_ids, ids.job_ids) == (tasks, jobs)


@pytest.mark.parametrize(
    "text",
    [
        "at 12:34:56 on 2024-03-02",
        "it worked on 20240302 but not on 20240303",
        "40211133",  # no cue word: could be anything
        "the number 6345123456 appears in my log",
        "task took 12345 s; job ran 1234567 events",  # too short for ids
        "task 2024-03-02 12:34:56",  # a date after the cue word
        "job 1.2345678901",
        "subtask 40211133",
    ],
)
def test_numbers_that_are_not_ids(text: str) -> None:
    ids = extract(text)
    assert ids.task_ids == ()
    assert ids.job_ids == ()


def test_timestamp_message_has_no_identifiers_at_all() -> None:
    assert extract("at 12:34:56 on 2024-03-02").is_empty()
    assert spans("at 12:34:56 on 2024-03-02") == []


# --------------------------------------------------------------------------------------------
# Rucio DIDs, RSEs, sites, releases


def test_scoped_dids() -> None:
    text = f"rucio download user.jdoe:user.jdoe.mytest.v1 fails, input was {MC_DID}."
    assert extract(text).dids == ("user.jdoe:user.jdoe.mytest.v1", MC_DID)


def test_bare_dataset_names_with_slash_and_tid() -> None:
    text = (
        "outputs user.jdoe.ntuple.v2/ and group.phys-top.ttbar.v1 from "
        "data18_13TeV.00348885.physics_Main.deriv.DAOD_PHYS.r13286_p4910_p5855_tid33445566_00, "
        "valid1.110401.PowhegPythia.recon.AOD.e3099"
    )
    assert extract(text).dids == (
        "user.jdoe.ntuple.v2",
        "group.phys-top.ttbar.v1",
        "data18_13TeV.00348885.physics_Main.deriv.DAOD_PHYS.r13286_p4910_p5855_tid33445566_00",
        "valid1.110401.PowhegPythia.recon.AOD.e3099",
    )


def test_not_dids() -> None:
    ids = extract("Error:foo std::bad_alloc user.jdoe mc23_13p6TeV john.user.name@cern.ch")
    assert ids.dids == ()


def test_did_in_a_rucio_link_and_in_text_is_reported_once() -> None:
    text = f"{RUCIO}/did?scope=user.jdoe&name=user.jdoe.test.v1 aka user.jdoe.test.v1"
    assert extract(text).dids == ("user.jdoe:user.jdoe.test.v1",)


def test_rses() -> None:
    text = (
        "rule to CERN-PROD_SCRATCHDISK stuck, DESY-HH_LOCALGROUPDISK full, "
        "BNL-OSG2_DATADISK, NDGF-T1_MCTAPE and CERN-PROD_PHYS-TOP"
    )
    assert extract(text).rses == (
        "CERN-PROD_SCRATCHDISK",
        "DESY-HH_LOCALGROUPDISK",
        "BNL-OSG2_DATADISK",
        "NDGF-T1_MCTAPE",
        "CERN-PROD_PHYS-TOP",
    )
    assert extract(text).sites == ()


def test_sites_and_queues() -> None:
    names: tuple[str, ...] = ("ANALY_MANC_GPU", "BNL_PROD", "CERN-PROD", "UKI-NORTHGRID-MAN-HEP")
    names += ("praguelcg2", "TOKYO-LCG2", "INFN-T1", "FZK-LCG2", "IN2P3-CC", "TRIUMF-LCG2")
    names += ("SWT2_CPB",)
    assert extract("jobs ran at " + ", ".join(names) + ".").sites == names


def test_site_cue_words() -> None:
    ids = extract("computingsite=ANALY_FOO_BAR; site: wuppertal2 and queue is MY-QUEUE")
    assert ids.sites == ("ANALY_FOO_BAR", "wuppertal2", "MY-QUEUE")
    assert extract("the site is down and the queue is full, see site-packages").sites == ()


def test_generic_uppercase_words_are_not_sites() -> None:
    text = (
        "ERROR FATAL VOMS ATLAS CVMFS JEDI AMI OK DAOD_PHYS X509_USER_PROXY LD_LIBRARY_PATH "
        "site ERROR, queue OK"
    )
    ids = extract(text)
    assert (ids.sites, ids.rses) == ((), ())


def test_releases() -> None:
    text = (
        "I use AthAnalysis,24.2.35 (also tried Athena,24.0.53 and AnalysisBase,25.2.12); "
        "asetup Athena,main,latest; asetup 24.2.35,AthDerivation,here; "
        "[AthAnalysis-24.2.36] from the log"
    )
    assert extract(text).releases == (
        "AthAnalysis,24.2.35",
        "Athena,24.0.53",
        "AnalysisBase,25.2.12",
        "Athena,main,latest",
        "AthDerivation,24.2.35",
        "AthAnalysis,24.2.36",
    )
    assert extract("asetup 24.2.35 and then ran").releases == ("24.2.35",)
    assert extract("the Athena main loop, version 1.2.3").releases == ()


# --------------------------------------------------------------------------------------------
# Error codes and error lines


def test_error_codes_with_their_kind() -> None:
    text = (
        "pilot error 1235; pilotErrorCode 1305. exeErrorCode 65; transExitCode 8. "
        "trf exit code 65; error code 1099; Pilot error code: 1324"
    )
    assert extract(text).error_codes == (
        ("pilot", "1235"),
        ("pilot", "1305"),
        ("exe", "65"),
        ("trans", "8"),
        ("trans", "65"),
        ("pilot", "1099"),
        ("pilot", "1324"),
    )


def test_generic_codes_need_context() -> None:
    assert extract("error code 42").error_codes == (("other", "42"),)
    assert extract("athena exit code 65").error_codes == (("trans", "65"),)
    assert extract("the script ended with exit code 1").error_codes == ()
    assert extract("pilot:1099 exe:65 ddm:200").error_codes == (
        ("pilot", "1099"),
        ("exe", "65"),
        ("ddm", "200"),
    )


def test_error_codes_are_not_ids() -> None:
    ids = extract("task failed with error code 1099 and pilot error 1305")
    assert ids.task_ids == ids.job_ids == ()


def test_pilot_error_line() -> None:
    text = (
        "Hi experts,\nmy job fails:\n"
        "  Pilot error 1099: Failed to stage-in file: DataIdentifierNotFound  \nthanks!"
    )
    ids = extract(text)
    assert ids.error_codes == (("pilot", "1099"),)
    assert ids.error_lines == ("Pilot error 1099: Failed to stage-in file: DataIdentifierNotFound",)


def test_voms_and_proxy_errors() -> None:
    text = "\n".join(
        [
            "$ voms-proxy-init -voms atlas",
            "Error: the proxy has expired",
            "voms-proxy-init: error while loading shared libraries",
            "VOMS Server for atlas not known!",
            "Could not find a valid proxy.",
            "Enter GRID pass phrase for this identity:",
        ]
    )
    assert extract(text).error_lines == (
        "Error: the proxy has expired",
        "voms-proxy-init: error while loading shared libraries",
        "VOMS Server for atlas not known!",
        "Could not find a valid proxy.",
    )


@pytest.mark.parametrize(
    "line",
    [
        "rucio.common.exception.DataIdentifierNotFound: Data identifier not found.",
        "RSEWriteBlocked: RSE CERN-PROD_SCRATCHDISK is blocked for writing",
        "InsufficientAccountLimit: there is not enough quota left",
        "StagingAreaRuleRequiresLifetime",
        "Traceback (most recent call last):",
        "KeyError: 'pt'",
        "ERROR: transformation failed",
        "FATAL in ApplicationMgr",
        "Error in <TFile::Init>: file AOD.pool.root is truncated",
        "Segmentation fault (core dumped)",
        "pilotErrorDiag: lost heartbeat",
        "Transform failed with non-zero exit code",
    ],
)
def test_error_line_kinds(line: str) -> None:
    assert extract(f"Hello,\nI get\n{line}\nThanks").error_lines == (line,)


def test_every_rucio_exception_name_makes_an_error_line() -> None:
    # the cheap pre-filter must let through every line the precise patterns accept
    for name in _RUCIO_EXCEPTIONS:
        assert extract(f"Hello\nrucio says {name} here\n").error_lines == (
            f"rucio says {name} here",
        )


def test_prose_and_bigpanda_error_pages_are_not_error_lines() -> None:
    text = (
        "Hi, my job failed, can you help?\n"
        "Dear experts, I see errors in my task\n"
        "https://bigpanda.cern.ch/errors/?jeditaskid=40211133\n"
        "all went fine yesterday"
    )
    assert extract(text).error_lines == ()


def test_error_lines_are_limited_in_number_and_length() -> None:
    long_line = "ERROR " + "x" * 1000
    lines = [f"ERROR number {i}" for i in range(40)]
    ids = extract("\n".join([long_line, *lines]))
    assert len(ids.error_lines) == MAX_ERROR_LINES
    assert len(ids.error_lines[0]) == MAX_ERROR_LINE_CHARS
    assert ids.error_lines[1] == "ERROR number 0"
    assert extract("ERROR same\nERROR same\n  ERROR same").error_lines == ("ERROR same",)


# --------------------------------------------------------------------------------------------
# URLs, spans, mask


def test_urls_lose_markdown_and_sentence_punctuation() -> None:
    text = (
        "logs: <https://example.org/log.txt>, [here](https://cern.ch/a_(b)), "
        "and https://bigpanda.cern.ch/jobs/?jobstatus=failed|cancelled."
    )
    assert extract(text).urls == (
        "https://example.org/log.txt",
        "https://cern.ch/a_(b)",
        "https://bigpanda.cern.ch/jobs/?jobstatus=failed|cancelled",
    )


def test_spans_are_sorted_non_overlapping_and_typed() -> None:
    text = (
        f"task 40211133 at ANALY_MANC_GPU -> {PANDA}/task/40211134/ writing "
        "user.jdoe:user.jdoe.x.v1 to CERN-PROD_SCRATCHDISK with AthAnalysis,24.2.35, "
        "pilot error 1099"
    )
    found = spans(text)
    assert [s.kind for s in found] == [
        "task_id",
        "site",
        "url",
        "did",
        "rse",
        "release",
        "error_code",
    ]
    assert found[0] == Span(5, 13, "task_id", "40211133")
    assert found[-1].value == "pilot:1099"
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_offsets_survive_characters_that_grow_when_lower_cased() -> None:
    text = "\u0130stanbul: task 40211133"  # U+0130 lower-cases to two code points
    (span,) = spans(text)
    assert text[span.start : span.end] == "40211133"


def test_mask_all_kinds() -> None:
    text = f"task 40211133 ({PANDA}/task/40211133/) on CERN-PROD_SCRATCHDISK: pilot error 1099"
    assert mask(text) == "task   ( ) on  : pilot error  "
    assert mask(text, replacement="<id>") == "task <id> (<id>) on <id>: pilot error <id>"


def test_mask_selected_kinds_reaches_inside_urls() -> None:
    text = f"see {PANDA}/task/40211133/ and task 40211134"
    assert mask(text, ["task_id"], "#") == f"see {PANDA}/task/#/ and task #"
    assert mask(text, ("url",), "<url>") == "see <url> and task 40211134"
    assert mask(text, ()) == text


def test_mask_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown span kinds"):
        mask("task 40211133", ["taskid"])
    with pytest.raises(TypeError):
        mask("task 40211133", "task_id")


# --------------------------------------------------------------------------------------------
# Missing facts, the question, links


def test_missing_facts_for_a_vague_message() -> None:
    text = "Hi, my grid jobs are all failing since yesterday, can you help?"
    assert missing_facts(text, ["task_id", "error"]) == ["task_id", "error"]
    assert ask_sentence(missing_facts(text, ["task_id", "error"])) == (
        "To help a shifter, please add the jediTaskID and the exact error message."
    )


def test_missing_facts_satisfied() -> None:
    text = f"task {PANDA}/task/40211133/ fails with pilot error 1099"
    assert missing_facts(text, ["task_id", "error"]) == []
    assert ask_sentence([]) == ""
    # a job id or a BigPanda link without an id is enough to find the task
    assert missing_facts("job 6345123456 is stuck", ["task_id", "job_id"]) == []
    assert missing_facts(f"{PANDA}/tasks/?username=jdoe", ["task_id"]) == []
    assert missing_facts("task 40211133", ["job_id"]) == ["job_id"]


def test_missing_facts_each_kind() -> None:
    ask = list(FACTS)
    assert missing_facts("hello", ask) == ask
    assert missing_facts('it says "cannot open the input file"', ["error"]) == []
    assert missing_facts("> the proxy is gone", ["error"]) == []
    assert missing_facts("input user.jdoe.test.v1", ["dataset"]) == []
    assert missing_facts("at BNL-OSG2_DATADISK", ["site"]) == []
    assert missing_facts("queue ANALY_MANC_GPU", ["site"]) == []
    assert missing_facts("asetup AthAnalysis,24.2.35", ["release"]) == []
    assert missing_facts("log: https://cernbox.cern.ch/s/abc", ["log"]) == []
    assert missing_facts(f"{PANDA}/job?pandaid=6345123456", ["log"]) == ["log"]
    paste = "```\nline one\nline two\nline three\n```"
    assert missing_facts(paste, ["log"]) == []
    assert missing_facts("Hi,\nmy job failed.\nThanks", ["log"]) == ["log"]


def test_missing_facts_reuses_given_ids_and_keeps_order() -> None:
    ids = Identifiers(task_ids=("40211133",))
    assert missing_facts("", ["release", "task_id", "release"], ids) == ["release"]
    with pytest.raises(ValueError, match="unknown facts"):
        missing_facts("", ["taskid"])


def test_ask_sentence_phrasing() -> None:
    assert ask_sentence(["release"]) == (
        "To help a shifter, please add the release you set up (the asetup line)."
    )
    sentence = ask_sentence(["task_id", "dataset", "log"])
    assert sentence == (
        "To help a shifter, please add the jediTaskID, the full dataset name (scope:name) "
        "and a link to the log."
    )
    assert sentence.endswith(".")
    assert ". " not in sentence  # one sentence
    with pytest.raises(ValueError, match="unknown facts"):
        ask_sentence(["stack trace"])


def test_identifier_links() -> None:
    ids = extract(
        f"task 40211133, job 6345123456, user.jdoe:user.jdoe.test.v1, group.phys-top.nt.v1/, "
        f"{MC_DID.split(':')[1]}"
    )
    links = identifier_links(ids, "https://bigpanda.cern.ch/", "https://rucio-ui.cern.ch/")
    assert links == [
        ("BigPanda task 40211133", "https://bigpanda.cern.ch/task/40211133/"),
        ("BigPanda job 6345123456", "https://bigpanda.cern.ch/job?pandaid=6345123456"),
        (
            "Rucio user.jdoe:user.jdoe.test.v1",
            "https://rucio-ui.cern.ch/did?scope=user.jdoe&name=user.jdoe.test.v1",
        ),
        (
            "Rucio group.phys-top:group.phys-top.nt.v1",
            "https://rucio-ui.cern.ch/did?scope=group.phys-top&name=group.phys-top.nt.v1",
        ),
        (
            f"Rucio {MC_DID}",
            f"https://rucio-ui.cern.ch/did?scope=mc23_13p6TeV&name={MC_DID.split(':')[1]}",
        ),
    ]
    assert identifier_links(Identifiers(), PANDA, RUCIO) == []


def test_is_empty() -> None:
    assert Identifiers().is_empty()
    assert not Identifiers(error_lines=("ERROR x",)).is_empty()
    assert extract("thanks a lot, all good now").is_empty()


# --------------------------------------------------------------------------------------------
# Properties

FRAGMENTS = [
    "task",
    "job ",
    "jeditaskid=",
    "PandaID",
    "asetup ",
    "Athena,",
    "AthAnalysis-",
    "https://",
    "bigpanda.cern.ch/task/",
    "user.",
    "group.",
    "mc23_13p6TeV",
    "data18_",
    ":",
    "/",
    ".",
    ",",
    "_",
    "-",
    " ",
    "\n",
    "\t",
    '"',
    "```",
    "(",
    ")",
    "ERROR",
    "error code",
    "pilot:",
    "exit",
    "site ",
    "queue=",
    "CERN-PROD",
    "_SCRATCHDISK",
    "lcg2",
    "MWT2",
    "\u0130",
    "40211133",
    "6345123456",
    "24.2.35",
    "1099",
]
messy_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=60).map("".join)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | messy_text)
def test_never_crashes_and_spans_are_consistent(text: str) -> None:
    found = spans(text)
    for span in found:
        assert 0 <= span.start < span.end <= len(text)
        assert span.kind in KINDS
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    ids = extract(text)
    assert len(ids.error_lines) <= MAX_ERROR_LINES
    assert all(0 < len(line) <= MAX_ERROR_LINE_CHARS for line in ids.error_lines)
    assert all(t.isdigit() for t in ids.task_ids + ids.job_ids)
    assert mask(text, ()) == text
    bounds = [0] + [i for s in found for i in (s.start, s.end)] + [len(text)]
    outside = "".join(text[a:b] for a, b in zip(bounds[::2], bounds[1::2], strict=True))
    assert mask(text, KINDS, "") == outside
    missing = missing_facts(text, FACTS, ids)
    assert set(missing) <= set(FACTS)
    assert (ask_sentence(missing) == "") == (not missing)


LOG_VOCABULARY = [
    "INFO",
    "DEBUG",
    "WARNING",
    "ERROR",
    "FATAL",
    "|",
    "pilot.control.data",
    "stage-in of file",
    "EVNT.12345._000123.pool.root.1",
    "finished in",
    "AthenaEventLoopMgr",
    "===>>> done processing event #",
    "Py:Athena",
    "using release [AthAnalysis-24.2.35] [x86_64-el9-gcc13-opt]",
    "/cvmfs/atlas.cern.ch/repo/ATLASLocalRootBase/x86_64/Cont/setup.sh",
    "root://eosatlas.cern.ch//eos/atlas/atlasscratchdisk/rucio/user/jdoe/12/ab/",
    "user.jdoe.40211133._000001.output.root",
    "Failed to get replicas for",
    "task",
    "job",
    "site",
    "queue",
    "ANALY_MANC_GPU",
    "UKI-NORTHGRID-MAN-HEP",
    "CERN-PROD_SCRATCHDISK",
    "transExitCode 65",
    "pilot error",
    "exit code",
    "Traceback (most recent call last):",
    "KeyError: 'x'",
    "https://bigpanda.cern.ch/job?pandaid=6345123456",
    "vmPeak=1234567",
    "::",
    "0x7f3a",
    '"quoted"',
    "time=123.4s",
    "my",
    "failed",
]


def _log_text(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        stamp = (
            f"2024-03-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        )
        words = [rng.choice(LOG_VOCABULARY) for _ in range(rng.randint(1, 12))]
        words += [str(rng.randint(0, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(0, 3))]
        rng.shuffle(words)
        line = stamp + " " + " ".join(words)
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size]


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_64kb_of_log_is_fast(seed: int) -> None:
    text = _log_text(random.Random(seed), 64 * 1024)
    best = min(_elapsed(text) for _ in range(2))
    assert best < 0.050, f"extract took {best * 1000:.1f} ms on 64 KB of log"


def _elapsed(text: str) -> float:
    """CPU seconds of one extraction: the work done, whatever else the machine is running."""
    start = time.thread_time()
    extract(text)
    return time.thread_time() - start


@pytest.mark.parametrize(
    "text",
    [
        " " * 65536,
        ":" * 65536,
        "task " * 13000,
        "A-" * 32768,
        "user." * 13000,
        '"' + "a" * 65535,
        "1" * 65536,
        "http://x" + ")" * 65000,
        "asetup " + "Athena," * 9000,
        "failed\n" * 9000,
        "user.a." + "b." * 32000,
        "ab" * 32000 + ":x",
        "Error code " * 6000,
    ],
    ids=lambda t: repr(t[:12]),
)
def test_pathological_64kb_inputs_stay_linear(text: str) -> None:
    best = min(_elapsed(text) for _ in range(2))
    assert best < 0.050, f"{best * 1000:.1f} ms"


NAME_CHARS = string.ascii_letters + string.digits + "_-"
PROJECTS = ["AthAnalysis", "Athena", "AnalysisBase", "AthDerivation", "AthSimulation"]
RSE_TYPES = ["SCRATCHDISK", "LOCALGROUPDISK", "DATADISK", "MCTAPE", "DATATAPE", "USERDISK"]
FILLER = ["the", "grid", "output", "then", "ran", "see", "on", "with", "and", "at", "from"]
FILLER += ["still", "--", "(", ")", "42", "12:34:56", "2024-03-02", "ok", "Error:", "my", "\n"]

task_ids = st.integers(1_000_000, 999_999_999).map(str)
job_ids = st.integers(1_000_000_000, 99_999_999_999).map(str)
nicks = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
site_words = st.from_regex(r"[A-Z][A-Z0-9]{1,7}", fullmatch=True)
name_parts = st.lists(st.text(NAME_CHARS, min_size=1, max_size=12), min_size=1, max_size=4).map(
    ".".join
)


@st.composite
def embedded_identifier(draw: st.DrawFn) -> tuple[str, str, str]:
    """(field of Identifiers, value expected there, text as a user would write it)."""
    kind = draw(st.sampled_from(["task", "job", "url", "did", "rse", "site", "release"]))
    if kind == "task":
        tid = draw(task_ids)
        cue = draw(st.sampled_from(["task ", "Task ", "task ID ", "jeditaskid=", "taskID: "]))
        return "task_ids", tid, cue + tid
    if kind == "job":
        jid = draw(job_ids)
        cue = draw(st.sampled_from(["job ", "PandaID ", "pandaid=", "panda job ", "Job ID: "]))
        return "job_ids", jid, cue + jid
    if kind == "url":
        tid, jid = draw(task_ids), draw(job_ids)
        return draw(
            st.sampled_from(
                [
                    ("task_ids", tid, f"{PANDA}/task/{tid}/"),
                    ("task_ids", tid, f"{PANDA}/tasknew/{tid}/"),
                    ("task_ids", tid, f"{PANDA}/jobs/?jeditaskid={tid}&jobstatus=failed"),
                    ("job_ids", jid, f"{PANDA}/job?pandaid={jid}"),
                ]
            )
        )
    if kind == "did":
        nick, parts = draw(nicks), draw(name_parts)
        suffix = draw(st.sampled_from(["", "/", f"_tid{draw(task_ids)}_00"]))
        name = draw(
            st.sampled_from(
                [
                    f"user.{nick}.{parts}",
                    f"group.phys-{nick}.{parts}",
                    f"mc23_13p6TeV.601229.{parts}",
                    f"data18_13TeV.00348885.{parts}",
                ]
            )
        )
        name += suffix.rstrip("/")  # a trailing "/" is written but is not part of the name
        two_parts = name.startswith(("user.", "group."))
        scope = ".".join(name.split(".")[:2]) if two_parts else name.split(".")[0]
        slash = "/" if suffix == "/" else ""
        if draw(st.booleans()):
            return "dids", f"{scope}:{name}", f"{scope}:{name}{slash}"
        return "dids", name, name + slash
    if kind == "rse":
        site = draw(site_words) + draw(st.sampled_from(["", "-PROD", "-LCG2", "-HH", "-OSG2"]))
        rse = f"{site}_{draw(st.sampled_from(RSE_TYPES))}"
        return "rses", rse, rse
    if kind == "site":
        place = draw(site_words.filter(lambda w: not w.endswith(("DISK", "TAPE"))))
        queue = f"ANALY_{place}{draw(st.sampled_from(['', '_GPU', '_MCORE', '_SHORT', '_2']))}"
        return "sites", queue, queue
    project = draw(st.sampled_from(PROJECTS))
    version = f"{draw(st.integers(20, 25))}.{draw(st.integers(0, 9))}.{draw(st.integers(1, 150))}"
    written = draw(
        st.sampled_from(
            [
                f"{project},{version}",
                f"asetup {project},{version},here",
                f"asetup {version},{project}",
            ]
        )
    )
    return "releases", f"{project},{version}", written


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(FILLER), max_size=4),
            st.sampled_from(["", "("]),
            embedded_identifier(),
            st.sampled_from(["", ",", ".", ";", ")", ":", "?"]),
        ),
        min_size=1,
        max_size=8,
    )
)
@example(  # a project name that does not start a release must not hide the next one
    [
        ([], "", ("releases", "AthAnalysis,20.0.2", "asetup 20.0.2,AthAnalysis"), ""),
        ([], "", ("releases", "AthAnalysis,20.0.1", "AthAnalysis,20.0.1"), ""),
    ]
)
def test_embedded_identifiers_are_all_found(
    pieces: list[tuple[list[str], str, tuple[str, str, str], str]],
) -> None:
    words: list[str] = []
    for filler, before, (_field, _value, written), after in pieces:
        words += [*filler, before + written + after]
    ids = extract(" ".join(words))
    # a bare name also written as scope:name elsewhere is reported once, in the scoped form
    did_names = {did.split(":", 1)[-1] for did in ids.dids}
    for _filler, _before, (field, value, _written), _after in pieces:
        if field == "dids" and ":" not in value:
            assert value in did_names, (value, " ".join(words))
        else:
            assert value in getattr(ids, field), (field, value, " ".join(words))
