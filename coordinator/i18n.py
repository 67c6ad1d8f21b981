"""UI language: Danish by default, English as the second language (flask-babel)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import Babel, get_locale, get_translations
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


_LANGUAGE_KEY = "carepath_language"


def request_language() -> Language:
    """The language of texts for the person behind this request (``?lang=``, the ``lang`` cookie, then
    Accept-Language; Danish by default), as a plain value for the use cases and mappers. Outside a
    request (jobs, CLI): Danish."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    found: Language | None = g.get(_LANGUAGE_KEY)
    if found is None:  # once per request: a page names it for every label it shows
        found = g.setdefault(_LANGUAGE_KEY, language(str(get_locale() or DEFAULT_LANGUAGE)))
    return found


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


_CATALOGUE_KEY = "carepath_catalogue"


def _catalogue() -> Any:
    """The request's message catalogue, looked up once per request (flask-babel looks it up again for
    every string a template translates, a few hundred on a worklist)."""
    if not has_request_context():
        return get_translations()
    found = g.get(_CATALOGUE_KEY)
    if found is None:
        found = g.setdefault(_CATALOGUE_KEY, get_translations())
    return found


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # jinja2.ext.i18n's
        gettext=lambda s: _catalogue().ugettext(s),
        ngettext=lambda s, p, n: _catalogue().ungettext(s, p, n),
        pgettext=lambda c, s: _catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalogue().unpgettext(c, s, p, n),
        newstyle=True,
    )

    @app.after_request
    def _remember_language(response: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen is not None and chosen in app.config["LANGUAGES"]:
            response.set_cookie(
                "lang", chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response
