"""Server-rendered pages (HTML): thin shells over the same helpers as the JSON API."""
