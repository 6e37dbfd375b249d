"""WSGI entry point: ``gunicorn 'doclib.web.wsgi:app'`` (config from DOCLIB_CONFIG)."""

from . import create_app

app = create_app()
