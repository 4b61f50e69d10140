"""The scenarios `drivesim play` offers: keys 1-9 pick the plain default env and the first eight
suite scenarios; a .toml path adds one more. Discovered on demand, owned by the session (no module
state)."""

from __future__ import annotations

from drivesim.config import EnvConfig
from drivesim.scenarios.loader import list_scenarios, load_scenario

DEFAULT = "default"  # the plain env (EnvConfig())
KEYED = 9  # keys 1-9


class ScenarioCatalog:
    """Name -> scenario source (None: the default env), in key order (key 1 = first)."""

    def __init__(self) -> None:
        self._sources: dict[str, str | None] | None = None

    @property
    def sources(self) -> dict[str, str | None]:
        if self._sources is None:  # read the suite folder on first use, not at import
            self._sources = {DEFAULT: None, **{sc.name: sc.source for sc in list_scenarios()[:KEYED - 1]}}
        return self._sources

    def names(self) -> list[str]:
        return list(self.sources)

    def resolve(self, text: str) -> str:
        """A scenario name from '1'-'9', a name of the catalog, or a path to a scenario file (added
        to this catalog); raises ValueError naming the choices."""
        names = self.names()
        if text.isdigit() and 1 <= int(text) <= len(names):
            return names[int(text) - 1]
        if text in self.sources:
            return text
        if text.endswith(".toml"):
            load_scenario(text)  # a bad file fails here, naming the file and field
            self.sources[text] = text
            return text
        raise ValueError(f"unknown scenario {text!r}; use 1-{len(names)}, one of {', '.join(names)}, or a .toml path")

    def config(self, name: str) -> EnvConfig:
        """The EnvConfig of a scenario (the plain default env for "default")."""
        source = self.sources[name]
        return EnvConfig() if source is None else load_scenario(source).config
