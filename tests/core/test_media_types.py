"""Finding 10 of issue 12: media types are parsed one way (case-insensitive, with parameters and whitespace)
wherever a branch depends on them, and NUL characters or unpaired surrogates anywhere in a form, a JSON body or
a query string are refused in words (422), never a 500, on both databases."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.content import MediaType, accepts, media_type
from tests.conftest import Tenant
from tests.core.test_errors_and_limits import assert_error_shape


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", MediaType("application", "json", {})),
        ("Application/JSON", MediaType("application", "json", {})),
        ("  APPLICATION/Vnd.Api+JSON ; Charset=UTF-8 ", MediaType("application", "vnd.api+json", {"charset": "UTF-8"})),
        ("Application/x-www-form-urlencoded", MediaType("application", "x-www-form-urlencoded", {})),
        (
            'Multipart/Form-Data;boundary="a;b\\"c"; X=1',
            MediaType("multipart", "form-data", {"boundary": 'a;b"c', "x": "1"}),
        ),
        ("text/html;q=0.5", MediaType("text", "html", {"q": "0.5"})),
    ],
)
def test_media_types_are_parsed_case_insensitively_with_parameters(header: str, expected: MediaType) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize("header", [None, "", "json", "application/", "/json", "application/js on", ";charset=x"])
def test_what_is_not_a_media_type_is_none(header: str | None) -> None:
    assert media_type(header) is None


def test_media_type_kinds() -> None:
    assert media_type("Application/Problem+JSON").is_json  # type: ignore[union-attr]
    assert not media_type("application/jsonx").is_json  # type: ignore[union-attr]
    assert media_type("MULTIPART/form-data; boundary=x").is_form  # type: ignore[union-attr]
    assert media_type("application/X-WWW-FORM-URLENCODED").is_form  # type: ignore[union-attr]
    assert not media_type("text/plain").is_form  # type: ignore[union-attr]
    assert accepts("Text/HTML,application/xhtml+xml;q=0.9", "text/html")
    assert not accepts("text/html;q=0, */*", "text/html")
    assert not accepts(None, "text/html")


def _signed_in(client: TestClient, tenant: Tenant) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/developers").text)
    assert fresh is not None
    return fresh.group(1)


FORM_TYPES = [
    "Application/x-www-form-urlencoded",
    "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
    "application/x-www-form-urlencoded ; Charset=utf-8",
    "\tapplication/x-www-form-urlencoded",
]


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_a_form_in_any_letter_case_is_a_form_nul_refused_in_words(
    client: TestClient, tenant: Tenant, content_type: str
) -> None:
    token = _signed_in(client, tenant)
    html = {"Accept": "text/html", "Content-Type": content_type}
    body = f"name=x%00y&email=n%40example.com&csrf_token={token}"
    bad = client.post("/developers", content=body.encode(), headers=html)
    assert bad.status_code == 422, bad.text
    assert "NUL" in bad.text and "Traceback" not in bad.text
    assert "n@example.com" not in client.get("/developers").text
    # The same content type with good input is read as the form it is (CSRF token found, developer added).
    good = f"name=Nadia&email=nadia%40example.com&csrf_token={token}"
    ok = client.post("/developers", content=good.encode(), headers=html, follow_redirects=False)
    assert ok.status_code in (200, 303), ok.text
    assert "nadia@example.com" in client.get("/developers").text


def test_a_multipart_form_in_capitals_is_a_form_too(client: TestClient, tenant: Tenant) -> None:
    token = _signed_in(client, tenant)
    boundary = "XyZ"
    parts = [("name", "x\x00y"), ("email", "m@example.com"), ("csrf_token", token)]
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in parts)
    body += f"--{boundary}--\r\n"
    headers = {"Accept": "text/html", "Content-Type": f"Multipart/Form-Data; Boundary={boundary}"}
    bad = client.post("/developers", content=body.encode(), headers=headers)
    assert bad.status_code == 422, bad.text
    assert "NUL" in bad.text
    assert "m@example.com" not in client.get("/developers").text


@pytest.mark.parametrize(
    "document",
    [
        '{"name": "a\\u0000b", "email": "z@example.com"}',
        '{"name": "a\\ud800b", "email": "z@example.com"}',
        '{"name": "ok", "email": "z\\udfff@example.com"}',
        '{"name": "ok", "email": "z@example.com", "x\\u0000": 1}',
        '{"name": "ok", "email": "z@example.com", "nested": [{"deep": ["\\ud83d"]}]}',
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8", None])
def test_nul_and_lone_surrogates_in_json_are_422_in_words(
    api: TestClient, document: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = api.post("/v1/developers", content=document.encode(), headers=headers)
    if content_type is None:  # without a Content-Type FastAPI does not read JSON at all: 422 from validation
        assert resp.status_code in (400, 422), resp.text
    else:
        err = assert_error_shape(resp, 422, "validation_error")
        assert "NUL" in err["message"] or "surrogate" in err["message"], err
    assert api.get("/v1/developers").json()["data"] == []


def test_a_valid_surrogate_pair_is_kept(api: TestClient) -> None:
    body = b'{"name": "Ana \\ud83d\\ude00", "email": "ana@example.com"}'
    resp = api.post("/v1/developers", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "Ana \U0001f600"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/developers?after=%00",
        "/v1/events?after=a%00",
        "/v1/repositories?after=%00",
        "/v1/metrics/developers?repository_id=repo_%00",
        "/v1/metrics/developers?%00=1",
    ],
)
def test_nul_in_a_query_string_is_422(api: TestClient, path: str) -> None:
    err = assert_error_shape(api.get(path), 422, "validation_error")
    assert "NUL" in err["message"]


def test_nul_in_an_alias_body_changes_nothing(api: TestClient) -> None:
    created = api.post("/v1/developers", json={"name": "Bo", "email": "bo@example.com"})
    assert created.status_code == 201
    dev = created.json()["id"]
    for bad in ("b\x00o@example.com", "b\ud800o@example.com"):
        body = json.dumps({"email": bad}).encode()
        resp = api.post(f"/v1/developers/{dev}/aliases", content=body, headers={"Content-Type": "Application/Json"})
        assert_error_shape(resp, 422, "validation_error")
    assert api.get(f"/v1/developers/{dev}").json()["aliases"] == []


def test_a_surrogate_spelled_in_raw_bytes_is_422_too(api: TestClient) -> None:
    """CESU-8 bytes for U+D800 (not UTF-8, but Python's JSON decoder turns them into a lone surrogate)."""
    body = b'{"name": "a\xed\xa0\x80b", "email": "s@example.com"}'
    resp = api.post("/v1/developers", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code in (400, 422), resp.text
    assert api.get("/v1/developers").json()["data"] == []
