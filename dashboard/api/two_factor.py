"""Two-factor sign-in of your own account: status, enrolment (QR code), confirmation, recovery codes.

A user whose role needs two-factor (``security.two_factor.required_roles``) and has not set it up
is signed in with an enrolment-only session: these routes, who-am-I and sign-out work, nothing
else. Every step is audited; seeds and recovery codes are never logged or audited.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from dashboard.api.deps import get_runtime
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import ENROLLING, Principal, client_ip, require, security_config
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.auth.sessions import complete_session, revoke_user_sessions
from vms.auth.two_factor import TwoFactor, TwoFactorError

router = APIRouter(tags=["auth"])
ACCOUNT = require(Capability.ACCOUNT)


class CodeBody(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class TwoFactorStatusOut(BaseModel):
    enabled: bool
    required: bool  # your role must use it
    enrolling: bool  # a QR code was shown, no code confirmed yet
    enrolment_required: bool  # this session may do nothing else until enrolment is done
    recovery_codes_left: int


class EnrolmentOut(BaseModel):
    secret: str = Field(description="base32 seed, to type into an app by hand")
    otpauth_uri: str
    qr_svg: str = Field(description="the QR code of otpauth_uri as an SVG data: URI, rendered by this server")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="single-use codes for a lost phone; shown only now")


def _two_factor(request: Request, runtime: Services = Depends(get_runtime)) -> TwoFactor:
    return TwoFactor(runtime.db, security_config(request).two_factor)


@router.get("/auth/two-factor", response_model=TwoFactorStatusOut)
def two_factor_status(user: Principal = ENROLLING, factor: TwoFactor = Depends(_two_factor)) -> TwoFactorStatusOut:
    status = factor.status(user.user.id)
    return TwoFactorStatusOut(enabled=status.enabled, required=factor.required_for(user.role), enrolling=status.enrolling,
                              enrolment_required=user.stage == "enrol", recovery_codes_left=status.recovery_codes_left)


@router.post("/auth/two-factor/enrolment", response_model=EnrolmentOut)
def begin_enrolment(request: Request, response: Response, user: Principal = ENROLLING,
                    factor: TwoFactor = Depends(_two_factor), runtime: Services = Depends(get_runtime)) -> EnrolmentOut:
    """A new seed and its QR code; two-factor is on only after ``confirm``."""
    try:
        enrolment = factor.begin(user.user.id, user.username)
    except TwoFactorError as exc:
        raise Problem(409, "two-factor-already-on", str(exc)) from None
    audit(runtime.db, user, "two_factor.enrol", user.username, {}, client_ip(request))
    response.headers["Cache-Control"] = "no-store"
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post("/auth/two-factor/confirm", response_model=RecoveryCodesOut)
def confirm_enrolment(body: CodeBody, request: Request, response: Response, user: Principal = ENROLLING,
                      factor: TwoFactor = Depends(_two_factor), runtime: Services = Depends(get_runtime)) -> RecoveryCodesOut:
    """Switch two-factor on with a first code from the app; your other browser sessions end
    (they were opened with the password alone). API tokens stay: they are listed and revocable."""
    try:
        codes = factor.confirm(user.user.id, body.code)
    except TwoFactorError as exc:
        audit(runtime.db, user, "two_factor.confirm.failed", user.username, {"reason": str(exc)}, client_ip(request))
        if exc.code == "not-enrolling":
            raise Problem(409, "two-factor-not-enrolling", str(exc)) from None
        raise Problem(400, "bad-code", str(exc)) from None
    complete_session(runtime.db, user.session_id)
    ended = revoke_user_sessions(runtime.db, user.user.id, keep=user.session_id, kind="browser")
    audit(runtime.db, user, "two_factor.enable", user.username, {"sessions_ended": ended}, client_ip(request))
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/auth/two-factor/recovery-codes", response_model=RecoveryCodesOut)
def renew_recovery_codes(body: CodeBody, request: Request, response: Response, user: Principal = ACCOUNT,
                         factor: TwoFactor = Depends(_two_factor), runtime: Services = Depends(get_runtime)) -> RecoveryCodesOut:
    """New recovery codes (the old ones stop working); needs a current code."""
    if factor.verify(user.user.id, body.code) is None:
        audit(runtime.db, user, "two_factor.recovery_codes.failed", user.username, {}, client_ip(request))
        raise Problem(400, "bad-code", "the code does not match")
    codes = factor.new_recovery_codes(user.user.id)
    audit(runtime.db, user, "two_factor.recovery_codes", user.username, {"count": len(codes)}, client_ip(request))
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/auth/two-factor/disable", status_code=204)
def turn_off(body: CodeBody, request: Request, user: Principal = ACCOUNT, factor: TwoFactor = Depends(_two_factor),
             runtime: Services = Depends(get_runtime)) -> Response:
    """Turn two-factor off (with a current code), where your role does not require it."""
    if factor.required_for(user.role):
        raise Problem(409, "two-factor-required", f"the {user.role.value} role must sign in with a second factor")
    if factor.verify(user.user.id, body.code) is None:
        raise Problem(400, "bad-code", "the code does not match")
    factor.remove(user.user.id)
    audit(runtime.db, user, "two_factor.disable", user.username, {}, client_ip(request))
    return Response(status_code=204)
