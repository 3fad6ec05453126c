"""Authentication for the API: JWTs (python-jose) signed with the service's
rotating keys, published as a JWKS; principals and their roles."""
