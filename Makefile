# kfgate: `make run` serves the examples; `make test` proves everything.
GO        ?= go
BIN       := bin/kfgate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kfgate
GOLANGCI_VERSION := v2.15.0
GOLANGCI  := $(CACHE)/tools/golangci-lint-$(GOLANGCI_VERSION)
# kustomize renders the install (test/install, `make manifests`), built from the Go module proxy.
KUSTOMIZE_VERSION := v5.8.1
KUSTOMIZE := $(CACHE)/tools/kustomize-$(KUSTOMIZE_VERSION)
XDS_ADDR  ?= 127.0.0.1:18000
DIAG_ADDR ?= 127.0.0.1:8877

# envtest's kube-apiserver and etcd, built once from the Go module proxy into $(CACHE)/envtest.
ENVTEST_ASSETS = $(shell GO=$(GO) bash test/envtest/assets.sh)

.PHONY: build run test unit e2e envtest test-deps fmt-check tidy-check vet lint bench testdata manifests clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kfgate

run: build
	$(BIN) serve --source file:examples/ --xds-address $(XDS_ADDR) --diagnostics-address $(DIAG_ADDR)

test: fmt-check tidy-check vet lint unit

unit: envtest test-deps $(KUSTOMIZE)
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KFGATE_KUSTOMIZE="$(KUSTOMIZE)" $(GO) test -race -count=1 -timeout 20m ./...

# The end-to-end suite alone (test/e2e; `unit` runs it too, as part of ./...): the kfgate binary,
# envtest, oidc-provider, Chromium and the Envoy stand-in, or a real Envoy with KFGATE_ENVOY_BIN set.
e2e: envtest test-deps
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -race -count=1 -timeout 10m ./test/e2e/

envtest:
	@GO=$(GO) bash test/envtest/assets.sh >/dev/null

# The real components the tests run: oidc-provider (npm ci), redis-server and chromium (apt).
test-deps:
	@bash test/oidcprovider/install.sh
	@bash test/apt-install.sh redis-server redis-server
	@bash test/apt-install.sh chromium chromium

tidy-check:
	$(GO) mod tidy -diff

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(GOLANGCI):
	mkdir -p $(dir $(GOLANGCI))
	GOBIN=$(dir $(GOLANGCI)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv $(dir $(GOLANGCI))/golangci-lint $(GOLANGCI)

$(KUSTOMIZE):
	mkdir -p $(dir $(KUSTOMIZE))
	GOBIN=$(dir $(KUSTOMIZE)) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(dir $(KUSTOMIZE))/kustomize $(KUSTOMIZE)

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

bench: envtest test-deps
	GOMAXPROCS=2 $(GO) test -run '^$$' -bench . -benchmem -count 5 $$($(GO) list ./gateway/... | grep -v /source/kube) | tee bench.out
	GOMAXPROCS=2 $(GO) test -run '^$$' -bench . -benchmem -count 5 ./authn/ | tee -a bench.out
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" GOMAXPROCS=2 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./gateway/source/kube/ | tee -a bench.out

testdata:
	$(GO) test ./gateway/build -run TestGolden -update
	$(GO) test ./kubeflow -run TestGolden -update
	$(GO) test ./authn -run TestRespondGolden -update

# manifests/*.yaml, rendered from kustomize/ (test/install fails when they are stale).
manifests: $(KUSTOMIZE)
	{ echo '# Rendered by `make manifests` from kustomize/overlays/standalone: do not edit.'; \
	  $(KUSTOMIZE) build kustomize/overlays/standalone; } > manifests/install.yaml.tmp
	mv manifests/install.yaml.tmp manifests/install.yaml
	{ echo '# Rendered by `make manifests` from kustomize/overlays/kubeflow: do not edit.'; \
	  $(KUSTOMIZE) build kustomize/overlays/kubeflow; } > manifests/kubeflow.yaml.tmp
	mv manifests/kubeflow.yaml.tmp manifests/kubeflow.yaml

clean:
	rm -rf bin bench.out
