"""The schema speaks one language per answer: Brazilian Portuguese by
default, English with ``Accept-Language: en`` (or ``?lang=en``), never a mix.
Every operation has a summary and a description, every parameter a
description, and no human text of the schema (info, tags, operations,
parameters, responses, components, example titles) reads as the other
language. Example values are data, not text, and are not judged."""

import re

import pytest
from django.utils import translation
from django.utils.functional import Promise
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# Words that give English away in a Portuguese text (none of them is also a
# Portuguese word), and the other way round. Text inside `backticks` (field
# names, settings, headers) is code, not language, and is left out.
ENGLISH_WORDS = {
    "the", "of", "and", "or", "is", "are", "to", "with", "without", "when", "an", "its",
    "their", "by", "from", "not", "only", "each", "every", "this", "that", "which", "own", "who",
    "returns", "list", "create", "retrieve", "change", "delete", "replace", "detail", "staff",
    "purchase", "purchases", "reseller", "resellers", "product", "products", "month", "answer",
    "answers", "invalid", "found", "request", "body", "too", "many", "try", "again", "log", "in", "new",
}  # fmt: skip
PORTUGUESE_WORDS = {
    "de", "da", "das", "dos", "que", "não", "com", "para", "uma", "um", "é", "são", "na", "nas",
    "nos", "pelo", "pela", "ou", "ao", "aos", "compra", "compras", "revendedor", "revendedores",
    "mês", "equipe", "produto", "produtos", "senha", "quando", "sem", "cada", "já", "por",
}  # fmt: skip
PORTUGUESE_ENDINGS = re.compile(r"ção\b|ções\b|ões\b|ã|õ|ç", re.IGNORECASE)
CODE = re.compile(r"`[^`]*`")
WORD = re.compile(r"[^\W\d_]+")
# Keys whose values are data (examples, defaults, enums, patterns), not text.
DATA_KEYS = {"value", "example", "examples_value", "default", "enum", "pattern", "required", "$ref"}
TEXT_KEYS = {"summary", "description", "title", "x-displayName"}


def _words(text: str) -> set[str]:
    return set(WORD.findall(CODE.sub(" ", text).lower()))


def english_in(text: str) -> set[str]:
    return _words(text) & ENGLISH_WORDS


def portuguese_in(text: str) -> set[str]:
    found = _words(text) & PORTUGUESE_WORDS
    found |= {match.group(0) for match in PORTUGUESE_ENDINGS.finditer(CODE.sub(" ", text))}
    return found


def _generate(language: str) -> dict:
    with translation.override(language):
        schema = SchemaGenerator().get_schema(request=None, public=True)
        return _resolved(schema)


def _resolved(node):
    # Lazy translations become text while the language is active.
    if isinstance(node, dict):
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_resolved(value) for value in node]
    if isinstance(node, Promise):
        return str(node)
    return node


@pytest.fixture(scope="module")
def schemas(django_db_blocker):
    with django_db_blocker.unblock():
        return {"pt-br": _generate("pt-br"), "en": _generate("en")}


def _texts(node, where="#"):
    """(where, text) for every human text of the schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DATA_KEYS:
                continue
            if key in TEXT_KEYS and isinstance(value, str):
                yield f"{where}/{key}", value
            else:
                yield from _texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{where}/{index}")


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


# --- the heuristics themselves -----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "List purchases",
        "Returns the month's total of non-rejected purchases.",
        "Exchange a refresh token for a new access token.",
        "Retrieve a reseller (staff)",
        "Not authenticated, or the token is invalid or expired",
        "Who am I",
    ],
)
def test_english_is_recognised(text):
    assert english_in(text)
    assert not portuguese_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "Listar compras",
        "Total do mês em compras não reprovadas.",
        "Troca um token de atualização por um novo token de acesso.",
        "Revendedor (equipe)",
        "Não autenticado, ou o token é inválido ou expirou",
        "Conta autenticada e o seu perfil de revendedor",
        "Troca `{email, password}` por tokens; envie `Authorization: Bearer <access>`.",
    ],
)
def test_portuguese_is_recognised(text):
    assert portuguese_in(text)
    assert not english_in(text)


# --- the schema ---------------------------------------------------------------


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_operation_has_a_summary_and_a_description(schemas, language):
    missing = [
        (name, part)
        for name, operation in _operations(schemas[language])
        for part in ("summary", "description")
        if not operation.get(part, "").strip()
    ]
    assert not missing


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_parameter_has_a_description(schemas, language):
    missing = [
        (name, parameter["name"])
        for name, operation in _operations(schemas[language])
        for parameter in operation.get("parameters", [])
        if not parameter.get("description", "").strip()
    ]
    assert not missing


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_tag_is_described(schemas, language):
    schema = schemas[language]
    used = {tag for _, operation in _operations(schema) for tag in operation.get("tags", [])}
    described = {tag["name"] for tag in schema.get("tags", []) if tag.get("description")}
    assert used <= described
    assert schema["info"]["description"]


def _examples(node, where="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "examples" and isinstance(value, dict):
                for name, example in value.items():
                    yield f"{where}/examples/{name}", example
            elif key != "value":
                yield from _examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _examples(value, f"{where}/{index}")


def test_every_example_has_a_summary(schemas):
    # Swagger UI names an example by its summary, or else by its key, which
    # is the same in every language.
    untitled = [where for where, example in _examples(schemas["pt-br"]) if not example.get("summary")]
    assert not untitled


def test_no_text_reads_as_english_by_default(schemas):
    english = {
        where: (text, english_in(text)) for where, text in _texts(schemas["pt-br"]) if english_in(text)
    }
    assert not english


def test_no_text_reads_as_portuguese_in_english(schemas):
    portuguese = {
        where: (text, portuguese_in(text)) for where, text in _texts(schemas["en"]) if portuguese_in(text)
    }
    assert not portuguese


def test_the_same_texts_in_both_languages(schemas):
    # Each summary and description in one language has its translation in
    # the other (a title may show in one only: drf-spectacular leaves out
    # one that merely repeats the field's name).
    def places(schema):
        return {where for where, _ in _texts(schema) if not where.endswith("/title")}

    assert places(schemas["pt-br"]) == places(schemas["en"])


@pytest.mark.parametrize(
    ("headers", "query", "summary"),
    [
        ({}, "", "Registrar uma compra"),
        ({"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}, "", "Registrar uma compra"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "", "Record a purchase"),
        ({}, "?lang=en", "Record a purchase"),
    ],
)
def test_the_served_schema_follows_the_request_language(headers, query, summary):
    response = APIClient().get(f"/api/v1/schema/{query}", HTTP_ACCEPT="application/json", **headers)
    assert response.status_code == 200
    assert response.json()["paths"]["/api/v1/purchases/"]["post"]["summary"] == summary
    assert "Accept-Language" in response.headers.get("Vary", "")
