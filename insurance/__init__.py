"""Social-insurance claim exports: the XML 130 tables (QĐ 130/QĐ-BYT, amended by
QĐ 4750/QĐ-BYT and QĐ 3176/QĐ-BYT), and the schemas of hsba's XML exports.

``xml130.build_claim(encounter) -> bytes`` produces the ``GIAMDINHHS`` wrapper with
the tables XML1…XML5 base64-encoded inside, validated against the XSDs in ``xsd/``
(generated from the format's published field tables by ``xsdgen``: the Ministry's
own XSD could not be obtained here). ``xsd/hosobenhan.xsd`` is the hand-written
schema of the HoSoBenhAn record export (``emr.export``); ``schema`` turns XSD
violations into per-field errors. Signing is ``signer.xml``'s job.
"""
