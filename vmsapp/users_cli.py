"""``vms user …``: add users, change passwords and roles, grant groups, make API tokens.

There is no default password: the first admin is made here (``vms user add NAME --role admin``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

user_app = typer.Typer(help="Users, roles, group grants and API tokens.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file")


def _open(config: Optional[Path], with_groups: bool = False):
    """Database and users; ``with_groups`` syncs the YAML's camera groups (and cameras) in, so grants can name them."""
    from vms.auth.users import Users
    from vms.cameras.registry import CameraRegistry
    from vmsapp.cli import open_database
    from vms.config.security import security_of

    settings, db = open_database(config)
    if with_groups:
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
    return db, Users(db, security_of(settings))


def _read_password(username: str, from_stdin: bool, users) -> str:
    from vms.auth.passwords import WeakPassword

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True)
    try:
        users.check_password(password, username)
    except WeakPassword as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    return password


@user_app.command("add")
def add(
    username: str,
    role: str = typer.Option(..., help="admin, technician, operator or investigator"),
    display_name: str = typer.Option("", "--name", help="Full name shown in the UI and audit log"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Add a user (prompts for the password; weak passwords are refused)."""
    from vms.auth.audit import audit
    from vms.auth.roles import Role
    from vms.auth.users import UserExists, check_username

    try:
        check_username(username)
        role_value = Role(role)
    except ValueError as exc:
        err.print(f"refused: {exc}" if "username" in str(exc) else f"refused: unknown role '{role}' "
                  f"(roles: {', '.join(r.value for r in Role)})")
        raise typer.Exit(2) from None
    db, users = _open(config)
    password = _read_password(username, password_stdin, users)
    try:
        user = users.add(username, password, role_value, display_name)
    except UserExists as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    audit(db, "cli", "user.add", user.username, {"role": user.role.value})
    console.print(f"user {user.username} added ({user.role.value})")


@user_app.command("list")
def list_users(config: Optional[Path] = ConfigOption) -> None:
    """List users (never their passwords)."""
    _, users = _open(config)
    table = Table("username", "name", "role", "disabled", "last sign-in")
    for user in users.all():
        table.add_row(user.username, user.display_name, user.role.value, "yes" if user.disabled else "",
                      user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "")
    console.print(table)


@user_app.command("passwd")
def passwd(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Set a user's password (and unlock them); their sessions and tokens end."""
    from vms.auth.audit import audit
    from vms.auth.sessions import revoke_user_sessions
    from vms.auth.users import UserNotFound

    db, users = _open(config)
    try:
        users.get(username)
    except UserNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    user = users.set_password(username, _read_password(username, password_stdin, users))
    ended = revoke_user_sessions(db, user.id)
    audit(db, "cli", "user.update", username, {"password_reset": True, "sessions_ended": ended})
    console.print(f"password of {username} set; {ended} session(s) ended")


def _set_disabled(username: str, disabled: bool, config: Optional[Path]) -> None:
    from vms.auth.audit import audit
    from vms.auth.sessions import revoke_user_sessions
    from vms.auth.users import UserNotFound

    db, users = _open(config)
    try:
        user = users.update(username, disabled=disabled, unlock=not disabled)
    except UserNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    if disabled:
        revoke_user_sessions(db, user.id)
    audit(db, "cli", "user.update", username, {"disabled": disabled})
    console.print(f"user {username} {'disabled' if disabled else 'enabled'}")


@user_app.command("reset-two-factor")
def reset_two_factor(username: str, config: Optional[Path] = ConfigOption) -> None:
    """Turn a user's two-factor sign-in off (lost phone and recovery codes); they enrol again at
    their next sign-in, and their sessions and tokens end."""
    from vms.auth.audit import audit
    from vms.auth.sessions import revoke_user_sessions
    from vms.auth.two_factor import TwoFactor
    from vms.auth.users import UserNotFound

    db, users = _open(config)
    try:
        user = users.get(username)
    except UserNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    removed = TwoFactor(db, users.config.two_factor).remove(user.id)
    ended = revoke_user_sessions(db, user.id)
    audit(db, "cli", "user.update", username, {"reset_two_factor": removed, "sessions_ended": ended})
    console.print(f"two-factor sign-in of {username} {'reset' if removed else 'was not on'}; {ended} session(s) ended")


@user_app.command("disable")
def disable(username: str, config: Optional[Path] = ConfigOption) -> None:
    """Disable a user (sign-in refused, sessions end). Users are never deleted: the audit log names them."""
    _set_disabled(username, True, config)


@user_app.command("enable")
def enable(username: str, config: Optional[Path] = ConfigOption) -> None:
    """Enable a user again (and lift a lockout)."""
    _set_disabled(username, False, config)


@user_app.command("grant")
def grant(
    group: str = typer.Argument(..., help="Camera group, e.g. gateway"),
    capabilities: str = typer.Argument(..., help="Comma-separated: live, playback, export, event.ack"),
    username: Optional[str] = typer.Option(None, "--user"),
    role: Optional[str] = typer.Option(None, "--role"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Let a user (--user) or a whole role (--role) use some capabilities on a camera group."""
    from vms.auth.audit import audit
    from vms.auth.users import UserNotFound

    db, users = _open(config, with_groups=True)
    try:
        granted = users.add_grant(group, [c.strip() for c in capabilities.split(",") if c.strip()], username, role, by="cli")
    except (ValueError, UserNotFound) as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    audit(db, "cli", "grant.add", username or f"role:{role}", granted)
    console.print(f"grant {granted['id']}: {username or 'role ' + str(role)} → {group}: {', '.join(granted['capabilities'])}")


@user_app.command("token")
def token(
    username: str,
    name: str = typer.Option(..., help="What the token is for, e.g. prometheus"),
    scope: Optional[list[str]] = typer.Option(None, "--scope", help="Limit to a capability (repeatable), e.g. metrics.read"),
    days: Optional[float] = typer.Option(None, help="Expire after this many days (default: never)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Make an API token (printed once) for scripts, Prometheus or players: 'Authorization: Bearer <token>'."""
    from vms.auth.audit import audit
    from vms.auth.roles import parse_capabilities
    from vms.auth.sessions import create_session
    from vms.auth.users import UserNotFound

    db, users = _open(config)
    try:
        user = users.get(username)
        scopes = sorted(c.value for c in parse_capabilities(scope)) if scope else None
    except (UserNotFound, ValueError) as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    issued = create_session(db, user.id, users.config, kind="api", name=name, scopes=scopes, days=days)
    audit(db, "cli", "token.create", username, {"token_id": issued.id, "name": name, "scopes": scopes, "days": days})
    print(issued.token)
