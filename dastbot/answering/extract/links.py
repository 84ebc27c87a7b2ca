"""BigPanda and Rucio web links for the identifiers found in a message."""

from __future__ import annotations

from urllib.parse import quote

from dastbot.answering.extract.base import Identifiers
from dastbot.answering.extract.dids import scope_and_name


def identifier_links(ids: Identifiers, bigpanda_url: str, rucio_url: str) -> list[tuple[str, str]]:
    """(label, url) pairs: BigPanda pages for tasks and jobs, Rucio DID pages for datasets.

    A bare dataset name's scope is its first two dot-parts for ``user.``/``group.`` names and
    its first dot-part otherwise (``mc23_13p6TeV``).
    """
    panda = bigpanda_url.rstrip("/")
    rucio = rucio_url.rstrip("/")
    links = [(f"BigPanda task {t}", f"{panda}/task/{t}/") for t in ids.task_ids]
    links += [(f"BigPanda job {j}", f"{panda}/job?pandaid={j}") for j in ids.job_ids]
    for did in ids.dids:
        scope, name = scope_and_name(did)
        url = f"{rucio}/did?scope={quote(scope, safe='')}&name={quote(name, safe='')}"
        links.append((f"Rucio {scope}:{name}", url))
    return links
