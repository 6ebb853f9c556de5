"""The shape of the house: imports run one way (mlcore <- gallery <- inference), with the
study beside the worker and colorsite (settings, URLs, WSGI) as the roof; the site's views and
the API's never import each other, and nothing imports in a circle. Read from the source
(every import statement, lazy ones inside functions included), so an import hidden in a
function counts too."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mlcore", "inference", "gallery", "colorsite", "study")
# What each floor may import of ours; a lower floor never imports a higher one. Every package
# has a floor, and nothing is both roof and basement.
ALLOWED = {
    # The science: no web, no jobs.
    "mlcore": {"mlcore"},
    # The domain: people, galleries, photos and their jobs. It sends a job by its dotted
    # name (gallery/job.py) and never imports the worker.
    "gallery": {"mlcore", "gallery"},
    # The worker stands above the domain: it imports the models and calls their methods.
    "inference": {"mlcore", "gallery", "inference"},
    # The model page and the real-or-fake study sit on the domain, beside the worker.
    "study": {"mlcore", "gallery", "study"},
    # The roof: settings, URLs and WSGI put the apps together; nothing imports it.
    "colorsite": {"mlcore", "gallery", "inference", "study", "colorsite"},
}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path, name=None):
    """Modules of ours imported anywhere in the file, as dotted names."""
    tree = ast.parse(path.read_text(), str(path))
    name = name or module_name(path)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            # `from gallery.api import views` imports the module gallery.api.views
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def our_modules():
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def import_graph():
    modules = our_modules()
    return {name: {m for m in imports_of(path) if m in modules} for name, path in modules.items()}


def test_lower_floors_never_import_higher_ones():
    wrong = []
    for name, path in our_modules().items():
        floor = name.split(".")[0]
        for imported in imports_of(path):
            if imported.split(".")[0] not in ALLOWED[floor]:
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_every_package_has_a_floor():
    assert set(ALLOWED) == set(PACKAGES)


def test_the_domain_finds_no_model_by_name():
    # apps.get_model hides an arrow instead of removing it: the checker above could not see it.
    hidden = [name for name, path in our_modules().items()
              if name.split(".")[0] != "colorsite" and "get_model(" in path.read_text()]
    assert hidden == []


# mlcore's research tooling: making models and measuring them. The product (the site, the
# worker, `manage.py colorize`, and the mlcore modules they run) never needs it.
RESEARCH = ("mlcore.training", "mlcore.evaluation")
RESEARCH_COMMANDS = ("mlcore.management.commands.evaluate", "mlcore.management.commands.fetch_photos",
                     "mlcore.management.commands.prepare_dataset",
                     "mlcore.management.commands.train_colorizer")


def is_research(name):
    return name.startswith(tuple(f"{r}." for r in RESEARCH)) or name in RESEARCH or name in RESEARCH_COMMANDS


def test_the_product_never_imports_training_or_evaluation():
    wrong = [f"{name} imports {imported}" for name, path in our_modules().items() if not is_research(name)
             for imported in imports_of(path) if is_research(imported)]
    assert wrong == []


def test_the_research_check_sees_a_product_module_that_imports_training(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("from .training.losses import LOSSES\n")
    assert {m for m in imports_of(source, "mlcore.x") if is_research(m)} == {"mlcore.training.losses",
                                                                           "mlcore.training.losses.LOSSES"}


def test_the_site_and_the_api_views_never_import_each_other():
    # They share the API's tables (the keys page) and its contract (the site reads a download's
    # query through the API's serializer), never each other's views.
    graph = import_graph()
    site, api = "gallery.views", "gallery.api"
    shared = {"gallery.api.models", "gallery.api.serializers"}
    assert not any(m.startswith(api) and m not in shared for m in graph[site]), graph[site]
    for name, imported in graph.items():
        if name.startswith(api):
            assert site not in imported, name


def test_the_domain_reaches_into_the_api_app_only_for_the_keys_page():
    # The quota's tables live beside its logic in gallery/quota.py (they began in the API app);
    # the site's views read the API's keys and its download query, and nothing else of the
    # domain needs the API.
    graph = import_graph()
    reaching = {name for name, imported in graph.items()
                if name.startswith("gallery.") and not name.startswith("gallery.api")
                and any(m.startswith("gallery.api") for m in imported)}
    assert reaching == {"gallery.views"}


def test_nothing_imports_in_a_circle():
    graph = import_graph()
    circles = []
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_the_checker_sees_a_lazy_import_inside_a_function(tmp_path):
    # The rules above are only as good as imports_of(): it must see imports
    # inside functions, where circles used to hide.
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from gallery.models import Photo\n    from .. import mlcore\n    import numpy\n")
    assert imports_of(source, "inference.sub.x") == {"gallery.models", "gallery.models.Photo", "inference", "inference.mlcore"}


def run_fresh(code):
    """Run Python code in a fresh interpreter at the repository root; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_web_process_never_imports_torch():
    # What gunicorn loads (the WSGI application, every URL pattern and so every view, the
    # system checks), and the domain a view calls: torch would add hundreds of MB to
    # every web process.
    code = (
        "import sys, django; django.setup()\n"
        "import colorsite.wsgi\n"
        "from django.urls import get_resolver\n"
        "def walk(patterns):\n"
        "    for p in patterns:\n"
        "        walk(p.url_patterns) if hasattr(p, 'url_patterns') else p.callback\n"
        "walk(get_resolver().url_patterns)\n"
        "import gallery.views, gallery.api.views, gallery.photos, gallery.forms, inference.jobs\n"
        "from django.core import checks; checks.run_checks()\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')) [:3])\n"
    )
    assert run_fresh(code) == "[]"


def test_a_rerender_from_a_stored_prediction_needs_no_torch():
    code = (
        "import sys, numpy as np\n"
        "from PIL import Image\n"
        "from mlcore.render import Prediction, render\n"
        "rng = np.random.default_rng(0)\n"
        "p = Prediction(indices=rng.integers(0, 20, (4, 5, 16)).astype(np.uint16),\n"
        "               log_probs=np.log(rng.dirichlet(np.ones(16), (4, 5))).astype(np.float16),\n"
        "               centres=rng.normal(0, 40, (20, 2)).astype(np.float32),\n"
        "               log_bin_weights=rng.normal(0, 1, 20).astype(np.float32), temperature=0.5)\n"
        "p = Prediction.from_bytes(p.to_bytes())\n"
        "out = render(p, Image.linear_gradient('L').resize((40, 30)), vividness=80)\n"
        "print(out.size, out.mode, 'torch' in sys.modules)\n"
    )
    assert run_fresh(code) == "(40, 30) RGB False"
