"""The stand-in follows the OpenMetadata server's rules (each rule is cited in tests/openmetadata_standin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.openmetadata_standin import BOT, USER, OpenMetadataStandIn
from tests.support.openmetadata_spec import spec_dir

BOT_TOKEN, PERSON_TOKEN = "rules-bot", "rules-person"


@pytest.fixture
def api() -> Iterator[Api]:
    standin = OpenMetadataStandIn(spec_dir(), token=BOT_TOKEN, user_token=PERSON_TOKEN,
                                  forbidden_token="rules-forbidden").start()
    try:
        yield Api(standin)
    finally:
        standin.stop()


class Api:
    def __init__(self, standin: OpenMetadataStandIn) -> None:
        self.standin = standin

    def call(self, method: str, path: str, *, token: str = BOT_TOKEN, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.standin.url}/api/v1/{path}", headers=headers, timeout=5, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def patch(self, entity: dict[str, Any], ops: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json-patch+json", **kwargs.pop("headers", {})}
        return self.call("PATCH", f"tables/{entity['id']}", content=_json(ops), headers=headers, **kwargs)

    def setup(self) -> None:
        self.ok("PUT", "services/databaseServices", json={"name": "svc", "serviceType": "CustomDatabase"})
        self.ok("PUT", "databases", json={"name": "db", "service": "svc"})
        self.ok("PUT", "databaseSchemas", json={"name": "s", "database": "svc.db"})
        self.ok("PUT", "classifications", json={"name": "PII", "description": "d"})
        for tag in ("Sensitive", "Email"):
            self.ok("PUT", "tags", json={"name": tag, "classification": "PII", "description": "d"})

    def table(self, name: str = "t", token: str = BOT_TOKEN, **fields: Any) -> httpx.Response:
        body = {"name": name, "databaseSchema": "svc.db.s",
                "columns": [{"name": "id", "dataType": "INT"}, {"name": "v", "dataType": "VARCHAR", "dataLength": 9}],
                **fields}
        return self.call("PUT", "tables", json=body, token=token)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


def _label(tag: str) -> dict[str, str]:
    return {"tagFQN": tag, "source": "Classification", "labelType": "Automated", "state": "Confirmed"}


def test_a_bots_put_keeps_descriptions_and_extension_and_merges_tags(api: Api) -> None:
    api.setup()
    first = api.table(description="curated", tags=[_label("PII.Sensitive")]).json()
    again = api.table(description="from the bot", tags=[_label("PII.Email")]).json()
    assert again["description"] == "curated" and again["updatedBy"] == BOT
    full = api.ok("GET", "tables/name/svc.db.s.t", params={"fields": "*"})
    assert [t["tagFQN"] for t in full["tags"]] == ["PII.Email", "PII.Sensitive"]  # merged, sorted
    assert full["version"] == 0.2 and first["version"] == 0.1
    person = api.table(token=PERSON_TOKEN).json()  # a person's PUT without description clears it
    assert "description" not in person and person["updatedBy"] == USER


def test_the_server_validates_foreign_keys_tags_columns_and_names(api: Api) -> None:
    api.setup()
    fk = {"constraintType": "FOREIGN_KEY", "columns": ["id"], "referredColumns": ["svc.db.s.other.id"]}
    response = api.table(tableConstraints=[fk])
    assert response.status_code == 400 and "Table not found: svc.db.s.other" in response.text
    self_ref = {"constraintType": "FOREIGN_KEY", "columns": ["id"], "referredColumns": ["svc.db.s.t.id"]}
    assert api.table(tableConstraints=[self_ref]).status_code == 400  # the table does not exist yet
    assert api.table(tableConstraints=[{"constraintType": "PRIMARY_KEY", "columns": ["nope"]}]).status_code == 400
    response = api.table(tags=[_label("PII.Unknown")])
    assert response.status_code == 404 and "tag instance for PII.Unknown not found" in response.text
    response = api.call("PUT", "tables", json={"name": "t", "databaseSchema": "svc.db.s",
                                               "columns": [{"name": "c", "dataType": "CHAR"}]})
    assert response.status_code == 400 and "dataLength" in response.text
    response = api.table(name='a"b')
    assert response.status_code == 400 and response.json()["message"] == 'Invalid name a"b'
    assert api.table(name="t").status_code == 201
    api.ok("PUT", "tables", json={"name": "t", "databaseSchema": "svc.db.s",
                                  "columns": [{"name": "id", "dataType": "INT"}], "tableConstraints": [self_ref]})


def test_versions_minor_major_and_no_change(api: Api) -> None:
    api.setup()
    assert api.table().json()["version"] == 0.1
    assert api.table().json()["version"] == 0.1  # no change: no new version
    assert api.table(tableType="View").json()["version"] == 0.2
    narrower = api.call("PUT", "tables", json={"name": "t", "databaseSchema": "svc.db.s", "tableType": "View",
                                               "columns": [{"name": "id", "dataType": "INT"}]}).json()
    assert narrower["version"] == 1.0  # a removed column is backward-incompatible
    history = api.ok("GET", f"tables/{narrower['id']}/versions")
    assert len(history["versions"]) == 3 and history["entityType"] == "table"


def test_fields_lists_and_reads_by_id(api: Api) -> None:
    api.setup()
    table = api.table(tags=[_label("PII.Sensitive")], description="d").json()
    assert api.call("GET", "tables/name/svc.db.s.t", params={"fields": "nonsense"}).status_code == 400
    bare = api.ok("GET", f"tables/{table['id']}")
    assert "tags" not in bare and bare["columns"] and "tags" not in bare["columns"][0]
    every = api.ok("GET", f"tables/{table['id']}", params={"fields": "*"})
    assert every["tags"] and every["owners"] == [] and every["followers"] == []
    page = api.ok("GET", "tables", params={"databaseSchema": "svc.db.s", "limit": "1"})
    assert page["data"][0]["columns"] and page["paging"]["total"] == 1
    response = api.call("GET", f"tables/{table['id']}")
    assert response.headers["ETag"].startswith('"')


def test_patch_rules(api: Api) -> None:
    api.setup()
    table = api.table(description="d").json()
    ops = [{"op": "add", "path": "/description", "value": "patched"}]
    assert api.call("PATCH", f"tables/{table['id']}", json=ops).status_code == 415  # json-patch+json only
    stale = api.patch(table, ops, headers={"If-Match": 'W/"9.9"'})
    assert stale.status_code == 412 and "has been modified" in stale.text
    patched = api.patch(table, ops, headers={"If-Match": f'W/"{table["version"]}"'})
    assert patched.status_code == 200 and patched.json()["description"] == "patched"  # a bot's PATCH lands
    assert api.patch(table, [{"op": "remove", "path": "/nope"}]).status_code == 400
    bad_tag = [{"op": "add", "path": "/tags", "value": [_label("PII.Unknown")]}]
    assert api.patch(table, bad_tag).status_code == 404
    tags = [{"op": "add", "path": "/tags", "value": [_label("PII.Email")]}]
    assert [t["tagFQN"] for t in api.patch(table, tags).json()["tags"]] == ["PII.Email"]
    api.ok("PUT", "tables", json={"name": "t", "databaseSchema": "svc.db.s",
                                  "columns": [{"name": "id", "dataType": "INT"}], "tags": [_label("PII.Sensitive")]})
    merged = api.ok("GET", f"tables/{table['id']}", params={"fields": "tags"})
    assert [t["tagFQN"] for t in merged["tags"]] == ["PII.Email", "PII.Sensitive"]  # PATCH replaced, PUT merged
    unknown = [{"op": "add", "path": "/extension", "value": {"nope": "x"}}]
    assert api.patch(table, unknown).status_code == 400  # no such custom property


def test_delete_restore_and_include(api: Api) -> None:
    api.setup()
    table = api.table().json()
    schema = api.ok("GET", "databaseSchemas/name/svc.db.s")
    assert api.call("DELETE", f"databaseSchemas/{schema['id']}").status_code == 400  # not empty
    api.ok("DELETE", f"databaseSchemas/{schema['id']}", params={"recursive": "true"})
    assert api.call("GET", f"tables/{table['id']}").status_code == 404
    assert api.ok("GET", f"tables/{table['id']}", params={"include": "all"})["deleted"] is True
    ops = [{"op": "add", "path": "/description", "value": "x"}]
    assert api.patch(table, ops).status_code == 404  # PATCH finds live entities only
    api.ok("PUT", "databaseSchemas/restore", json={"id": schema["id"]})
    assert api.ok("GET", f"tables/{table['id']}")["deleted"] is False  # its children come back too
    assert api.call("PUT", "tables/restore", json={"id": table["id"]}).status_code == 500  # not deleted
    api.ok("DELETE", f"tables/{table['id']}", params={"hardDelete": "true"})
    assert api.call("GET", f"tables/{table['id']}", params={"include": "all"}).status_code == 404


def test_tokens_and_version(api: Api) -> None:
    assert api.call("GET", "system/version").json()["version"].startswith("1.13.")
    assert api.call("GET", "tables", token="wrong").status_code == 401
    assert api.call("GET", "tables", token="rules-forbidden").status_code == 403
