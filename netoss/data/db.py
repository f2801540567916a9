"""The portal database's SQLAlchemy handle (``db``) and declarative base, bound to an app in
``netoss.web.create_app`` and in the daemons' app context (``netoss.data.context.build_app``)."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
