"""System checks catch a bad model path and a production set-up without Redis."""

from inference.apps import check_queue_and_model


def ids(settings):
    return [m.id for m in check_queue_and_model()]


def test_a_missing_model_file_is_an_error(settings, tmp_path):
    settings.COLORIZER_MODEL_PATH = str(tmp_path / "nope.pt")
    assert "inference.E001" in ids(settings)


def test_an_existing_model_file_passes(settings, tiny_model):
    assert "inference.E001" not in ids(settings)


def test_production_without_a_redis_server_is_warned_about(settings, tiny_model):
    settings.DEBUG, settings.REDIS_URL = False, ""
    assert ids(settings) == ["inference.W001"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert ids(settings) == []
