"""Legal bases as data (pathways/data/legal.toml), so wording can be corrected without a code change."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True, slots=True)
class LegalBasis:
    key: str
    reference: str
    text_da: str
    text_en: str

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_da


@cache
def _all() -> dict[str, LegalBasis]:
    raw = tomllib.loads(files("pathways.data").joinpath("legal.toml").read_text(encoding="utf-8"))
    return {key: LegalBasis(key=key, **value) for key, value in raw.items()}


def legal_basis(key: str) -> LegalBasis:
    try:
        return _all()[key]
    except KeyError:
        raise KeyError(f"no legal basis '{key}' in pathways/data/legal.toml") from None


def all_legal_bases() -> dict[str, LegalBasis]:
    return dict(_all())
