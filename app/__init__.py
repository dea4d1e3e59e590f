"""CareRoute's Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.config import ROOT, Config
from app.extensions import babel, db, login_manager, migrate, socketio


def create_app(config_class: type[Config] = Config, **overrides: Any) -> Flask:
    """Build an application. ``overrides`` are set on top of ``config_class`` (tests)."""
    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    configure_extensions(app)
    configure_blueprints(app)
    configure_cli(app)
    return app


def configure_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every table for Alembic)
    from app.i18n import select_locale, select_timezone

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config.get("REDIS_URL"),
        async_mode="threading",
    )
    from app import jobs, realtime

    jobs.init_app(app)
    realtime.init_app(app)


def configure_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.views import bp as views_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp, url_prefix="/api")


def configure_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
