"""hsba as a Cloud Signature Consortium (CSC) API service over the hospital's keys.

``api.csc.router`` (mounted by ``api.app.create_app``) serves ``/csc/v2/...``
(info, auth/login, oauth2/authorize|token, credentials/list|info|authorize,
signatures/signHash) and the v1 paths pyHanko's ``CSCSigner`` calls. The logic
lives in :class:`api.csc.service.CscService`; SADs, lock counters and
authorization codes in :mod:`api.csc.state`.
"""

from api.csc.routes import router

__all__ = ["router"]
