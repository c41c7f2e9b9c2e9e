"""Imports every model so `Base.metadata` is complete (migrations, the schema test)."""

from gitproductivity.core.db import Base
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events.models import Event
from gitproductivity.orgs.models import ApiKey, Organization, User
from gitproductivity.repositories.models import Repository

__all__ = ["ApiKey", "Base", "Developer", "DeveloperEmail", "Event", "Organization", "Repository", "User"]
