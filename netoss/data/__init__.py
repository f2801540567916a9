"""Data floor: the portal database (models, session, migrations) and the clients of NetBox and of the portal."""
