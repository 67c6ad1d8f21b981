"""Two people saved the same plan: what each changed, field by field, and a word diff for people.

Pure functions over the form's texts (``<section>__<field>`` -> text), so the merge page and the history
page show changes the same way and the tests need no server.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

MINE, SAVED, EDITED = "mine", "saved", "edited"


@dataclass(frozen=True, slots=True)
class MergeRow:
    """A field whose text differs between what this person typed and what is saved now."""

    name: str
    mine: str
    saved: str
    both_changed: bool  # both changed it since the version this person started from
    choice: str  # what the page proposes: MINE or SAVED


def merge(
    mine: Mapping[str, str], base: Mapping[str, str], saved: Mapping[str, str]
) -> tuple[dict[str, str], list[MergeRow]]:
    """The merged texts and the fields that differ. A field only one side changed since ``base`` takes
    that side's text; a field both changed differently keeps this person's text until they choose.
    Nothing either side wrote is lost: every differing field is shown with both texts."""
    merged: dict[str, str] = {}
    rows: list[MergeRow] = []
    for name in dict.fromkeys([*saved, *mine]):
        own, theirs, start = mine.get(name, ""), saved.get(name, ""), base.get(name, "")
        if own.strip() == theirs.strip():
            merged[name] = theirs
            continue
        only_they_changed = own.strip() == start.strip()
        choice = SAVED if only_they_changed else MINE
        both = not only_they_changed and theirs.strip() != start.strip()
        rows.append(MergeRow(name, own, theirs, both, choice))
        merged[name] = theirs if choice == SAVED else own
    return merged, rows


def resolve(
    picks: Mapping[str, str], texts: Mapping[str, str], form: Mapping[str, str]
) -> dict[str, str]:
    """The texts to save after the merge page: per differing field the person's pick (their text, the
    saved text, or what they edited in the field itself)."""
    resolved = dict(texts)
    for name, pick in picks.items():
        if pick == MINE:
            resolved[name] = form.get(f"mine__{name}", "")
        elif pick == SAVED:
            resolved[name] = form.get(f"saved__{name}", "")
    return resolved


_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str) -> tuple[Markup, Markup]:
    """Both texts as HTML, words removed marked <del> in the first and words added <ins> in the second."""
    old, new = _TOKEN.findall(before), _TOKEN.findall(after)
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = "".join(old[i1:i2]), "".join(new[j1:j2])
        if op == "equal":
            left.append(str(escape(removed)))
            right.append(str(escape(added)))
            continue
        if removed:
            left.append(f"<del>{escape(removed)}</del>")
        if added:
            right.append(f"<ins>{escape(added)}</ins>")
    return Markup("".join(left)), Markup("".join(right))  # noqa: S704 - every piece escaped above
