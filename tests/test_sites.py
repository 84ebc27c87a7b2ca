"""The site map: which site and cloud a site, PanDA queue or RSE name belongs to; suggestions
for typos; and building the map from an ATLAS CRIC export."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from dastbot.escalations.contacts import load_contacts
from dastbot.escalations.sites import (
    SiteMap,
    SiteResolution,
    SitesError,
    import_cric,
    load_sites,
    parse_sites,
    sites_yaml,
)

REPO = Path(__file__).resolve().parent.parent
CRIC_SAMPLE = FIXTURES / "cric-sample.json"
CRIC_QUEUES = FIXTURES / "escalations" / "cric-pandaqueues.json"


@pytest.fixture(scope="module")
def sites() -> SiteMap:
    contacts = load_contacts(REPO / "knowledge" / "contacts.yaml")
    return load_sites(REPO / "knowledge" / "sites.yaml", clouds=contacts.clouds())


# --- the shipped map -----------------------------------------------------------------------


def test_the_shipped_map_has_the_tier1s_and_big_tier2s_in_clouds_with_support(
    sites: SiteMap,
) -> None:
    for name in (
        "CERN-PROD", "BNL-ATLAS", "FZK-LCG2", "IN2P3-CC", "INFN-T1", "NDGF-T1", "pic",
        "RAL-LCG2", "SARA-MATRIX", "TRIUMF-LCG2", "Taiwan-LCG2", "RRC-KI-T1", "MWT2", "AGLT2",
        "SWT2_CPB", "DESY-HH", "praguelcg2", "UKI-NORTHGRID-MAN-HEP", "TOKYO-LCG2",
    ):  # fmt: skip
        assert sites.get(name) is not None, name
    assert set(sites.clouds()) == {
        "CA", "CERN", "DE", "ES", "FR", "IT", "ND", "NL", "RU", "TW", "UK", "US",
    }  # fmt: skip
    assert all(site.queues or site.rses for site in sites)


def test_resolve_a_site_name_case_insensitively(sites: SiteMap) -> None:
    assert sites.resolve("fzk-lcg2") == SiteResolution("FZK-LCG2", "DE", "site", "FZK-LCG2")
    assert sites.resolve(" Praguelcg2 ") == SiteResolution("praguelcg2", "DE", "site", "praguelcg2")


def test_resolve_a_panda_queue(sites: SiteMap) -> None:
    assert sites.resolve("analy_mwt2") == SiteResolution("MWT2", "US", "queue", "ANALY_MWT2")
    assert sites.resolve("BNL") == SiteResolution("BNL-ATLAS", "US", "queue", "BNL")
    assert sites.resolve("TOKYO") == SiteResolution("TOKYO-LCG2", "FR", "queue", "TOKYO")


def test_resolve_an_rse_whose_prefix_differs_from_the_site(sites: SiteMap) -> None:
    assert sites.resolve("BNL-OSG2_DATADISK") == SiteResolution(
        "BNL-ATLAS", "US", "rse", "BNL-OSG2_DATADISK"
    )
    assert sites.resolve("cern-prod_scratchdisk") == SiteResolution(
        "CERN-PROD", "CERN", "rse", "CERN-PROD_SCRATCHDISK"
    )


def test_an_unlisted_rse_resolves_through_its_prefix(sites: SiteMap) -> None:
    assert sites.resolve("FZK-LCG2_PHYS-HIGGS") == SiteResolution(
        "FZK-LCG2", "DE", "rse-prefix", "FZK-LCG2_PHYS-HIGGS"
    )
    assert sites.resolve("bnl-osg2_phys-sm") == SiteResolution(
        "BNL-ATLAS", "US", "rse-prefix", "BNL-OSG2_PHYS-SM"
    )
    assert sites.resolve("RAL-LCG2-ECHO_PHYS-EXOTICS") == SiteResolution(
        "RAL-LCG2", "UK", "rse-prefix", "RAL-LCG2-ECHO_PHYS-EXOTICS"
    )
    assert sites.resolve("FZK-LCG2_UCORE2") is None  # not an RSE-looking tail


def test_unknown_names_do_not_resolve(sites: SiteMap) -> None:
    assert sites.resolve("CERN-PORD") is None
    assert sites.resolve("") is None


def test_suggest_close_names_for_a_typo(sites: SiteMap) -> None:
    assert sites.suggest("CERN-PORD")[0] == "CERN-PROD"
    assert sites.suggest("fzk-lgc2")[0] == "FZK-LCG2"
    assert sites.suggest("ANALY_MWT3")[0] == "ANALY_MWT2"
    assert len(sites.suggest("INFN", n=3)) <= 3
    assert sites.suggest("qqqqqqqqqq") == []
    assert sites.suggest("CERN-PORD", n=0) == []


# --- validation ----------------------------------------------------------------------------

BROKEN = """\
sites:
  - site: FZK-LCG2
    cloud: DE
    queues: [FZK-LCG2, ANALY_FZK]
    rses: [FZK-LCG2_DATADISK]
  - site: DESY-HH
    cloud: de
    rses: [DESY-HH_DATADISK, FZK-LCG2_DATADISK]
  - site: NOWHERE-T2
    cloud: XX
    tier: 2
  - cloud: US
    queues: [MWT2]
  - site: Some Site
    cloud: CERN
    rses: cern-prod_datadisk
  - site: fzk-lcg2
    cloud: DE
"""


def test_site_map_errors_are_reported_all_at_once_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SitesError) as caught:
        load_sites(path, clouds=["DE", "US", "CERN"])
    f = str(path)
    assert caught.value.errors == [
        f"{f}:8: site 'DESY-HH': 'FZK-LCG2_DATADISK' is already listed for FZK-LCG2 ({f}:5)",
        f"{f}:10: site 'NOWHERE-T2': unknown cloud 'XX' (CERN, DE, US)",
        f"{f}:11: site 'NOWHERE-T2': unknown field 'tier' (site, cloud, queues, rses)",
        f"{f}:12: site #4: needs a site name (letters, digits, -_.)",
        f"{f}:14: site 'Some Site': needs a site name (letters, digits, -_.)",
        f"{f}:16: site 'Some Site': 'cern-prod_datadisk': expected RSE names (upper case)",
        f"{f}:17: site 'fzk-lcg2': 'fzk-lcg2' is already listed for FZK-LCG2 ({f}:2)",
    ]


def test_a_site_map_must_have_a_list_of_sites() -> None:
    with pytest.raises(SitesError, match=r"s.yaml:1: expected a mapping with a list under sites:"):
        parse_sites("- site: X\n  cloud: DE\n", "s.yaml")
    with pytest.raises(SitesError, match=r"s.yaml:2: invalid YAML"):
        parse_sites("sites: [\n", "s.yaml")


def test_a_name_may_be_both_a_site_and_one_of_its_own_queues() -> None:
    m = parse_sites("sites:\n  - site: MWT2\n    cloud: US\n    queues: [MWT2, mwt2_UCORE]\n")
    assert m.resolve("mwt2") == SiteResolution("MWT2", "US", "site", "MWT2")
    assert m.resolve("MWT2_UCORE") == SiteResolution("MWT2", "US", "queue", "mwt2_UCORE")


# --- CRIC import ---------------------------------------------------------------------------


def test_import_cric_reads_the_site_dump() -> None:
    entries = import_cric(CRIC_SAMPLE.read_text())
    by_site = {e["site"]: e for e in entries}
    assert len(entries) == 17
    assert [e["site"] for e in entries] == sorted(by_site, key=str.casefold)
    assert by_site["FZK-LCG2"] == {
        "site": "FZK-LCG2",
        "cloud": "DE",
        "queues": ["FZK-LCG2", "FZK-LCG2_UCORE"],  # ANALY_FZK is DISABLED
        "rses": [  # FZK-LCG2_PRODDISK is DISABLED
            "FZK-LCG2_DATADISK",
            "FZK-LCG2_DATATAPE",
            "FZK-LCG2_LOCALGROUPDISK",
            "FZK-LCG2_SCRATCHDISK",
        ],
    }
    assert by_site["BNL-ATLAS"]["rses"][0] == "BNL-OSG2_DATADISK"
    assert by_site["TOKYO-LCG2"]["cloud"] == "FR"
    assert "UKI-SOUTHGRID-OX-HEP" not in by_site  # the site is DISABLED
    assert {e["cloud"] for e in entries} == {
        "CA", "CERN", "DE", "ES", "FR", "IT", "ND", "NL", "RU", "TW", "UK", "US",
    }  # fmt: skip


def test_import_cric_reads_the_panda_queue_dump() -> None:
    assert import_cric(CRIC_QUEUES.read_text()) == [
        {
            "site": "CERN-PROD",
            "cloud": "CERN",
            "queues": ["ANALY_CERN", "CERN-PROD_UCORE"],
            "rses": ["CERN-PROD_DATADISK", "CERN-PROD_SCRATCHDISK"],
        },
        {
            "site": "DESY-HH",
            "cloud": "DE",
            "queues": ["DESY-HH_UCORE"],
            "rses": ["DESY-HH_DATADISK", "DESY-HH_SCRATCHDISK"],
        },
    ]


def test_import_cric_reports_what_it_cannot_use() -> None:
    with pytest.raises(SitesError, match=r"CRIC export:1: invalid JSON"):
        import_cric("{not json")
    with pytest.raises(SitesError, match="expected a JSON object keyed by site or queue name"):
        import_cric('"CERN-PROD"')
    with pytest.raises(SitesError) as caught:
        import_cric('{"A-SITE": {"state": "ACTIVE"}, "B-SITE": {"cloud": ""}, "C": 3}')
    assert caught.value.errors == [
        "CRIC export: site 'A-SITE': missing cloud",
        "CRIC export: site 'B-SITE': missing cloud",
        "CRIC export: site 'C': expected an object",
    ]


def test_an_imported_map_round_trips_through_sites_yaml() -> None:
    entries = import_cric(CRIC_SAMPLE.read_text())
    text = sites_yaml(entries)
    assert text.startswith("# dastbot site map")
    assert all(len(line) <= 100 for line in text.splitlines())
    m = parse_sites(text, "generated.yaml")
    assert len(m) == len(entries)
    for entry in entries:
        site = m.get(entry["site"])
        assert site is not None
        assert (site.cloud, list(site.queues), list(site.rses)) == (
            entry["cloud"],
            entry["queues"],
            entry["rses"],
        )
    assert m.resolve("ral-lcg2-echo_datadisk") == SiteResolution(
        "RAL-LCG2", "UK", "rse", "RAL-LCG2-ECHO_DATADISK"
    )


def test_sites_yaml_quotes_names_yaml_would_misread() -> None:
    text = sites_yaml([{"site": "NO", "cloud": "ND", "queues": ["true", "1234"], "rses": []}])
    m = parse_sites(text)
    site = m.get("NO")
    assert site is not None
    assert site.queues == ("true", "1234")
