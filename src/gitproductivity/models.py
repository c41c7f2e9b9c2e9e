"""Imports every model so `Base.metadata` is complete (migrations, the schema test)."""

from gitproductivity.analysis.models import Analysis
from gitproductivity.core.db import Base
from gitproductivity.core.workers import Worker
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events.models import Event
from gitproductivity.metrics.activity_models import HourRollup, LanguageRollup
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.notifications.models import Notification, NotificationReceipt
from gitproductivity.orgs.models import ApiKey, Organization, User, UserSession
from gitproductivity.repositories.models import Repository
from gitproductivity.teams.models import Team, TeamMember
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt, Webhook

__all__ = [
    "Analysis",
    "ApiKey",
    "Base",
    "DailyRollup",
    "Delivery",
    "DeliveryAttempt",
    "Developer",
    "DeveloperEmail",
    "Event",
    "HourRollup",
    "LanguageRollup",
    "Notification",
    "NotificationReceipt",
    "Organization",
    "Repository",
    "Team",
    "TeamMember",
    "User",
    "UserSession",
    "Webhook",
    "Worker",
]
