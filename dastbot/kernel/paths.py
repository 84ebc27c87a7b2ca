"""Where the bot's data files are: the configured knowledge base, the contacts and site files
beside it, and the copies shipped inside the package as the fallback."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dastbot.kernel.config import Config

DEFAULT_KB = "knowledge"


def packaged_knowledge() -> Path:
    """The knowledge folder shipped inside the installed package (in a source checkout: the
    repository's knowledge folder)."""
    installed = Path(str(resources.files("dastbot") / "_knowledge"))
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "knowledge"


def knowledge_path(config: Config) -> Path:
    """The configured knowledge base; the packaged one when the default folder is absent."""
    path = config.resolve(config.kb)
    if not path.exists() and config.kb == DEFAULT_KB:
        return packaged_knowledge()
    return path


def data_file(config: Config, value: str, name: str) -> Path:
    """contacts/sites: the configured path, else beside the knowledge base, else packaged."""
    if value:
        return config.resolve(value)
    beside = config.resolve(config.kb)
    folder = beside if beside.is_dir() else beside.parent
    if (folder / name).is_file():
        return folder / name
    return packaged_knowledge() / name
