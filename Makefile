# doclib: the two commands of the README, and a few more.
.PHONY: run demo-search test test-postgres setup setup-test sample lint bench-quality bench-load bench-related bench-lexical i18n

run:
	scripts/run.sh

demo-search: setup
	.venv/bin/doclib ingest library/sample
	.venv/bin/doclib search "How do recruiters reach teenagers online?" --k 3
	.venv/bin/doclib search "ما دور الأمهات في ملاحظة علامات الخطر؟" --k 3

# the suite on SQLite, then on a private PostgreSQL server (tests/pgserver.py),
# two test processes each (pytest-xdist; 370 + 463 s in one, 247 + 285 s in two)
PYTEST = HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DOCLIB_REQUIRE_POSTGRES=1 \
	.venv/bin/python -m pytest -n 2
test: setup-test
	.venv/bin/ruff check src tests bench scripts
	.venv/bin/python -m mypy src/doclib
	$(PYTEST)
	$(PYTEST) --database postgresql

test-postgres:
	$(PYTEST) --database postgresql

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

sample:
	.venv/bin/python scripts/make_sample_library.py

lint:
	.venv/bin/ruff check src tests bench scripts

bench-quality:
	.venv/bin/python bench/quality.py --compare bench/configs/no-coverage-no-second.yaml \
	    --compare bench/configs/no-second.yaml --compare bench/configs/no-coverage.yaml \
	    --compare bench/configs/foundation.yaml

bench-load:
	.venv/bin/python bench/load.py

i18n:
	.venv/bin/python scripts/i18n.py

bench-related:
	.venv/bin/python bench/related.py

bench-lexical:
	.venv/bin/python bench/lexical.py
