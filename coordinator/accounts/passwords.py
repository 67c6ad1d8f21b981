"""Password policy: long enough, and not easy to guess (zxcvbn's estimate, with the user's own words).

Every place a password is set (an administrator creating an account or resetting its password, a user
changing their own, the demo loader) asks ``password_errors`` first. A refusal names why, with a stable
code per reason (``weak-personal``, ``weak-common``...) that the doors translate.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterable
from typing import Any

from zxcvbn import zxcvbn

from pathways.errors import FieldError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; the cap keeps a login request cheap to refuse
# zxcvbn's scale runs 0-4; 3 is "safely unguessable" (about 10^8 guesses and more), the usual floor.
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching grows quickly with length); the first 72 characters of a
# passphrase say enough about how guessable it is.
_ESTIMATE_LENGTH = 72
PRODUCT_WORDS = ("carepath",)
# zxcvbn keeps the user's words in a module-level dictionary while it runs: one estimate at a time, or
# two threads could check a password against each other's names.
_zxcvbn_lock = threading.Lock()
_WORD_SEPARATORS = re.compile(r"[\s@.+_\-]+")

# Why a password is too easy to guess, most telling first; each reason has a code and an English message.
WEAK_REASONS: dict[str, str] = {
    "weak-personal": "it contains the user's name, username, e-mail, organisation or the product name",
    "weak-common": "it is a common password or close to one",
    "weak-repeat": "it repeats characters or words",
    "weak-sequence": "it contains a sequence like abc or 6543",
    "weak-keyboard": "it follows a pattern on the keyboard",
    "weak-date": "it contains a year or a date",
    "weak-words": "common words and names alone are not enough",
    "weak": "it is too easy to guess",
}
_PATTERN_REASONS = {
    "repeat": "weak-repeat",
    "sequence": "weak-sequence",
    "spatial": "weak-keyboard",
    "date": "weak-date",
    "regex": "weak-date",  # zxcvbn's only regex is recent years
}


def personal_words(
    *, name: str = "", username: str | None = "", email: str = "", organisation: str = ""
) -> list[str]:
    """The words a password must not be built on: the person's names, username and e-mail parts, the
    organisation's name and the product's, each whole and in its parts (three letters and more)."""
    words: list[str] = [*PRODUCT_WORDS]
    for given in (name, username or "", email, organisation):
        text = given.strip().lower()
        if not text:
            continue
        parts = [p for p in _WORD_SEPARATORS.split(text) if len(p) >= 3]
        words.extend([text, "".join(_WORD_SEPARATORS.split(text)), *parts])
    return list(dict.fromkeys(words))


def _weak_reason(sequence: list[dict[str, Any]]) -> str:
    if any(m.get("dictionary_name") == "user_inputs" for m in sequence):
        return "weak-personal"
    if any(m.get("dictionary_name") == "passwords" for m in sequence):
        return "weak-common"
    if not sequence:
        return "weak"
    longest = max(sequence, key=lambda m: len(m["token"]))
    if longest["pattern"] == "dictionary":
        return "weak-words"
    return _PATTERN_REASONS.get(longest["pattern"], "weak")


def _estimate(password: str, words: list[str]) -> dict[str, Any]:
    with _zxcvbn_lock:
        result: dict[str, Any] = zxcvbn(password[:_ESTIMATE_LENGTH], user_inputs=words)
    return result


def _without(password: str, words: list[str]) -> str:
    """The password with every occurrence of the user's words taken out (longest first, any case)."""
    rest = password
    for word in sorted(words, key=len, reverse=True):
        if len(word) >= 3:
            rest = re.sub(re.escape(word), "", rest, flags=re.IGNORECASE)
    return rest


def password_errors(field: str, password: str, user_words: Iterable[str]) -> list[FieldError]:
    """What is wrong with a new password (empty when nothing is). ``user_words``: ``personal_words``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [
            FieldError(
                field, f"password must be at least {MIN_PASSWORD_LENGTH} characters", "too-short"
            )
        ]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [
            FieldError(
                field, f"password must be at most {MAX_PASSWORD_LENGTH} characters", "too-long"
            )
        ]
    words = list(user_words)
    estimate = _estimate(password, words)
    if estimate["score"] >= MIN_SCORE:
        # zxcvbn ranks the user's words only by their place in the list, so a name with a few digits
        # can pass; the password must be strong without them too.
        rest = _without(password, words)
        if rest == password or _estimate(rest, words)["score"] >= MIN_SCORE:
            return []
        code = "weak-personal"
    else:
        code = _weak_reason(estimate["sequence"])
    message = (
        f"password is too easy to guess: {WEAK_REASONS[code]}; "
        "add another word or two, uncommon words are better"
    )
    return [FieldError(field, message, code)]


def random_password(user_words: Iterable[str] = PRODUCT_WORDS) -> str:
    """A fresh random password that passes the policy (16 URL-safe characters)."""
    words = list(user_words)
    while True:
        candidate = secrets.token_urlsafe(12)
        if not password_errors("password", candidate, words):
            return candidate
