# Berth. `make run` starts the local binary; `make test` runs the whole suite
# against the real Docker engine; `make bench` measures Berth against the
# engine called directly; `make lambda` and the build-<LogicalId> targets
# build the Lambda functions (template.yaml).

GO      ?= go
TIMEOUT ?= 15m

.PHONY: run test bench demo-image build vet fuzz clean swarm-up swarm-down lambda FORCE

## run: build the demo image on the local engine and start Berth on :8000
run: demo-image
	$(GO) run ./local

## test: vet, check formatting, and run every test against the real engine
test: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) test -race -count=1 -timeout $(TIMEOUT) ./...

vet:
	$(GO) vet ./...

## bench: Berth vs the engine called directly, side by side (figures in BENCHMARKS.md)
BENCH = $(GO) test -run '^$$' -count 1 -timeout 30m ./functions/api/ -bench
bench: demo-image
	$(BENCH) '^Benchmark(Spawn|List|SwarmSpawn)$$' -benchtime 60x
	$(BENCH) '^BenchmarkSwarmScale$$' -benchtime 10x
	$(BENCH) '^BenchmarkTLSGet$$' -benchtime 200x
	$(GO) test -run '^$$' -count 1 ./functions/lambdafn/ -bench '^BenchmarkColdStart$$' -benchtime 25x
	$(GO) test -run '^$$' -count 1 ./functions/lambdafn/ -bench '^BenchmarkAdapterOverhead$$' -benchtime 20000x

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' ./functions/api/ | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./functions/api/ || exit 1; done

## demo-image: build berth/demo:latest (infra/testimage) unless it is current
demo-image:
	$(GO) run ./infra/imagebuild/demo

## swarm-up: a local one-node swarm over TLS in its own network namespace (root)
swarm-up:
	$(GO) run ./infra/devswarm up

## swarm-down: stop it and remove everything it made
swarm-down:
	$(GO) run ./infra/devswarm down

## build: the local binary, static, in build/berth
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o build/berth ./local

## lambda: every function as dist/<name>.zip (bootstrap for linux/$(ARCH)), without SAM
ARCH      ?= arm64
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
LAMBDA    = CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w"
lambda: $(FUNCTIONS:%=dist/%.zip)

dist/%.zip: FORCE
	@mkdir -p build/lambda/$* dist
	$(LAMBDA) -o build/lambda/$*/bootstrap ./functions/$*
	@rm -f $@ && cd build/lambda/$* && zip -q -X ../../../$@ bootstrap

# SAM (template.yaml, BuildMethod: makefile) runs build-<LogicalId> with
# ARTIFACTS_DIR set. A function's logical ID is its directory under
# functions/ in CamelCase plus "Function": build-GetMeFunction builds
# ./functions/get-me.
build-%Function:
	$(LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr A-Z a-z)

FORCE:

clean:
	rm -rf build dist
