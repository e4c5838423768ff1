"""The shared API layer's contract: every answer has the documented body, every route documents its errors."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Path
from pydantic import BaseModel, TypeAdapter, ValidationError

from libs.common.api import (
    CurrentPrincipal,
    document_storable_text,
    install_error_handlers,
    refuse_unstorable_text,
)
from libs.common.auth import KeyRing
from libs.common.inputs import NO_NUL_PATTERN, text_problems, trimmed_text, whole_number
from libs.common.limits import Rfc3339Time, StorableTime
from libs.common.money import decimal_input

ADMIN = "admin-" + "0" * 32


class Thing(BaseModel):
    name: str


class Note(BaseModel):
    text: str
    tags: dict[str, str] = {}


def _app() -> FastAPI:
    app = FastAPI()
    app.state.keyring = KeyRing.from_json(f'[{{"key": "{ADMIN}", "scope": "admin"}}]')
    install_error_handlers(app)

    @app.get("/things")
    async def list_things(_: CurrentPrincipal) -> list[Thing]:
        return []

    @app.post("/things")
    async def add_thing(thing: Thing, _: CurrentPrincipal) -> Thing:
        return thing

    @app.get("/things/{name}")
    async def get_thing(name: Annotated[str, Path(max_length=5)], _: CurrentPrincipal) -> Thing:
        return Thing(name=name)

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    return app


async def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                 headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        return await client.request(method, path, **kwargs)


def _responses(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def test_every_route_documents_the_errors_it_gives_with_the_error_body() -> None:
    spec = _app().openapi()
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert set(_responses(spec, "/things", "get")) == {"200", "401", "403", "503"}
    assert set(_responses(spec, "/things", "post")) == {"200", "401", "403", "422", "503"}
    assert set(_responses(spec, "/things/{name}", "get")) == {"200", "401", "403", "404", "422", "503"}
    assert set(_responses(spec, "/open", "get")) == {"200"}  # no key, no parameters: nothing but 200
    for code, answer in _responses(spec, "/things/{name}", "get").items():
        if code != "200":
            assert answer["content"]["application/json"]["schema"] == error, code
    answers = _responses(spec, "/things", "get")
    assert answers["401"]["headers"]["WWW-Authenticate"]["schema"] == {"type": "string", "const": "Bearer"}
    assert answers["503"]["headers"]["Retry-After"]["required"] is True
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error", "detail"]
    assert spec["components"]["securitySchemes"] == {"HTTPBearer": {"type": "http", "scheme": "bearer"}}


async def test_starlette_answers_have_the_error_body() -> None:
    missing = await _call("GET", "/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found", "detail": "Not Found"})
    wrong_method = await _call("DELETE", "/things")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method_not_allowed", "detail": "Method Not Allowed"}
    # Every method the path serves, not only the first route's (Starlette's own header says GET only).
    assert wrong_method.headers["allow"] == "GET, POST"


async def test_a_body_that_is_not_text_is_a_422_on_body_not_a_400() -> None:
    reply = await _call("POST", "/things", content=b"\xff\xfe{", headers={"content-type": "application/json"})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["field"] == "body"


async def test_validation_errors_name_the_field() -> None:
    reply = await _call("GET", "/things/toolongname")
    assert reply.status_code == 422
    assert reply.json() == {"error": "invalid_request",
                            "detail": [{"field": "name", "message": "String should have at most 5 characters"}]}


def _storing_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(refuse_unstorable_text)])
    app.state.keyring = KeyRing.from_json(f'[{{"key": "{ADMIN}", "scope": "admin"}}]')
    install_error_handlers(app)
    document_storable_text(app)

    @app.put("/notes/{name}")
    async def put_note(name: str, note: Note, _: CurrentPrincipal) -> Note:
        return note

    return app


async def test_text_postgresql_cannot_store_is_a_422_naming_the_field() -> None:
    transport = httpx.ASGITransport(app=_storing_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                 headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        fine = await client.put("/notes/a", json={"text": "caf\u00e9 \\u0000 written out"})
        nul = await client.put("/notes/a", content=b'{"text": "a\\u0000b", "tags": {"k": "\\ud800"}}',
                               headers={"content-type": "application/json"})
        in_path = await client.put("/notes/a%00b", json={"text": "x"})
    assert fine.status_code == 200
    assert nul.status_code == 422
    assert [p["field"] for p in nul.json()["detail"]] == ["text", "tags.k"]
    assert in_path.status_code == 422 and in_path.json()["detail"][0]["field"] == "name"


def test_the_document_says_text_has_no_nul() -> None:
    spec = _storing_app().openapi()
    note = spec["components"]["schemas"]["Note"]["properties"]
    assert note["text"]["pattern"] == NO_NUL_PATTERN
    assert note["tags"]["additionalProperties"]["pattern"] == NO_NUL_PATTERN
    assert spec["paths"]["/notes/{name}"]["put"]["parameters"][0]["schema"]["pattern"] == NO_NUL_PATTERN


def test_decimal_input_accepts_exactly_what_it_documents() -> None:
    price = TypeAdapter(decimal_input(places=2, maximum=100, example="2.50"))
    pattern = price.json_schema()["anyOf"][0]["pattern"]
    for text in ("0", "2.5", "2.50", "100", "100.00", "99.99"):
        assert re.search(pattern, text) and price.validate_python(text) == Decimal(text)
    for text in ("", "-1", "100.01", "2.505", "1e2", "007", ".5", "2.", " 2", "NaN", "2.50\n"):
        assert not re.search(pattern, text) or text.endswith("\n")  # Python's $ (not ECMA's) takes a final \n
        with pytest.raises(ValidationError):
            price.validate_python(text)
    assert price.validate_python(7) == 7 and price.validate_python(7.0) == 7  # JSON integers, exact
    for number in (2.5, True, 101):
        with pytest.raises(ValidationError):
            price.validate_python(number)
    big = TypeAdapter(decimal_input(places=2, integer_digits=36, example="500.00"))
    assert big.validate_python("9" * 36) == Decimal("9" * 36)  # as text, any size the column holds
    with pytest.raises(ValidationError, match="sent as text"):
        big.validate_python(10**16)  # a JSON number that large is not exact in most parsers


def test_inputs_read_json_as_json_schema_means_it() -> None:
    days = TypeAdapter(whole_number(ge=0, le=365))
    assert days.validate_python(30) == 30 and days.validate_python(30.0) == 30
    for wrong in ("30", True, 30.5, 366):
        with pytest.raises(ValidationError):
            days.validate_python(wrong)
    reason = TypeAdapter(trimmed_text(min_length=3, max_length=10))
    pattern = reason.json_schema()["pattern"]
    for text, ok in (("abc", True), ("  abc ", True), ("a b", True), ("ab\n", False), ("   ", False)):
        assert bool(re.search(pattern, text)) is ok, text
        if ok:
            assert reason.validate_python(text) == text.strip()
        else:
            with pytest.raises(ValidationError):
                reason.validate_python(text)
    assert list(text_problems({"a": ["ok", "x\x00"], "b\x00": 1})) == ["a.1", "body"]


def test_storable_times_are_rfc3339_text_within_the_stored_range() -> None:
    when = TypeAdapter(StorableTime)
    pattern = when.json_schema()["pattern"]
    assert re.search(pattern, "2026-11-03T10:00:00Z")
    assert when.validate_python("2026-11-03T10:00:00Z").year == 2026
    for wrong in ("1999-12-31T00:00:00Z", "2100-01-01T00:00:00Z", "1700000000", 1700000000, "2026-11-03T10:00:00"):
        with pytest.raises(ValidationError):
            when.validate_python(wrong)
    at = TypeAdapter(Rfc3339Time)
    with pytest.raises(ValidationError, match="RFC 3339"):
        at.validate_python("0.5")
