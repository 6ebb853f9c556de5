"""The OpenAPI schema: valid, complete (every endpoint of the contract, its
fields and its error responses), served with offline docs, and true: the
live API's answers match it (schemathesis, a bounded number of examples)."""

import io
import re

import pytest
import requests
from django.core.management import call_command
from django.db import transaction
from PIL import Image

from gallery.api.models import ApiToken
from mlcore.render import MAX_TEMPERATURE, MAX_VIVIDNESS, MIN_TEMPERATURE, MIN_VIVIDNESS
from gallery.forms import check_image
from gallery.models import Gallery, Photo
from gallery.photos import create_photo
from tests.api_support import fresh_throttles  # noqa: F401
from tests.conftest import run_worker, upload_file

# The contract of the REST API issue: every operation, no more, no less.
OPERATIONS = {
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/galleries/"), ("post", "/api/v1/galleries/"),
    ("get", "/api/v1/galleries/{id}/"), ("patch", "/api/v1/galleries/{id}/"), ("delete", "/api/v1/galleries/{id}/"),
    ("get", "/api/v1/galleries/{id}/download/"),
    ("get", "/api/v1/photos/"), ("post", "/api/v1/photos/"),
    ("get", "/api/v1/photos/{id}/"), ("delete", "/api/v1/photos/{id}/"),
    ("get", "/api/v1/photos/{id}/result/"), ("get", "/api/v1/photos/{id}/original/"),
    ("get", "/api/v1/photos/{id}/uncertainty/"),
    ("get", "/api/v1/photos/{id}/thumbnail/"), ("get", "/api/v1/photos/{id}/preview/"),
    ("post", "/api/v1/photos/{id}/rerender/"), ("post", "/api/v1/photos/{id}/retry/"),
    ("get", "/api/v1/photos/{id}/suggestions/"), ("put", "/api/v1/photos/{id}/hints/"),
}
PHOTO_FIELDS = {
    "id", "gallery", "status", "error", "width", "height", "vividness", "temperature", "rendering",
    "requested_vividness", "model_version",
    "created_at", "finished_at", "original_url", "result_url", "warnings", "provenance",
    "title", "status_label", "render_error", "page_url", "thumbnail_url", "preview_url", "hints",
}
# Examples per operation for schemathesis: enough to reach every documented
# answer of most operations, few enough to run in seconds.
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_the_schema_is_valid_openapi_without_warnings(tmp_path, db):
    # --validate checks it against the OpenAPI 3 JSON schema; --fail-on-warn
    # fails on anything drf-spectacular had to guess.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/photos/{id}/result/" in (tmp_path / "schema.yml").read_text()


def test_the_schema_has_every_endpoint_of_the_contract(schema):
    assert {(m, p) for m, p, _ in operations(schema)} == OPERATIONS


def test_every_operation_documents_its_errors(schema):
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        where = f"{method} {path}"
        assert operation.get("summary"), where
        assert "429" in codes, where
        assert all(operation["responses"][c].get("description") for c in codes - {"200", "201"}), where
        if path != "/api/v1/auth/token/":
            assert "401" in codes, where
            assert {"tokenAuth": []} in operation["security"], where
        if "{id}" in path:
            assert "404" in codes, where
        if method in ("post", "patch") and "retry" not in path:
            assert "400" in codes, where
    responses = schema["paths"]["/api/v1/photos/{id}/result/"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"image/png", "image/jpeg"}
    assert set(responses) >= {"400", "401", "404", "409", "429"}
    create = schema["paths"]["/api/v1/photos/"]["post"]
    assert set(create["responses"]) == {"202", "400", "401", "404", "429", "503"}
    assert set(create["responses"]["503"]["headers"]) == {"Retry-After", "X-Quota-Limit", "X-Quota-Remaining"}
    assert set(create["responses"]["202"]["headers"]) == {"Location", "X-Quota-Limit", "X-Quota-Remaining"}
    assert set(create["responses"]["429"]["headers"]) == {"Retry-After", "X-Quota-Limit", "X-Quota-Remaining"}
    assert list(create["requestBody"]["content"]) == ["multipart/form-data"]


def test_the_schema_has_every_field(schema):
    components = schema["components"]["schemas"]
    assert set(components["Photo"]["properties"]) == PHOTO_FIELDS
    assert set(components["Photo"]["required"]) == PHOTO_FIELDS
    status_ref = components["Photo"]["properties"]["status"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert components[status_ref]["enum"] == ["queued", "running", "done", "failed"]
    for nullable in ("error", "model_version", "finished_at", "result_url", "temperature", "provenance"):
        assert components["Photo"]["properties"][nullable].get("nullable"), nullable
    assert set(components["Gallery"]["properties"]) == {"id", "name", "photo_count", "created_at"}
    create = components["PhotoCreateRequest"]
    assert set(create["properties"]) == {"image", "gallery", "vividness", "temperature"}
    assert create["required"] == ["image"]
    assert create["properties"]["image"]["format"] == "binary"
    # mlcore's ranges, the only ones.
    assert (create["properties"]["temperature"]["minimum"], create["properties"]["temperature"]["maximum"]) == (
        MIN_TEMPERATURE, MAX_TEMPERATURE)
    assert (create["properties"]["vividness"]["minimum"], create["properties"]["vividness"]["maximum"]) == (
        MIN_VIVIDNESS, MAX_VIVIDNESS)
    rerender = components["RerenderRequest"]
    assert set(rerender["properties"]) == {"vividness", "temperature"} and not rerender.get("required")
    assert set(components["Token"]["properties"]) == {"token"}
    assert set(components["QuotaError"]["properties"]) == {"detail", "limit", "remaining", "resets_at"}


def test_schema_and_docs_are_public(client, db):
    r = client.get("/api/schema/")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.oai.openapi")
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["openapi"].startswith("3.")
    assert client.get("/api/docs/").status_code == 200


def test_the_docs_work_offline(live_server, transactional_db):
    page = requests.get(live_server.url + "/api/docs/", timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    scripts = [a for a in assets if a.endswith((".js", ".css"))]
    assert scripts, page.text[:500]
    for asset in assets:
        # Everything from our own server: no CDN.
        assert not asset.startswith(("http:", "https:", "//")), asset
    loaded = [requests.get(live_server.url + asset.replace("&amp;", "&"), timeout=10) for asset in assets]
    assert all(r.status_code == 200 for r in loaded), [(a, r.status_code) for a, r in zip(assets, loaded)]
    # Swagger UI's start-up script is a file too (no inline script, for the CSP); it names the schema.
    assert any("/api/schema/" in r.text for r in loaded)


# -- the live API against its schema -----------------------------------------


@pytest.fixture
def live_api(live_server, transactional_db, redis_conn, tiny_model, owner, make_user):
    """An owner with a key, a done photo and a failed one; a stranger with a
    gallery (whose id must answer 404)."""
    _, key = ApiToken.create(owner, "schemathesis")
    gallery = Gallery.default_for(owner)
    Gallery.default_for(make_user("mallory"))
    with transaction.atomic():
        done = create_photo(gallery, check_image(upload_file("done.png", size=(40, 30))))
    run_worker()
    with transaction.atomic():
        failed = create_photo(gallery, check_image(upload_file("failed.png", size=(40, 30))))
    Photo.objects.filter(pk=failed.pk).update(status=Photo.FAILED, error="Broken on purpose.")
    assert Photo.objects.get(pk=done.pk).status == Photo.DONE
    return live_server.url, {"Authorization": f"Token {key}"}, done, failed, gallery


def checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance]


def photo_bytes():
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((32, 24)).save(buf, "PNG")
    return buf.getvalue()


def test_the_live_api_matches_its_schema(live_api):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    base, auth, done, failed, gallery = live_api
    api_schema = schemathesis.openapi.from_url(base + "/api/schema/", headers={"Accept": "application/json"})
    ops = {(op.method.lower(), op.path): op for op in (r.ok() for r in api_schema.get_all_operations())}
    assert set(ops) == OPERATIONS

    # First the answers that random ids rarely reach: real objects, each
    # documented success and conflict.
    known = [
        ("get", "/api/v1/photos/{id}/", {"id": done.pk}, {}),
        ("get", "/api/v1/photos/{id}/result/", {"id": done.pk}, {}),
        ("get", "/api/v1/photos/{id}/result/", {"id": done.pk}, {"query": {"format": "jpeg", "quality": 70}}),
        ("get", "/api/v1/photos/{id}/result/", {"id": failed.pk}, {}),
        ("get", "/api/v1/photos/{id}/original/", {"id": done.pk}, {}),
        ("post", "/api/v1/photos/{id}/rerender/", {"id": done.pk}, {"body": {"temperature": 0.7}, "media_type": "application/json"}),
        ("post", "/api/v1/photos/{id}/rerender/", {"id": failed.pk}, {"body": {"temperature": 0.7}, "media_type": "application/json"}),
        ("post", "/api/v1/photos/{id}/retry/", {"id": done.pk}, {}),
        ("post", "/api/v1/photos/{id}/retry/", {"id": failed.pk}, {}),
        ("get", "/api/v1/photos/{id}/suggestions/", {"id": done.pk}, {"query": {"x": 0.4, "y": 0.6}}),
        ("get", "/api/v1/photos/{id}/suggestions/", {"id": failed.pk}, {"query": {"x": 0.4, "y": 0.6}}),
        ("put", "/api/v1/photos/{id}/hints/", {"id": done.pk}, {"body": {"hints": []}, "media_type": "application/json"}),
        # The tiny test model takes no hints: 409.
        ("put", "/api/v1/photos/{id}/hints/", {"id": done.pk},
         {"body": {"hints": [{"x": 0.5, "y": 0.5, "color": "#aa3300"}]}, "media_type": "application/json"}),
        ("get", "/api/v1/galleries/{id}/", {"id": gallery.pk}, {}),
        ("delete", "/api/v1/galleries/{id}/", {"id": gallery.pk}, {}),
        ("get", "/api/v1/photos/", {}, {"query": {"gallery": gallery.pk, "status": "done"}}),
        ("post", "/api/v1/photos/", {}, {"body": {"image": photo_bytes()}, "media_type": "multipart/form-data"}),
    ]
    seen = set()
    for method, path, path_parameters, extra in known:
        case = ops[(method, path)].Case(path_parameters=path_parameters, **extra)
        response = case.call(base_url=base, headers=auth)
        case.validate_response(response, checks=checks())
        seen.add((method, path, response.status_code))
    assert {("get", "/api/v1/photos/{id}/result/", 200), ("get", "/api/v1/photos/{id}/result/", 409),
            ("post", "/api/v1/photos/{id}/rerender/", 202), ("post", "/api/v1/photos/{id}/retry/", 202),
            ("post", "/api/v1/photos/{id}/retry/", 409), ("delete", "/api/v1/galleries/{id}/", 409),
            ("post", "/api/v1/photos/", 202), ("get", "/api/v1/photos/{id}/suggestions/", 200),
            ("get", "/api/v1/photos/{id}/suggestions/", 409), ("put", "/api/v1/photos/{id}/hints/", 202),
            ("put", "/api/v1/photos/{id}/hints/", 409)} <= seen

    # Then generated requests, a bounded number per operation, reproducible.
    for (method, path), operation in sorted(ops.items()):
        headers = {} if path == "/api/v1/auth/token/" else auth

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def conforms(case):
            response = case.call(base_url=base, headers=headers)
            case.validate_response(response, checks=checks())

        conforms()
