"""schemathesis against the OpenAPI schema, on the real engine: at least 500 generated requests
(valid and invalid), none answered with a 5xx, every response matching the schema (status code
declared, content type, body shape, headers)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks as st_checks

MIN_CASES = 500
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_schema_conformance, st_checks.response_headers_conformance]


def test_generated_requests_get_no_5xx_and_match_the_schema(app, client) -> None:
    # the server listens on loopback: it answers a request naming this machine (schemathesis's own
    # "testserver" is refused, as a page reaching it by another name would be)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "127.0.0.1"})
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 10
    per_run = MIN_CASES // (2 * len(operations)) + 20
    seen: dict[str, int] = {}
    statuses: dict[int, int] = {}

    def fuzz(op, mode) -> None:
        label = f"{op.method.upper()} {op.path} {mode.value}"

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=per_run, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            response = case.call(base_url="http://127.0.0.1")
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS)
            seen[label] = seen.get(label, 0) + 1

        try:
            run()
        except Unsatisfiable:  # no invalid request exists (an operation without inputs)
            assert mode == schemathesis.GenerationMode.NEGATIVE, label

    for op in operations:
        for mode in schemathesis.GenerationMode:
            fuzz(op, mode)
    total = sum(seen.values())
    print(f"schemathesis: {total} cases over {len(seen)} operations; statuses {dict(sorted(statuses.items()))}")
    assert total >= MIN_CASES, seen
    assert not any(s >= 500 for s in statuses), statuses


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_schema_and_docs_are_served(client, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_interactive_docs_need_no_network(client) -> None:
    """/docs and /redoc load their scripts from the server itself: the API is used offline."""
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        scripts = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert scripts and all(s.startswith("/") for s in scripts), scripts
        for s in scripts:
            assert client.get(s).status_code == 200, s


def test_the_servers_address_says_where_things_are_and_docs_fetch_nothing_elsewhere(client) -> None:
    """The address the UI links to was a bare 404; /redoc fetched its maker's logo from a CDN; the
    sample request of /docs asked a collection made up from the name's pattern (a 404)."""
    root = client.get("/")
    assert root.status_code == 200 and root.json()["docs"] == "/docs" and root.json()["redoc"] == "/redoc"
    assert client.head("/").status_code == 200
    assert client.get("/redoc").headers["Content-Security-Policy"] == "img-src 'self' data:"
    ask = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]
    assert ask["collection"]["examples"] == [None]


def test_a_path_with_a_slash_too_many_is_a_json_404_that_says_which(client) -> None:
    """It was a 307 with no body, its Location built from the Host header."""
    r = client.get("/v1/health/", follow_redirects=False)
    said = r.json()["error"]["message"]
    assert r.status_code == 404 and said == "no such path: /v1/health/; did you mean /v1/health?"
    r = client.post("/v1/ask/", json={"question": "Who?"}, follow_redirects=False)
    assert r.status_code == 404 and "did you mean /v1/ask?" in r.json()["error"]["message"]
    assert "the paths are at /docs" in client.get("/v2/nothing").json()["error"]["message"]
