"""Login and logout with server-side, revocable sessions."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
