"""Server-rendered pages: the web shell and a home page per role."""

from flask import Blueprint

bp = Blueprint("views", __name__)

from app.views import (  # noqa: E402, F401
    anomalies,
    board,
    errors,
    exceptions,
    mobile,
    pages,
    settlement,
    shell,
    supervision,
    timebank,
)
