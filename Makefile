# Two commands for a new user: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test install

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	@# The real-or-fake study (/study/): 40 pairs from the prepared pool's test split, never
	@# from photos the model trained on; none without a pool; a second start finds them there.
	@if [ -d ../shared/datasets ] && [ -f data/pool/manifest.csv ]; then \
		$(PY) manage.py study_add data/pool --split test --count 40 \
		|| echo "Could not seed the real-or-fake study; the site starts without it."; \
	fi
	$(PY) manage.py runsite

test: install
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the browser tests (apt-get)..."; \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null \
		|| echo "Could not install chromium with apt-get; the browser tests will be skipped (and fail under CI=true)."; \
	fi
	$(PY) -m pytest
