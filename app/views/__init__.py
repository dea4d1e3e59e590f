"""Server-rendered pages: the web shell and a home page per role."""

from flask import Blueprint

bp = Blueprint("views", __name__)
