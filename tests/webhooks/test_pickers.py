"""The routing pickers' searches (repositories.search, developers.search) on both databases: substring in any
case, wildcards taken literally, an id found as itself, at most `limit`, and the split of a saved filter into
picks and the raw rest."""

from __future__ import annotations

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.repositories import service as repositories
from gitproductivity.webhooks.routing_views import split_filter
from tests.conftest import Tenant


def test_searches_match_substrings_literally_and_by_id(database: Database, tenant: Tenant) -> None:
    org = tenant.organization_id
    names = ["api-server", "API_gateway", "web 100%", "webapp", "infra"]
    with database.session() as session:
        repos = {
            n: repositories.connect(session, organization_id=org, url=f"https://git.example.com/o/r{i}.git", name=n).id
            for i, n in enumerate(names)
        }
        devs = [
            developers.create(session, organization_id=org, name=f"Dev {i:02d}", email=f"d{i}@example.com").id
            for i in range(30)
        ]
    with database.session() as session:

        def found(query: str, limit: int = 20) -> list[str]:
            return [r.name for r in repositories.search(session, organization_id=org, query=query, limit=limit)]

        assert found("api") == ["API_gateway", "api-server"]
        assert found("_") == ["API_gateway"]  # not "any one character"
        assert found("%") == ["web 100%"]  # not "anything"
        assert found("web") == ["web 100%", "webapp"]
        assert found(repos["infra"]) == ["infra"]
        assert found("zzz") == []
        assert len(developers.search(session, organization_id=org, query="dev", limit=20)) == 20
        assert [d.id for d in developers.search(session, organization_id=org, query="D7@EXAMPLE.C", limit=5)] == [
            devs[7]
        ]
        other = developers.search(session, organization_id="org_other", query="dev", limit=20)
        assert other == []


def test_split_filter_takes_the_pickers_fields_and_leaves_the_rest() -> None:
    picks, rest = split_filter(
        {"data": {"repository_id": {"$in": ["repo_1"]}, "x": 1}, "data.developer_id": {"$in": ["dev_1", "dev_2"]}}
    )
    assert picks == {"repositories": ["repo_1"], "developers": ["dev_1", "dev_2"]}
    assert rest == {"data": {"x": 1}}
    picks, rest = split_filter({"data.repository_id": {"$nin": ["repo_1"]}, "data": {"repository_id": {"$in": ["r"]}}})
    assert picks["repositories"] == ["r"] and rest == {"data.repository_id": {"$nin": ["repo_1"]}}
    assert split_filter(None) == ({"repositories": [], "developers": []}, {})
