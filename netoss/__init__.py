"""netoss, in floors that import only downwards (docs/architecture.md): ``data`` <- ``domain`` <-
(``web`` | ``daemons`` | ``embedded``) <- ``cli``."""
