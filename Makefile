# The two set-up commands: `make run` and `make test`. Both install what is missing first.
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha1sum | cut -c1-12)
PYTEST := $(VENV)/bin/pytest
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test test-sqlite test-postgres lint system-packages

$(STAMP): requirements.txt pyproject.toml
	bash scripts/system-packages.sh
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

system-packages:
	bash scripts/system-packages.sh

run: $(STAMP) system-packages
	CREDITBOT_DEMO=1 $(VENV)/bin/creditbot serve

# One throw-away PostgreSQL for both passes: the first runs everything on SQLite plus the chat
# store's contract suite on PostgreSQL too, the second every database test on PostgreSQL.
# Then the wheel alone must install and serve.
test: $(STAMP) system-packages
	bash scripts/with-postgres.sh sh -c 'CREDITBOT_TEST_DB=sqlite $(PYTEST) -q && CREDITBOT_TEST_DB=postgresql $(PYTEST) -q'
	bash scripts/check-wheel.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
