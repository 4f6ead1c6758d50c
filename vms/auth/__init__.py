"""Who may do what: users and roles, passwords, sessions, group grants and the audit log."""

from vms.auth.audit import AuditQuery, audit, audit_csv, query_audit
from vms.auth.passwords import WeakPassword
from vms.auth.roles import Access, Capability, Role
from vms.auth.sessions import create_session, resolve_session, revoke_session, revoke_user_sessions
from vms.auth.users import LoginFailed, User, UserExists, UserNotFound, Users, ensure_demo_admin

__all__ = [
    "Access",
    "AuditQuery",
    "Capability",
    "LoginFailed",
    "Role",
    "User",
    "UserExists",
    "UserNotFound",
    "Users",
    "WeakPassword",
    "audit",
    "audit_csv",
    "create_session",
    "ensure_demo_admin",
    "query_audit",
    "resolve_session",
    "revoke_session",
    "revoke_user_sessions",
]
