"""The README's route tables name every route the server has, each with its required query
parameters (``GET …/blocks?week=``), so a reader never meets a 422 the README did not warn of."""

from __future__ import annotations

import re
from pathlib import Path

from integration_core.http.app import create_app

README = Path(__file__).parents[2] / "README.md"
METHODS = "GET|POST|PUT|PATCH|DELETE"
ROUTE = re.compile(rf"^((?:{METHODS})(?:/(?:{METHODS}))*) (\S+?)(?:\?(\S*))?$")


def documented() -> dict[tuple[str, str], set[str]]:
    """``(method, path)`` → the query parameters the README shows, from every table row.
    ``…/blocks/{id}`` after ``…/calendars/{provider}/{location}/blocks`` in one row is read as
    the same path continued."""
    routes: dict[tuple[str, str], set[str]] = {}
    for line in README.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        previous = ""
        for span in re.findall(r"`([^`]+)`", line.split(" | ")[0]):
            found = ROUTE.match(span)
            if found is None:
                continue
            methods, path, query = found.groups()
            if path.startswith("…"):
                anchor = path[1:].split("/")[1]
                path = previous[: previous.rindex(f"/{anchor}")] + path[1:]
            previous = path
            params = {p.split("=")[0] for p in (query or "").split("&") if p}
            for method in methods.split("/"):
                routes[(method, path)] = params
    return routes


def normalised(path: str) -> str:
    return re.sub(r"\{\w+_id\}", "{id}", path.replace("{practice}", "{p}"))


def test_every_route_is_in_the_readme_with_its_required_query_parameters(ps_runtime_factory):
    readme = documented()
    app = create_app(ps_runtime_factory())
    missing = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            key = (method.upper(), normalised(path))
            required = {
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query" and parameter.get("required")
            }
            if key not in readme:
                missing.append(f"{key[0]} {key[1]}")
            elif not required <= readme[key]:
                missing.append(f"{key[0]} {key[1]}: ?{'&'.join(sorted(required - readme[key]))}")
    assert missing == []


def test_the_reader_sees_what_it_found():
    readme = documented()
    assert readme[("GET", "/v1/practices/{p}/calendars/{provider}/{location}/blocks")] == {"week"}
    assert ("DELETE", "/v1/practices/{p}/calendars/{provider}/{location}/blocks/{id}") in readme
    assert ("PUT", "/v1/practices/{p}/calendars/{provider}/{location}") in readme
