"""``vms verify PACKAGE``: check an evidence package offline and say exactly what fails."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console(highlight=False)


def verify(
    package: Path = typer.Argument(..., help="Folder of an export or case package (holding manifest.json), "
                                   "or the zip of a package"),
    public_key: Optional[Path] = typer.Option(
        None, "--public-key", help="The installation's public key: the answer of GET /api/evidence/public-key saved as it is, or its PEM; "
        "without it the package's own key is used and the signer is not pinned"),
) -> None:
    """Check every file's SHA-256 and the manifest's Ed25519 signature; exit 0 only if all hold."""
    from vms.evidence.keys import load_public_pem
    from vms.evidence.package import verify_package

    trusted = None
    if public_key is not None:
        try:
            trusted = load_public_pem(public_key.read_bytes())
        except (OSError, ValueError) as exc:
            console.print(f"refused: {public_key} is not a usable public key: {exc}")
            raise typer.Exit(2) from None
    damaged: list[str] = []
    if package.is_file() and zipfile.is_zipfile(package):
        with tempfile.TemporaryDirectory(prefix="vms-verify-") as scratch:
            try:
                folder, damaged = _unzipped(package, Path(scratch))
            except (zipfile.BadZipFile, OSError) as exc:
                console.print(f"NOT VERIFIED: {package} is not a readable zip: {exc}")
                raise typer.Exit(1) from None
            result = verify_package(folder, trusted)
    else:
        result = verify_package(package, trusted)
    for name in damaged:
        # The zip's own CRC-32 caught the change first; the manifest check below names it too.
        result.add(False, name, "the zip's CRC-32 of this file does not match: it was changed or damaged")
    for finding in result.findings:
        console.print(f"{'ok  ' if finding.ok else 'FAIL'} {finding.subject}: {finding.message}")
    if result.ok:
        pinned = "the trusted key" if result.pinned else \
            f"key {result.key_id} carried by the package (pass --public-key to check it is the installation's)"
        console.print(f"VERIFIED: every file matches the manifest, signed by {pinned}")
        return
    console.print(f"NOT VERIFIED: {len(result.failures)} problem(s): "
                  + "; ".join(f"{f.subject} {f.message}" for f in result.failures))
    raise typer.Exit(1)


def _unzipped(archive: Path, scratch: Path) -> tuple[Path, list[str]]:
    """The zip's files under ``scratch`` (extract drops absolute paths and '..'), the folder
    holding manifest.json, and the members whose CRC-32 failed (extracted as they are, so the
    manifest's SHA-256 check reports them as well). Raises zipfile.BadZipFile for a zip whose
    directory cannot be read."""
    damaged = []
    with zipfile.ZipFile(archive) as package:
        for member in package.infolist():
            try:
                package.extract(member, scratch)
            except zipfile.BadZipFile:
                damaged.append(member.filename)
    manifests = sorted(scratch.rglob("manifest.json"), key=lambda p: len(p.parts))
    folder = manifests[0].parent if manifests else scratch
    # Named as the manifest names them: relative to the package's folder inside the zip.
    named = [str((scratch / name).relative_to(folder)) if (scratch / name).is_relative_to(folder) else name for name in damaged]
    return folder, named
