"""Data floor: the portal database (models, session, migrations), the configuration and app
context every process builds (``context``), the audit trail, and the portal's client."""
