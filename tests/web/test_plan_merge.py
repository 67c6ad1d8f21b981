"""The merge of two saves and the word diff (pure functions of coordinator.web.plans.merge)."""

from __future__ import annotations

from coordinator.web.plans.merge import EDITED, MINE, SAVED, merge, resolve, word_diff


def test_a_field_only_one_side_changed_takes_that_side_and_both_are_listed() -> None:
    base = {"a": "old", "b": "old", "c": "same"}
    mine = {"a": "mine", "b": "old", "c": "same"}
    saved = {"a": "old", "b": "theirs", "c": "same"}
    merged, rows = merge(mine, base, saved)
    assert merged == {"a": "mine", "b": "theirs", "c": "same"}
    assert [(r.name, r.choice, r.both_changed) for r in rows] == [
        ("a", MINE, False),
        ("b", SAVED, False),
    ]


def test_a_field_both_changed_keeps_mine_by_default_and_shows_both() -> None:
    merged, rows = merge({"a": "mine"}, {"a": "old"}, {"a": "theirs"})
    assert merged == {"a": "mine"}
    assert [(r.mine, r.saved, r.both_changed) for r in rows] == [("mine", "theirs", True)]


def test_resolve_takes_each_pick() -> None:
    form = {"mine__a": "mine", "saved__b": "theirs"}
    texts = {"a": "x", "b": "y", "c": "typed"}
    picks = {"a": MINE, "b": SAVED, "c": EDITED}
    assert resolve(picks, texts, form) == {"a": "mine", "b": "theirs", "c": "typed"}


def test_word_diff_marks_changed_words_and_escapes() -> None:
    before, after = word_diff("Bor på <Nørrebro>", "Bor på Amager")
    assert str(before) == "Bor på <del>&lt;Nørrebro&gt;</del>"
    assert str(after) == "Bor på <ins>Amager</ins>"
