"""What the archive needs to know about a signed PDF's time-stamps (for renewal)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO


def last_timestamp_expiry(pdf: bytes) -> datetime | None:
    """Expiry of the certificate of the last document time-stamp (B-LTA), or of the last
    signature's time-stamp when there is no document time-stamp; None without any."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf))
    doc_ts = reader.embedded_timestamp_signatures
    if doc_ts:
        cert = doc_ts[-1].signer_cert
        return cert["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[no-any-return]
    for sig in reversed(reader.embedded_regular_signatures):
        token = sig.attached_timestamp_data
        if token is None:
            continue
        serial = token["signer_infos"][0]["sid"].chosen["serial_number"].native
        for c in token["certificates"]:
            cert = c.chosen
            if cert.serial_number == serial:
                return cert["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[no-any-return]
    return None


async def timestamp_token(digest: bytes, timestampers: list, md_algorithm: str = "sha256") -> bytes:
    """An RFC 3161 token (DER ``ContentInfo``) over ``digest`` from the first TSA that answers."""
    from core.errors import UnavailableError
    from signer.timestamps import timestamper_for

    tsa = timestamper_for(timestampers)
    if tsa is None:
        raise UnavailableError("tsa.none", "Chưa cấu hình máy chủ dấu thời gian.",
                               "No time-stamping authority is configured.")
    token = await tsa.async_timestamp(digest, md_algorithm)
    return bytes(token.dump())
