"""The operator console: static files served at /console/, a client of the public JSON API only."""
