"""The indexed knowledge base kept between runs, so that a restart does not analyse every entry
again.

After its imports, building the matcher's index is most of the bot's start-up (about a quarter
of a second for the shipped entries, seconds for a base of 2,000). ``load_indexed`` keeps the
built ``Loaded`` (the knowledge base and its matcher) pickled in one file beside the database,
under a key made of everything the result depends on: the knowledge files (names and bytes), the
threshold and margin, the Python version and the source of ``dastbot.answering``. A missing,
damaged or stale file, or one that cannot be written, means the index is built as without a
cache; the cache never changes what the bot answers.

The file is unpickled, so it is trusted as the bot's own code is: it lives in the bot's data
folder, which only the bot's account writes (as ``__pycache__`` holds the bytecode Python runs).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import sys
from pathlib import Path

import dastbot.answering as answering_package
from dastbot.answering.knowledge import knowledge_files
from dastbot.answering.rebuild import Loaded, build
from dastbot.kernel.files import write_whole

log = logging.getLogger(__name__)

MAGIC = b"dastbot-knowledge-index 1\n"


def cache_path(db: Path) -> Path | None:
    """Where the index of the knowledge base answering for database ``db`` is kept (None for an
    in-memory database)."""
    if str(db) == ":memory:":
        return None
    return db.with_name(f"{db.name}.knowledge-index")


def _source_files() -> list[Path]:
    folder = Path(answering_package.__file__).parent
    return sorted(folder.rglob("*.py"))


def index_key(path: Path, threshold: float, margin: float) -> bytes:
    """A digest of everything the built index depends on; raises OSError if a file is unreadable."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{threshold!r}\0{margin!r}\0".encode())
    for group in (knowledge_files(path), _source_files()):
        for file in group:
            digest.update(f"{file}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest().encode()


def _read(cache: Path, key: bytes) -> Loaded | None:
    try:
        with cache.open("rb") as stream:
            if stream.readline() != MAGIC or stream.readline().rstrip(b"\n") != key:
                return None
            loaded = pickle.load(stream)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged file may fail in any way while unpickling
        log.warning("ignoring the knowledge index %s: %s", cache, exc)
        return None
    return loaded if isinstance(loaded, Loaded) else None


def _write(cache: Path, key: bytes, loaded: Loaded) -> None:
    data = MAGIC + key + b"\n" + pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        write_whole(cache, data)
    except OSError as exc:
        log.info("the knowledge index was not kept (%s): the next start builds it again", exc)


def load_indexed(path: Path, threshold: float, margin: float, cache: Path | None) -> Loaded:
    """The knowledge base at ``path`` and its matcher: from ``cache`` when it holds them for the
    same files and code, else built (raising KnowledgeError as ``load_knowledge`` does) and kept
    there for the next start."""
    if cache is None:
        return build(path, threshold, margin)
    try:
        key = index_key(path, threshold, margin)
    except OSError:
        return build(path, threshold, margin)  # reports the unreadable file as a knowledge error
    loaded = _read(cache, key)
    if loaded is None:
        loaded = build(path, threshold, margin)
        _write(cache, key, loaded)
    return loaded
