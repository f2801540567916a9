"""The web floor's Flask extensions (migrations, CSRF), bound to the app in create_app(); the
database handle itself is ``netoss.data.db``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_wtf import CSRFProtect

migrate = Migrate()
csrf = CSRFProtect()
