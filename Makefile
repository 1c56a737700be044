# Idlegrid — the two commands a newcomer needs are `make run` and `make test`.
# Tests read RUN_FLAGS from this file to check that `make run` still works.

GO        ?= go
BIN       := bin
RUN_FLAGS := --listen 127.0.0.1:8080 --data ./data --demo 12
# Timeout for the whole suite; it takes a few minutes warm.
TEST_FLAGS ?= -timeout 25m
export CGO_ENABLED ?= 1

.PHONY: run test fuzz deps build server agent desktop dist vet fmt race clean

## run: build and start the control plane with a demo fleet of simulated suppliers
run: server
	$(BIN)/idlegrid-server $(RUN_FLAGS)

# clang compiles Fyne's cgo OpenGL driver several times faster than gcc;
# chosen when the recipe runs, after `deps` may have installed it.
WITH_CC := CC=$$(command -v clang || echo cc)

## test: install whatever is missing, then run every test, then fuzz briefly
test: deps
	$(WITH_CC) $(GO) vet ./...
	$(WITH_CC) $(GO) test $(TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

# Fuzz targets (name:package:executions). make test runs each for a fixed
# number of executions, a few seconds apiece here: a duration (-fuzztime 3s)
# trips a race in Go 1.26's fuzz coordinator that fails a clean run with
# "context deadline exceeded" at the deadline (go.dev/issue/75804, fixed in
# Go 1.27); a count has no deadline to race. Run one longer with e.g.
# `make fuzz FUZZ_TIME=10m` (a duration or a count such as 5000000x).
FUZZ_TIME ?=
FUZZ_TARGETS := FuzzDecode:./shared/proto:100000 FuzzParse:./shared/wallet:150000 \
	FuzzParseUSD:./shared/money:150000 FuzzParseToken:./shared/money:150000 \
	FuzzRequestBodies:./controlplane/api:2000

## fuzz: every fuzz target, briefly (or for FUZZ_TIME each)
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; n=$${rest#*:}; \
		budget=$(if $(FUZZ_TIME),$(FUZZ_TIME),$${n}x); echo "fuzz: $$name in $$pkg for $$budget"; \
		$(WITH_CC) $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget $$pkg >/tmp/idlegrid-fuzz.log 2>&1 || { cat /tmp/idlegrid-fuzz.log; exit 1; }; \
	done

## deps: install system packages the tests need (idempotent)
deps:
	@./.ci/install-deps

build: server agent desktop

server:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/idlegrid-server ./cmd/idlegrid-server

agent:
	$(GO) build -o $(BIN)/idlegrid-agent ./cmd/idlegrid-agent

## desktop: the supplier's desktop app (cgo, OpenGL)
desktop:
	$(WITH_CC) $(GO) build -o $(BIN)/idlegrid ./cmd/idlegrid

## dist: release binaries for what this machine can build (see installer/dist.sh)
dist:
	./installer/dist.sh

vet:
	$(WITH_CC) $(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## race: the suite under the race detector (slower; not part of make test)
race: deps
	$(WITH_CC) $(GO) test -race $(TEST_FLAGS) ./...

clean:
	rm -rf $(BIN) data dist
