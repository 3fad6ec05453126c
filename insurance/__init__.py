"""Social-insurance claim exports: the XML 130 tables (QĐ 130/QĐ-BYT, amended by
QĐ 4750/QĐ-BYT and QĐ 3176/QĐ-BYT).

``build_claim(encounter) -> bytes`` produces the ``GIAMDINHHS`` wrapper with the
tables XML1…XML5 base64-encoded inside, validated against the XSDs in ``xsd/``
(written from the format's published field tables: the Ministry's own XSD
could not be obtained here). Signing is ``signer.xml``'s job.
"""
