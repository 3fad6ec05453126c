"""Plain-words explanations, Vietnamese and English, for every indication an
auditor may see: the file verdicts and the ETSI EN 319 102-1 subindications."""

from __future__ import annotations

VERDICTS: dict[str, tuple[str, str]] = {
    "VALID": (
        "Hợp lệ: mọi chữ ký đều đúng, tin cậy được và tài liệu không bị sửa sau khi ký.",
        "Valid: every signature is correct and trusted, and the document was not changed after signing.",
    ),
    "VALID_WITH_ALLOWED_CHANGES": (
        "Hợp lệ, có thay đổi được phép sau khi ký (ký tiếp, điền biểu mẫu, dữ liệu kiểm tra, dấu thời gian).",
        "Valid, with permitted changes after signing (further signatures, form filling, validation data, timestamps).",
    ),
    "MODIFIED_AFTER_SIGNING": (
        "Tài liệu đã bị sửa sau khi ký theo cách không được phép: nội dung hiển thị có thể khác nội dung đã ký.",
        "The document was changed after signing in a way that is not permitted: what is displayed may differ from what was signed.",
    ),
    "INVALID": (
        "Không hợp lệ: ít nhất một chữ ký sai, bị giả mạo hoặc chứng thư bị thu hồi.",
        "Invalid: at least one signature is wrong, forged, or its certificate is revoked.",
    ),
    "INDETERMINATE": (
        "Chưa xác định: chữ ký không sai nhưng chưa đủ căn cứ để tin cậy (thiếu chuỗi tin cậy, thiếu dữ liệu thu hồi, chứng thư hết hạn...).",
        "Indeterminate: no signature is wrong, but there is not enough evidence to trust them (no trust chain, missing revocation data, expired certificate...).",
    ),
    "NO_SIGNATURE": (
        "Tài liệu không có chữ ký số.",
        "The document carries no digital signature.",
    ),
    "PARSE_ERROR": (
        "Không đọc được tệp PDF (hỏng, dị dạng hoặc vượt giới hạn thời gian/bộ nhớ).",
        "The PDF file could not be read (damaged, malformed, or over the time/memory limit).",
    ),
}

SUBINDICATIONS: dict[str, tuple[str, str]] = {
    "OK": ("Chữ ký đạt mọi kiểm tra.", "The signature passed every check."),
    "FORMAT_FAILURE": (
        "Cấu trúc chữ ký hoặc tệp PDF không đúng chuẩn (vùng ký ByteRange sai, tệp bị sửa ngoài vùng ký, dữ liệu CMS dị dạng).",
        "The signature or PDF structure is not well formed (wrong ByteRange, file changed outside the signed ranges, malformed CMS).",
    ),
    "HASH_FAILURE": (
        "Nội dung đã ký bị thay đổi: giá trị băm không khớp.",
        "The signed content was changed: the digest does not match.",
    ),
    "SIG_CRYPTO_FAILURE": (
        "Giá trị chữ ký không khớp với khóa công khai của chứng thư: chữ ký giả hoặc bị hỏng.",
        "The signature value does not match the certificate's public key: forged or damaged.",
    ),
    "REVOKED": (
        "Chứng thư của người ký đã bị thu hồi trước thời điểm ký.",
        "The signer's certificate was revoked before the signing time.",
    ),
    "NOT_YET_VALID": (
        "Chữ ký được tạo trước khi chứng thư có hiệu lực.",
        "The signature was made before the certificate became valid.",
    ),
    "SIG_CONSTRAINTS_FAILURE": (
        "Thuộc tính của chữ ký không đáp ứng chính sách kiểm tra.",
        "The signature's attributes do not meet the validation policy.",
    ),
    "CHAIN_CONSTRAINTS_FAILURE": (
        "Chuỗi chứng thư không đáp ứng ràng buộc (mục đích sử dụng khóa, chính sách).",
        "The certificate chain does not meet its constraints (key usage, policies).",
    ),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": (
        "Không kiểm tra được chuỗi chứng thư vì một lỗi chung.",
        "The certificate chain could not be checked because of a general error.",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE": (
        "Thuật toán hoặc độ dài khóa không còn được chấp nhận (quá yếu).",
        "The algorithm or key size is no longer accepted (too weak).",
    ),
    "EXPIRED": (
        "Chứng thư đã hết hạn và không có bằng chứng (dấu thời gian) rằng chữ ký có trước khi hết hạn.",
        "The certificate has expired and there is no proof (timestamp) that the signature existed before expiry.",
    ),
    "POLICY_PROCESSING_ERROR": (
        "Không xử lý được chính sách chữ ký.",
        "The signature policy could not be processed.",
    ),
    "SIGNATURE_POLICY_NOT_AVAILABLE": (
        "Không có tài liệu chính sách chữ ký được tham chiếu.",
        "The referenced signature policy is not available.",
    ),
    "TIMESTAMP_ORDER_FAILURE": (
        "Thứ tự các dấu thời gian không hợp lý.",
        "The timestamps are in an impossible order.",
    ),
    "NO_SIGNING_CERTIFICATE_FOUND": (
        "Không tìm thấy chứng thư của người ký trong chữ ký.",
        "The signer's certificate was not found in the signature.",
    ),
    "NO_CERTIFICATE_CHAIN_FOUND": (
        "Không dựng được chuỗi chứng thư tới một tổ chức chứng thực gốc được tin cậy (ví dụ Root CA quốc gia).",
        "No certificate chain to a trusted root (e.g. the national root CA) could be built.",
    ),
    "REVOKED_NO_POE": (
        "Chứng thư đã bị thu hồi và không có bằng chứng chữ ký có trước thời điểm thu hồi.",
        "The certificate was revoked and there is no proof that the signature existed before revocation.",
    ),
    "REVOKED_CA_NO_POE": (
        "Chứng thư của tổ chức cấp đã bị thu hồi và không có bằng chứng chữ ký có trước đó.",
        "An issuing CA certificate was revoked and there is no proof the signature existed before that.",
    ),
    "OUT_OF_BOUNDS_NO_POE": (
        "Chứng thư đã hết hạn hoặc chưa có hiệu lực tại thời điểm kiểm tra và không có bằng chứng thời gian phù hợp.",
        "The certificate is expired or not yet valid at the validation time, and there is no suitable proof of time.",
    ),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": (
        "Dữ liệu thu hồi nằm ngoài thời hạn của chứng thư và không có bằng chứng thời gian.",
        "The revocation data is outside the certificate's validity and there is no proof of time.",
    ),
    "OUT_OF_BOUNDS_NOT_REVOKED": (
        "Chứng thư đã hết hạn nhưng không bị thu hồi; thiếu bằng chứng thời gian.",
        "The certificate has expired but was not revoked; proof of time is missing.",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": (
        "Thuật toán đã trở nên yếu và không có bằng chứng chữ ký có trước thời điểm đó.",
        "The algorithm has become weak and there is no proof the signature existed before.",
    ),
    "NO_POE": (
        "Thiếu bằng chứng về thời điểm tồn tại của chữ ký (dấu thời gian) để kết luận.",
        "There is no proof of existence (timestamp) for the signature to conclude.",
    ),
    "TRY_LATER": (
        "Chưa có đủ dữ liệu thu hồi (OCSP/CRL); hãy kiểm tra lại sau hoặc khi trực tuyến.",
        "Not enough revocation data (OCSP/CRL) yet; try again later or online.",
    ),
    "SIGNED_DATA_NOT_FOUND": (
        "Không tìm thấy dữ liệu đã được ký.",
        "The signed data was not found.",
    ),
    "GENERIC": (
        "Không kết luận được vì một lỗi chung khi kiểm tra.",
        "No conclusion because of a general error during validation.",
    ),
}

CHANGES: dict[str, tuple[str, str]] = {
    "NONE": ("không có thay đổi sau khi ký", "no change after signing"),
    "LTA_UPDATES": (
        "chỉ thêm chữ ký sau, dữ liệu kiểm tra và dấu thời gian",
        "only later signatures, validation data and timestamps",
    ),
    "FORM_FILLING": ("điền biểu mẫu và ký tiếp", "form filling and further signatures"),
    "ANNOTATIONS": ("thêm/sửa chú thích", "annotations added or changed"),
    "OTHER": ("thay đổi khác (không được phép)", "other changes (not permitted)"),
    "UNKNOWN": ("không xác định", "unknown"),
}

COVERAGE: dict[str, tuple[str, str]] = {
    "ENTIRE_FILE": ("toàn bộ tệp", "the whole file"),
    "ENTIRE_REVISION": ("toàn bộ phiên bản đã ký", "the whole signed revision"),
    "PARTIAL": ("chỉ một phần tệp", "only part of the file"),
    "UNKNOWN": ("không xác định", "unknown"),
}


def explain(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str:
    """The explanation of ``key`` in ``lang`` (``vi`` unless ``en``)."""
    if key is None:
        key = "OK"
    vi, en = table.get(key, (key, key))
    return en if lang == "en" else vi
