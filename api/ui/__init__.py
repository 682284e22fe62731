"""The admin web UI: static pages and small ES modules served by the API itself under /ui/, plus the
sign-in and API-key routes only the UI uses. Every other page action calls the public /v1 API with
the session cookie, so a session sees exactly what its key sees."""
