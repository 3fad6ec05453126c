# hsba: the two commands.
#   make run    set up, then serve on http://127.0.0.1:8000 (embedded default under ./var/)
#   make test   set up, start the test services, run the whole suite, stop the services
# PYTEST_ARGS="..." is passed to pytest; ALLOW_NO_TESTS=1 accepts pytest's exit code 5.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=
ALLOW_NO_TESTS ?=
SERVICES := scripts/test-services.sh

.PHONY: help setup run test services-start services-stop services-status services-clean

help:
	@echo "make run             set up and start hsba on the embedded default (http://127.0.0.1:8000)"
	@echo "make test            set up, start test services, run the suite, stop test services"
	@echo "make setup           Debian packages, uv, .venv from uv.lock"
	@echo "make services-start  start PostgreSQL, SeaweedFS S3, SoftHSM2 token, test PKI"
	@echo "make services-stop   stop them (services-status, services-clean also exist)"

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/hsba serve

# pytest's exit code is make's; the services are stopped whatever happens, quietly,
# so that the output ends with pytest's summary line.
test: setup
	@rc=0; \
	$(SERVICES) start || rc=$$?; \
	if [ $$rc -eq 0 ]; then .venv/bin/pytest $(PYTEST_ARGS) || rc=$$?; fi; \
	mkdir -p .test-services/log; \
	$(SERVICES) stop >.test-services/log/stop.out 2>&1 || true; \
	if [ $$rc -eq 5 ] && [ -n "$(ALLOW_NO_TESTS)" ]; then rc=0; fi; \
	exit $$rc

services-start: setup
	@$(SERVICES) start

services-stop:
	@$(SERVICES) stop

services-status:
	@$(SERVICES) status

services-clean:
	@$(SERVICES) clean
