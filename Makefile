# CareRoute: `make demo` serves the demo city; `make test` runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SEED ?= 1
TODAY := $(shell TZ=Asia/Shanghai date +%F)
TOMORROW := $(shell TZ=Asia/Shanghai date -d tomorrow +%F)

.PHONY: install translations demo serve test lint check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

translations: install
	$(FLASK) i18n compile

demo: install translations
	$(FLASK) db upgrade
	$(FLASK) demo load --seed $(SEED) --if-empty
	$(FLASK) demo month --seed $(SEED) --if-empty
	$(FLASK) settlement open --all-agencies
	$(FLASK) visits generate --date $(TODAY)
	$(FLASK) visits generate --date $(TOMORROW)
	$(FLASK) plan day --all-agencies --date $(TODAY) --time-limit 20 --if-unplanned
	$(FLASK) plan day --all-agencies --date $(TOMORROW) --time-limit 20 --if-unplanned
	$(FLASK) demo logins
	HOST=$(HOST) PORT=$(PORT) $(PY) wsgi.py

serve: install translations
	HOST=$(HOST) PORT=$(PORT) $(PY) wsgi.py

test: install translations
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

check: lint test

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
