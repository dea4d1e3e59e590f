"""Login and logout with server-side, revocable sessions."""

from flask import Blueprint

from app.protection import add_security_headers, check_same_origin

bp = Blueprint("auth", __name__, url_prefix="/auth")
bp.before_app_request(check_same_origin)
bp.after_app_request(add_security_headers)

from app.auth import routes  # noqa: E402, F401  (registers the views on bp)
