"""The installation's evidence-signing public key, so anyone can verify a package offline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from dashboard.security import PUBLIC
from vms.evidence.keys import ALGORITHM

router = APIRouter(tags=["evidence"])


class PublicKeyOut(BaseModel):
    algorithm: str
    key_id: str
    public_key_pem: str
    public_key_base64: str  # the 32 raw bytes, as in manifest.sig


@router.get("/evidence/public-key", response_model=PublicKeyOut, dependencies=[PUBLIC])
def public_key(request: Request) -> PublicKeyOut:
    """Public on purpose: a court or the defence must be able to fetch it without an account."""
    key = request.app.state.evidence_key
    return PublicKeyOut(algorithm=ALGORITHM, key_id=key.key_id, public_key_pem=key.public_pem,
                        public_key_base64=key.public_base64)
