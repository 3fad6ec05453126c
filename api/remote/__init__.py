"""App-confirmed remote signing inside the service: the database pending store
(:mod:`api.remote.pending_db`) and the provider's webhook
(:mod:`api.routes.provider_callbacks`). The provider adapters themselves are in
:mod:`hsm.remote`."""
