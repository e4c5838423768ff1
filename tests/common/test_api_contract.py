"""The shared API layer's contract: every answer has the documented body, every route documents its errors."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Path
from pydantic import BaseModel

from libs.common.api import CurrentPrincipal, install_error_handlers
from libs.common.auth import KeyRing

ADMIN = "admin-" + "0" * 32


class Thing(BaseModel):
    name: str


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
