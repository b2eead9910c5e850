"""The HTTP edge shared by every controller: decoding and problem+json (`http`), the
OpenAPI document (`openapi`), `Idempotency-Key` answers (`idempotency`) and the direct
routes of the onsale's hot writes (`direct`)."""
