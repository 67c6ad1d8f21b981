"""Administration: an organisation's staff accounts, units and login lockouts, system clients and
dead-lettered messages (administrators), and the audit log and emergency-access review (auditors).

Every view calls the features' use cases (accounts, clients, outbox, audit, access), which check the role
and the organisation: a nurse, or an administrator of another organisation, gets the same 404 page as for
"no such" (coordinator.web.kit).
"""

from __future__ import annotations

from coordinator.web.kit import web_blueprint

bp = web_blueprint("admin_web", __name__, url_prefix="/admin")

from coordinator.web.admin import audit_log, clients, outbox, users  # noqa: E402, F401  (routes on bp)
