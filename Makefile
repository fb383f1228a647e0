# mcchaos — the two commands of the README are `make bench` and `make test`.

SHELL       := /bin/bash
GO          ?= go
PROFILE     ?= pr
SCENARIOS   ?=
SHARD       ?=
STACK       ?= local
BENCH_FLAGS ?=
# BASE: the git ref the base side is built from. By default the commit this
# branch forked from main, so that `make bench` answers "is my working tree
# worse than main?" as a paired run; BASE= (empty) compares with the stored
# baseline instead, which is advisory (another day is not a paired experiment).
BASE        ?= $(shell git merge-base HEAD main 2>/dev/null || git merge-base HEAD origin/main 2>/dev/null)
GOBIN       := $(shell $(GO) env GOPATH)/bin
APT_PKGS    := memcached prometheus nftables docker-compose
ACTIONLINT  := github.com/rhysd/actionlint/cmd/actionlint@v1.7.7

.PHONY: merge workflow-run compose-images compose-smoke aa fuzz stress bench-client all deps deps-local deps-compose deps-external build bench baseline test lint up up-apps down clean prune chaos

all: build

## deps: install what a fresh Debian machine lacks (memcached, prometheus, nftables,
## docker-compose v1 for `config`), build the toxiproxy server, install actionlint.
deps:
	@missing=""; \
	for c in memcached:memcached prometheus:prometheus promtool:prometheus nft:nftables docker-compose:docker-compose; do \
		command -v $${c%%:*} >/dev/null 2>&1 || missing="$$missing $${c##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# Debian's packages start services on the default ports; the benchmark starts its own.
	@if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO systemctl stop memcached prometheus 2>/dev/null || true; fi
	@[ -x bin/toxiproxy-server ] || { echo "make deps: building bin/toxiproxy-server"; $(GO) build -o bin/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server; }
	@command -v actionlint >/dev/null 2>&1 || [ -x $(GOBIN)/actionlint ] || { echo "make deps: installing actionlint"; $(GO) install $(ACTIONLINT); }

## build: the four binaries into bin/.
build:
	$(GO) build -o bin/ ./cmd/...

# What `make bench` needs depends on the stack: the local one runs the system's
# memcached and Prometheus; compose and external stacks bring their own.
deps-local: deps
deps-compose deps-external:

## bench: the benchmark on the local stack (PROFILE=pr|full|smoke, SCENARIOS=a,b, STACK=local|compose|external,
## BASE=<git ref>: the paired run's base, built from that ref beside this checkout; default: where this
## branch forked from main; BASE= compares with baselines/$(PROFILE).json, advisory; SHARD=i/n: only shard i
## of n, balanced by duration; bin/collect -merge -out DIR RUN_DIR... joins the shards into one report).
bench: deps-$(STACK) build
	bin/bench -profile $(PROFILE) -stack $(STACK) $(if $(BASE),-base $(BASE)) $(if $(SCENARIOS),-scenarios $(SCENARIOS)) $(if $(SHARD),-shard $(SHARD)) $(BENCH_FLAGS)

## merge: join the run directories of a run's shards (make bench SHARD=i/n, one per machine) into one
## run in OUT with one report and verdict (SHARD_DIRS="reports/a reports/b ...", FAIL_ON=regression|integrity|never).
OUT        ?= reports/merged
SHARD_DIRS ?=
FAIL_ON    ?= integrity
merge: build
	bin/collect -merge -fail-on $(FAIL_ON) -out $(OUT) $(SHARD_DIRS)

## baseline: run the benchmark and store its results as baselines/$(PROFILE).json.
baseline: deps-$(STACK) build
	bin/bench -profile $(PROFILE) -stack $(STACK) -baseline none -update-baseline $(if $(SCENARIOS),-scenarios $(SCENARIOS)) $(BENCH_FLAGS)

## aa: N separate paired A/A runs (the same code on both sides, each a new `bin/bench -aa`
## invocation) with -fail-on regression: how many flagged a regression measures the false-alarm
## rate of the verdict (PROFILE=smoke N=10 by default). The verdict's bound needs no such run.
N ?= 10
aa: deps-$(STACK) build
	@mkdir -p reports; flagged=0; judged=0; for i in $$(seq 1 $(N)); do \
	  bin/bench -aa -profile $(if $(filter command line,$(origin PROFILE)),$(PROFILE),smoke) -stack $(STACK) -fail-on regression \
	    -run-id aa-$$(date -u +%Y%m%d-%H%M%S)-$$i $(if $(SCENARIOS),-scenarios $(SCENARIOS)) $(BENCH_FLAGS) >reports/aa-last.log 2>&1; rc=$$?; \
	  case $$rc in 0) judged=$$((judged+1));; 1) judged=$$((judged+1)); flagged=$$((flagged+1));; esac; \
	  echo "A/A run $$i of $(N): exit $$rc ($$(grep -E '^verdict:' reports/aa-last.log | tail -1 | cut -c1-160))"; \
	done; echo "A/A: $$flagged of $$judged judged runs flagged a regression ($(N) run)"

## test: every test, against the real memcached, toxiproxy and Prometheus.
test: deps
	PATH="$(GOBIN):$$PATH" MCCHAOS_REQUIRE_STACK=1 MCCHAOS_REQUIRE_NETFILTER=$$([ "$$(id -u)" = 0 ] && echo 1 || echo 0) \
		$(GO) test -count=1 -timeout 14m ./...

## fuzz / stress / bench-client: the client's fuzzer, race stress test and benchmarks beside gomemcache.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseResponse -fuzztime 60s ./memcache
stress: deps
	MCCHAOS_STRESS_DURATION=20s $(GO) test -race -count=1 -run TestStress ./memcache
## bench-client runs the benchmark binary 10 times rather than -count 10, which
## would take each row's 10 samples of one client back to back: on a shared
## host the drift between those minutes showed as significant differences.
## Rounds alternate which client goes first (MCCHAOS_BENCH_REVERSE).
BENCH_ROUNDS ?= 10
bench-client: deps
	@mkdir -p reports
	$(GO) test -c -o reports/memcache.test ./memcache
	set -o pipefail; : > reports/bench-client.txt; \
	for i in $$(seq 1 $(BENCH_ROUNDS)); do \
	  echo "round $$i of $(BENCH_ROUNDS)" >&2; \
	  (cd memcache && MCCHAOS_BENCH_REVERSE=$$((i % 2 == 0)) ../reports/memcache.test -test.run '^$$' -test.bench Clients -test.benchmem -test.count 1 -test.timeout 10m) \
	    | tee -a reports/bench-client.txt || exit 1; \
	done
	$(GO) run golang.org/x/perf/cmd/benchstat -col /client reports/bench-client.txt

## lint: formatting, vet, workflows.
lint: deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	PATH="$(GOBIN):$$PATH" actionlint

## up / down: the compose stack (needs a Docker engine).
up:
	docker compose up -d --wait
## up-apps: the compose stack with loadgen and scenariod as services too.
up-apps:
	MCCHAOS_PROMETHEUS_CONFIG=prometheus-apps.yml docker compose --profile apps up -d --build --wait
down:
	docker compose --profile apps down -v

## prune: drop the Prometheus data of old runs in reports/ (KEEP newest stay, default 1; live runs
## are skipped); reports, results and logs stay. A pruned run can no longer be -recollect'ed.
KEEP ?= 1
prune: build
	bin/bench -prune -prune-keep $(KEEP)

## clean: remove the binaries. The run history in reports/ stays: `make prune` frees most of
## its space; delete it all with `rm -rf reports`.
clean:
	rm -rf bin
	@[ ! -d reports ] || echo "make clean: kept reports/ ($$(du -sh reports | cut -f1), the run history): make prune drops old Prometheus data, rm -rf reports deletes it"

## chaos: bench dies at random moments of paired smoke runs (kill -9 KILLS times, SIGHUP HUPS
## times), and while its drop rules are in place (kill -9 DROPS times, Ctrl-C twice INTS times);
## after each, no nftables table of the run and no child may be left after 5 s.
KILLS ?= 10
DROPS ?= 2
INTS ?= 1
HUPS ?= 5
chaos: deps build
	.ci/chaos.sh $(KILLS) $(HUPS) $(DROPS) $(INTS)

## workflow-run: bench.yml's bench job run for real, for a pull_request and a push event
## (smoke profile): its run: steps in order as the non-root user `runner` with passwordless
## sudo (created when started as root, as on GitHub's runners), with GITHUB_OUTPUT, GITHUB_ENV,
## GITHUB_PATH and GITHUB_STEP_SUMMARY; local stand-ins for checkout, setup-go and
## upload-artifact (deploy/workflow_run_test.go). Logs and artifacts: reports/workflow-run/.
## The workflow's `sudo setcap` on nft is undone afterwards.
WORKFLOW_LOGS ?= /tmp/mcchaos-workflow-run
workflow-run:
	@if [ "$$(id -u)" != 0 ]; then \
		PATH="$$(dirname "$$(command -v $(GO))"):$$PATH" MCCHAOS_WORKFLOW_RUN=1 MCCHAOS_WORKFLOW_LOGS=$(WORKFLOW_LOGS) \
		  $(GO) test -count=1 -timeout 100m -v -run 'TestJobRunnerCatchesRootOnlySteps|TestBenchJobSteps' ./deploy; \
		exit; \
	fi; \
	command -v sudo >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sudo >/dev/null; }; \
	id runner >/dev/null 2>&1 || useradd --create-home --shell /bin/bash runner; \
	echo 'runner ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/mcchaos-runner; chmod 0440 /etc/sudoers.d/mcchaos-runner; \
	nft=$$(readlink -f "$$(command -v nft)"); cap=$$(getcap "$$nft" | awk '{print $$2}'); \
	rm -rf $(WORKFLOW_LOGS); install -d -o runner $(WORKFLOW_LOGS); \
	sudo -u runner -H env PATH="$$(dirname "$$(command -v $(GO))"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	  make --no-print-directory workflow-run WORKFLOW_LOGS=$(WORKFLOW_LOGS); rc=$$?; \
	if [ -n "$$cap" ]; then setcap "$$cap" "$$nft"; else setcap -r "$$nft" 2>/dev/null || true; fi; \
	mkdir -p reports/workflow-run && cp -r $(WORKFLOW_LOGS)/. reports/workflow-run/ 2>/dev/null; \
	echo "make workflow-run: logs and artifacts in reports/workflow-run/"; exit $$rc

## compose-images: the compose stack's images built here, no registry needed (deploy/Dockerfile.local:
## FROM scratch, busybox-static, Debian's memcached and prometheus with their libraries, toxiproxy
## built from go.mod's version), tagged mcchaos-local/<service>; docker-compose.local.yml uses them.
COMPOSE_IMAGES := reports/compose-images
compose-images: deps
	@command -v busybox >/dev/null && file -L "$$(command -v busybox)" | grep -q 'statically linked' || { \
		echo "make compose-images: installing busybox-static"; SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends busybox-static >/dev/null; }
	rm -rf $(COMPOSE_IMAGES) && mkdir -p $(COMPOSE_IMAGES)/etc
	cp deploy/Dockerfile.local $(COMPOSE_IMAGES)/Dockerfile
	cp "$$(readlink -f "$$(command -v busybox)")" $(COMPOSE_IMAGES)/busybox
	printf 'root:x:0:0:root:/root:/bin/sh\nmemcache:x:11211:11211::/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > $(COMPOSE_IMAGES)/etc/passwd
	printf 'root:x:0:\nmemcache:x:11211:\nnogroup:x:65534:\n' > $(COMPOSE_IMAGES)/etc/group
	@# Each binary with the libraries ldd names, at their paths.
	for b in memcached prometheus; do \
		bin=$$(readlink -f "$$(command -v $$b)"); mkdir -p $(COMPOSE_IMAGES)/$$b; \
		cp --parents "$$bin" $(COMPOSE_IMAGES)/$$b/; \
		for lib in $$(ldd "$$bin" | grep -o '/[^ ]*'); do cp -L --parents "$$lib" $(COMPOSE_IMAGES)/$$b/; done; \
	done
	CGO_ENABLED=0 $(GO) build -o $(COMPOSE_IMAGES)/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server
	@# The CLI's dependencies are not in go.mod: installed at go.mod's toxiproxy version.
	cd $(COMPOSE_IMAGES) && CGO_ENABLED=0 GOBIN=$(CURDIR)/$(COMPOSE_IMAGES) $(GO) install \
	  github.com/Shopify/toxiproxy/v2/cmd/cli@$$(cd $(CURDIR) && $(GO) list -m -f '{{.Version}}' github.com/Shopify/toxiproxy/v2) && mv cli toxiproxy-cli
	for t in memcached toxiproxy prometheus; do \
		docker build -q --target $$t -t mcchaos-local/$$t:latest $(COMPOSE_IMAGES) || exit 1; done

## compose-smoke: a smoke benchmark on the compose stack of local images (STACK=compose, per-packet
## loss by netfilter on the host's path to docker-proxy; Grafana left out). Starts dockerd when no
## engine answers and it may (root); skips, saying so, only where no engine can start. bench brings
## the stack down afterwards and keeps Prometheus' data in the run directory (stack/prometheus-data).
COMPOSE_SMOKE_FILE := reports/compose-local.yml
compose-smoke: build
	@if ! docker info >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v dockerd >/dev/null; then \
			echo "make compose-smoke: starting dockerd (log reports/dockerd.log)"; mkdir -p reports; \
			nohup dockerd > reports/dockerd.log 2>&1 & \
			for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
		fi; \
		docker info >/dev/null 2>&1 || { echo "make compose-smoke: SKIPPED: no Docker engine answers or can start here (docker info fails; apt-get install docker.io, then dockerd as root)"; exit 0; }; \
	fi; \
	docker compose version >/dev/null 2>&1 || { echo "make compose-smoke: docker compose v2 is missing (go install github.com/docker/compose/v2/cmd@v2.40.3, installed as ~/.docker/cli-plugins/docker-compose)"; exit 2; }; \
	make --no-print-directory compose-images && \
	docker compose -f docker-compose.yml -f docker-compose.local.yml config > $(COMPOSE_SMOKE_FILE) && \
	bin/bench -profile smoke -stack compose -compose-file $(COMPOSE_SMOKE_FILE) -baseline none \
	  -scenariod-args '-loss-injector netfilter' $(if $(SCENARIOS),-scenarios $(SCENARIOS)) $(BENCH_FLAGS)
