"""Signed evidence packages: a folder of files, ``manifest.json`` listing each file's SHA-256, and
``manifest.sig`` holding the Ed25519 signature of the manifest's canonical JSON bytes.

Signing is a step of its own after whatever wrote the manifest, so any manifest (one export, a
case) is signed the same way. The canonical bytes are the manifest parsed and written again with
keys sorted, no spaces, UTF-8 (``canonical_json``): a verifier re-indenting the file changes
nothing, a changed value breaks the signature. ``verify_package`` needs no database and no
network: only the folder and, to pin the signer, the installation's public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vms.evidence.keys import ALGORITHM, SigningKey, key_id, public_from_base64

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
SIGNATURE_FORMAT = "vms-evidence-signature/1"
CANONICALIZATION = "JSON with keys sorted, separators ',' and ':', UTF-8, no trailing newline"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entries(folder: Path, names: Iterable[str]) -> list[dict[str, Any]]:
    """``[{"name", "bytes", "sha256"}]`` of files given relative to ``folder`` (posix paths)."""
    entries = []
    for name in names:
        path = folder / name
        entries.append({"name": Path(name).as_posix(), "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return entries


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` readably (indented); the signature covers its canonical form."""
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def sign_package(folder: Path, key: SigningKey) -> Path:
    """Sign ``folder/manifest.json``; writes and returns ``folder/manifest.sig``."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    signature = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "signs": MANIFEST_NAME,
        "canonicalization": CANONICALIZATION,
        "key_id": key.key_id,
        "public_key": key.public_base64,
        "signed_at": datetime.now(timezone.utc).isoformat(),
        "signature": base64.b64encode(key.sign(canonical_json(manifest))).decode(),
    }
    path = folder / SIGNATURE_NAME
    path.write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass
class Finding:
    ok: bool
    subject: str  # a file name, "signature" or "manifest"
    message: str


@dataclass
class Verification:
    findings: list[Finding] = field(default_factory=list)
    key_id: str | None = None
    pinned: bool = False  # the signer's key was compared with a key given by the verifier

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def add(self, ok: bool, subject: str, message: str) -> None:
        self.findings.append(Finding(ok, subject, message))


def verify_package(folder: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Check the signature of the manifest and the SHA-256 and size of every file it lists.

    ``trusted``: the installation's public key; without it the package's own key is used and
    the result says the signer was not pinned. Never raises for a bad package: every problem
    is a failed ``Finding`` naming the file and what differs.
    """
    result = Verification()
    folder = Path(folder)
    if not folder.is_dir():
        result.add(False, str(folder), "is not a folder")
        return result
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        result.add(False, MANIFEST_NAME, f"cannot be read as JSON: {exc}")
        return result
    _check_signature(folder, manifest, trusted, result)
    _check_files(folder, manifest, result)
    return result


def _check_signature(folder: Path, manifest: dict[str, Any], trusted: Ed25519PublicKey | None, result: Verification) -> None:
    try:
        envelope = json.loads((folder / SIGNATURE_NAME).read_text(encoding="utf-8"))
        signature = base64.b64decode(envelope["signature"], validate=True)
        embedded = public_from_base64(envelope["public_key"])
    except FileNotFoundError:
        result.add(False, "signature", f"{SIGNATURE_NAME} is missing: the package is not signed")
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        result.add(False, "signature", f"{SIGNATURE_NAME} is unreadable: {exc}")
        return
    result.key_id = key_id(embedded)
    if trusted is not None:
        result.pinned = True
        if key_id(trusted) != result.key_id:
            result.add(False, "signature", f"signed by key {result.key_id}, not by the trusted key {key_id(trusted)}")
            return
    try:
        embedded.verify(signature, canonical_json(manifest))
    except InvalidSignature:
        result.add(False, "signature", f"does not match {MANIFEST_NAME}: the manifest was changed after signing")
        return
    result.add(True, "signature", f"valid Ed25519 signature of {MANIFEST_NAME} by key {result.key_id}")


def _check_files(folder: Path, manifest: dict[str, Any], result: Verification) -> None:
    entries = manifest.get("files")
    if not isinstance(entries, list) or not entries:
        result.add(False, MANIFEST_NAME, "lists no files, so nothing can be checked")
        return
    root = folder.resolve()
    listed = set()
    for entry in entries:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        path = (root / name).resolve()
        if not name or root not in path.parents:
            result.add(False, name or "?", "names a file outside the package")
            continue
        listed.add(path)
        if not path.is_file():
            result.add(False, name, "is missing")
            continue
        size, digest = path.stat().st_size, sha256_file(path)
        if digest != entry.get("sha256"):
            result.add(False, name, f"SHA-256 differs: manifest {entry.get('sha256')}, file {digest} ({size} bytes, "
                                    f"manifest {entry.get('bytes')})")
        else:
            result.add(True, name, f"SHA-256 {digest} matches ({size} bytes)")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path not in listed and path.name not in (MANIFEST_NAME, SIGNATURE_NAME):
            # Not evidence (nothing in the manifest vouches for it), but worth knowing about.
            result.add(True, path.relative_to(root).as_posix(), "is not listed in the manifest (not part of the evidence)")


class _Chunks:
    """A write-only file for zipfile whose contents are taken out as they come (not seekable)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def package_names(folder: Path) -> list[str]:
    """Every file of a finished package, the manifest and its signature last."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    return [entry["name"] for entry in manifest["files"]] + [MANIFEST_NAME, SIGNATURE_NAME]


def stream_zip(folder: Path, block: int = 1024 * 1024) -> Iterator[bytes]:
    """The package as a zip (stored, not compressed: MP4 is compressed already), made while it is
    sent, so a package is written to disk once, not twice."""
    sink = _Chunks()
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in package_names(folder):
            with (folder / name).open("rb") as source, archive.open(f"{folder.name}/{name}", "w", force_zip64=True) as target:
                while chunk := source.read(block):
                    target.write(chunk)
                    yield sink.take()
    yield sink.take()
