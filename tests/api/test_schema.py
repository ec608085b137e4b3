"""The OpenAPI schema, checked by schemathesis against the running server (uvicorn, loopback).

Every documented operation gets a few generated requests (deterministic); the answers must
match the schema, and the only 5xx answers allowed are the documented upstream ones (502/504,
for URLs whose host cannot be reached from here), always with the JSON error body."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pictrace.api.app import create_app
from tests.api.live import live_server


@pytest.fixture(scope="module")
def base_url(app_index, app_settings) -> Iterator[str]:
    with live_server(create_app(app_index, app_settings)) as url:
        yield url


@schemathesis.check
def only_upstream_server_errors(ctx, response, case):
    """502/504 say a remote host failed us; anything else >= 500 is our bug."""
    if response.status_code >= 500:
        body = response.json()
        assert response.status_code in (502, 504), f"server error {response.status_code}"
        assert body["code"] in ("fetch_failed", "fetch_timeout") and body["message"]


# A schema-valid request may still be refused for what no schema can say: a URL that points at
# a private address (400), bytes that are not an image (415), an id that is not there (404), a
# bulk add whose every upload and URL failed, for different reasons (422 with the report).
SEMANTIC_REFUSALS = {
    400: {"blocked_url", "bad_url", "bad_input"},
    404: {"not_found"},
    413: {"image_too_large"},
    415: {"not_an_image"},
    422: {"nothing_added"},
}


@schemathesis.check
def validation_agrees_with_schema(ctx, response, case):
    """Schema-valid requests are never answered 422 for their shape: our validation and the
    schema agree (422 ``nothing_added`` is about the pictures: none could be added)."""
    if 400 <= response.status_code < 500:
        code = response.json()["code"]
        if code == "nothing_added":  # only a bulk add answers it
            assert (case.method, case.path) == ("POST", "/api/images"), case.path
        assert code in SEMANTIC_REFUSALS.get(response.status_code, set()), (
            f"schema-valid request refused with {response.status_code} {code}"
        )


def check_operation(operation, base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        if case.method == "DELETE":
            case.path_parameters = {"image_id": 10**9}  # never remove the shared samples
        case.call_and_validate(
            base_url=base_url,
            excluded_checks=[not_a_server_error, positive_data_acceptance],
            additional_checks=[only_upstream_server_errors, validation_agrees_with_schema],
        )

    run()


@pytest.mark.slow
def test_api_matches_its_schema(base_url):
    # schemathesis' pytest plugin does not run under pytest 9, so the operations are driven
    # directly: one Hypothesis run per operation, the same checks as call_and_validate.
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        check_operation(operation, base_url)
