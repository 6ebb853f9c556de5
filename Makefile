# Two commands for a new user: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test install

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt

# The port of the site: `make run PORT=8001`.
PORT ?= 8000
# The real-or-fake study's photos (/study/): a prepared pool's test split when there is one,
# else the photos of one source that the shipped model's pool holds out (study_add --held-out).
STUDY_SOURCE ?= ../shared/datasets/voc2007_subset

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	@# 40 pairs, never of photos the model trained on, added beside the starting site (the
	@# first within seconds, all in about a minute on a busy CPU); a second start finds them there.
	@if [ -f data/pool/manifest.csv ]; then \
		($(PY) manage.py study_add data/pool --split test --count 40 \
		|| echo "Could not seed the real-or-fake study; the site runs without it.") & \
	elif [ -d $(STUDY_SOURCE) ]; then \
		($(PY) manage.py study_add --held-out $(STUDY_SOURCE) --count 40 \
		|| echo "Could not seed the real-or-fake study; the site runs without it.") & \
	fi; \
	$(PY) manage.py runsite --bind 127.0.0.1:$(PORT)

test: install
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the browser tests (apt-get)..."; \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null \
		|| echo "Could not install chromium with apt-get; the browser tests will be skipped (and fail under CI=true)."; \
	fi
	$(PY) -m pytest
