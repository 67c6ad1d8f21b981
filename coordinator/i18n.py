"""UI language: Danish by default, English as the second language (flask-babel)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, has_request_context, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as babel_gettext
from flask_babel import ngettext as babel_ngettext
from flask_wtf import FlaskForm

from pathways.labels import DEFAULT_LANGUAGE, Language, language


def select_locale() -> str:
    languages: tuple[str, ...] = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def request_language() -> Language:
    """The language of texts for the person behind this request (``?lang=``, the ``lang`` cookie, then
    Accept-Language; Danish by default), as a plain value for the use cases and mappers. Outside a
    request (jobs, CLI): Danish."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    return language(str(get_locale() or DEFAULT_LANGUAGE))


class _CatalogueTranslations:
    """WTForms' translation hook answered from carepath's own catalogue (coordinator.form_messages)."""

    def gettext(self, string: str) -> str:
        return babel_gettext(string) if has_request_context() else string

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if not has_request_context():
            return singular if n == 1 else plural
        return babel_ngettext(singular, plural, n)


_TRANSLATIONS = _CatalogueTranslations()


class Form(FlaskForm):
    """The base of carepath's forms: WTForms' own messages ("This field is required.") in the
    person's language, which WTForms alone cannot do for Danish."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> _CatalogueTranslations:
            return _TRANSLATIONS


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale

    @app.after_request
    def _remember_language(response: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen is not None and chosen in app.config["LANGUAGES"]:
            response.set_cookie(
                "lang", chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response
