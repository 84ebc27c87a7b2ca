"""Text normalisation for matching: what becomes an index term and what is masked away."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dastbot.answering.textnorm import analyse, mask_identifiers, stem, terms


@pytest.mark.parametrize(
    "forms",
    [
        ("expire", "expired", "expires", "expiring"),
        ("replica", "replicas"),
        ("download", "downloaded", "downloading", "downloads"),
        ("time", "timed", "times"),
        ("run", "running", "runs"),
        ("day", "days"),
    ],
)
def test_inflected_forms_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(f) for f in forms}) == 1


def test_stemming_keeps_apart_what_is_not_a_plural() -> None:
    assert stem("pandas") != stem("panda")
    assert stem("status") == "status"
    assert stem("analysis") == "analysis"


def test_compounds_are_kept_whole_and_split_with_a_shared_weight() -> None:
    found = {t.text: t for t in analyse("--nFilesPerJob")}
    assert found["nfilesperjob"].weight == 1.0
    assert {"file", "per", "job"} <= found.keys()
    assert found["job"].weight == pytest.approx(1 / 4)


def test_camel_case_snake_case_and_acronym_plurals() -> None:
    assert {"insufficient", "account", "limit"} <= set(terms("InsufficientAccountLimit"))
    assert {"over_cpu_consumption", "cpu", "consumption"} <= set(terms("over_cpu_consumption"))
    assert "rse" in terms("Which RSEs can I use?")


def test_identifiers_are_masked_and_leave_a_hint() -> None:
    text = (
        "rucio get data18_13TeV:data18_13TeV.00358333.physics_Main.merge.AOD.f961_m2015 "
        "at INFN-T1 for task 40211133 (https://bigpanda.cern.ch/task/40211133/) "
        "with AnalysisBase 25.2.40 on 2024-03-02 11:42:07"
    )
    masked = mask_identifiers(text, hints=True)
    for gone in ("data18", "INFN", "40211133", "bigpanda", "25.2.40", "11:42"):
        assert gone not in masked
    assert {"dataset", "site", "release"} <= set(masked.split())
    assert "dataset" not in mask_identifiers(text).split()


def test_a_did_with_a_dotted_scope_is_masked_whole() -> None:
    assert "jdoe" not in terms("user.jdoe:user.jdoe.test.v1")


def test_storage_tokens_units_placeholders_and_synonyms() -> None:
    assert "tape" in terms("only on BNL-OSG2_DATATAPE")
    assert "disk" in terms("replicate to SCRATCHDISK")
    assert "hour" in terms("killed after 47h")
    assert "%in" in terms("my %IN gets root URLs")
    assert "memory" in terms("OOM killed")
    assert "certificat" in terms("my usercert expired")


def test_stopwords_and_lone_characters_are_dropped() -> None:
    assert terms("how do I do it?") == []
    assert terms("a b c") == []


@given(st.text(max_size=200))
def test_any_text_gives_lowercase_weighted_terms(text: str) -> None:
    for term in analyse(text):
        assert term.text
        assert term.text == term.text.lower()
        assert 0.0 < term.weight <= 1.0
