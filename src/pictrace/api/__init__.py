"""The web app: JSON API under /api (OpenAPI at /docs) and server-rendered pages."""
