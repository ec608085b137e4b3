"""The pages use the same app fixtures as the API tests (each test module gets its own index)."""

from tests.api.conftest import app_index, app_settings, client, site  # noqa: F401
