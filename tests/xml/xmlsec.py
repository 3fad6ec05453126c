"""Debian's ``xmlsec1`` as an independent check of hsba's XML-DSig/XAdES signatures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

XADES_ID = "http://uri.etsi.org/01903/v1.3.2#:SignedProperties"


def xmlsec_verify(path: Path, root_pem: bytes, tmp_path: Path) -> subprocess.CompletedProcess:
    """``xmlsec1 --verify`` of the signed file at ``path`` against the root ``root_pem``."""
    assert shutil.which("xmlsec1"), "xmlsec1 (Debian package) is needed"
    root = tmp_path / "root.pem"
    root.write_bytes(root_pem)
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(root), "--id-attr:Id", XADES_ID, str(path)],
        capture_output=True, text=True, timeout=30, check=False)
