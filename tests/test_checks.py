"""System checks catch a bad model path and a production set-up without Redis."""

from django.core import checks
from django.core.management import call_command

from inference.apps import check_model, check_redis_server


def ids(check):
    return [m.id for m in check()]


def test_a_missing_model_file_is_an_error(settings, tmp_path):
    settings.COLORIZER_MODEL_PATH = str(tmp_path / "nope.pt")
    assert "inference.E001" in ids(check_model)


def test_an_existing_model_file_passes(settings, tiny_model):
    assert ids(check_model) == []


def test_production_without_a_redis_server_is_warned_about(settings):
    settings.DEBUG, settings.REDIS_URL = False, ""
    assert ids(check_redis_server) == ["inference.W001"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert ids(check_redis_server) == []


def test_the_redis_warning_is_for_deploy_checks_not_every_command(settings, tiny_model, capsys):
    settings.DEBUG, settings.REDIS_URL = False, ""
    every_command = [m.id for m in checks.run_checks(include_deployment_checks=False)]
    assert "inference.W001" not in every_command
    deploy = [m.id for m in checks.run_checks(include_deployment_checks=True)]
    assert "inference.W001" in deploy
    call_command("check")
    assert "W001" not in capsys.readouterr().err
