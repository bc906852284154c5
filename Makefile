# The two commands of the README:  `make run` (main job)  and  `make test` (whole suite).
# Both create the project's environment (.venv, Python 3.12 via .python-version) when missing.
PY := .venv/bin/python
STAMP := .venv/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: run test benchmark app
run: $(STAMP)
	$(PY) -m sim

test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest -n 2 -q

benchmark: $(STAMP)
	$(PY) -m experiments.benchmark

app: $(STAMP)
	.venv/bin/solara run sim/app/app.py --host 127.0.0.1 --port 8765 --production

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	rm -f .venv/.installed-*
	touch $(STAMP)
