GO ?= go
PREFIX ?= /usr/local
# systemd searches $(PREFIX)/lib/systemd for units and generators when PREFIX is /usr or /usr/local.
SYSTEMDDIR ?= $(PREFIX)/lib/systemd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/berth-project/berth/internal/engine.Version=$(VERSION)
# The monitor is C run before the Go runtime (see cmd/berth-monitor); static, it needs ~1.4 MB RSS.
MONITOR_LDFLAGS := -s -w -linkmode external -extldflags -static

.PHONY: all berth install deps demo test unit e2e fuzz completions bench clean

all: berth

berth:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/berth ./cmd/berth
	@[ ! -d cmd/berth-monitor ] || $(GO) build -trimpath -ldflags "$(MONITOR_LDFLAGS)" -o bin/berth-monitor ./cmd/berth-monitor
	ln -sf berth bin/berth-runtime

install: berth
	install -D -m 0755 bin/berth $(DESTDIR)$(PREFIX)/bin/berth
	@[ ! -f bin/berth-monitor ] || install -D -m 0755 bin/berth-monitor $(DESTDIR)$(PREFIX)/libexec/berth/berth-monitor
	ln -sf berth $(DESTDIR)$(PREFIX)/bin/berth-runtime
	# berth-restart.service brings --restart always/unless-stopped containers back at boot; the
	# generators turn Quadlet files into units (berth is the generator, by the name it is run as).
	install -d $(DESTDIR)$(SYSTEMDDIR)/system $(DESTDIR)$(SYSTEMDDIR)/user \
		$(DESTDIR)$(SYSTEMDDIR)/system-generators $(DESTDIR)$(SYSTEMDDIR)/user-generators
	for d in system user; do \
		sed 's|@@BERTH@@|$(PREFIX)/bin/berth|g' contrib/systemd/berth-restart.service > $(DESTDIR)$(SYSTEMDDIR)/$$d/berth-restart.service; \
		sed 's|@@BERTH@@|$(PREFIX)/bin/berth|g' contrib/systemd/berth.service > $(DESTDIR)$(SYSTEMDDIR)/$$d/berth.service; \
	done
	ln -sf $(PREFIX)/bin/berth $(DESTDIR)$(SYSTEMDDIR)/system-generators/berth-system-generator
	ln -sf $(PREFIX)/bin/berth $(DESTDIR)$(SYSTEMDDIR)/user-generators/berth-user-generator
	# berth.socket starts berth.service (the Docker Engine API) on the first connection.
	sed 's|@@MODE@@|0660|' contrib/systemd/berth.socket > $(DESTDIR)$(SYSTEMDDIR)/system/berth.socket
	sed 's|@@MODE@@|0600|' contrib/systemd/berth.socket > $(DESTDIR)$(SYSTEMDDIR)/user/berth.socket

# deps installs what builds and tests need on a fresh Debian machine.
deps:
	./hack/install-deps.sh

# demo is the main job end to end: build a small busybox image locally and use it.
demo: deps berth
	./hack/demo.sh

# test runs every test: unit tests anywhere, end-to-end tests as root on Linux.
test: deps berth
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	$(MAKE) fuzz

# fuzz runs every fuzz target of a parser of untrusted input briefly (FUZZTIME each), so CI
# keeps them alive; a finding fails the run and leaves its input under testdata/fuzz/.
FUZZTIME ?= 3s
FUZZ_TARGETS := ./libimage/archive:FuzzUnpack ./build:FuzzParse ./libimage:FuzzParseReference \
	./libnet:FuzzParsePorts ./internal/engine:FuzzParseSecurityOpt ./internal/engine:FuzzParseDevice \
	./internal/engine:FuzzValidateSeccompProfile ./internal/events:FuzzParseBound ./internal/events:FuzzReadSegment
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests)

completions: berth
	./bin/berth completion bash > completions/berth.bash
	./bin/berth completion zsh > completions/_berth
	./bin/berth completion fish > completions/berth.fish

bench: deps berth
	./hack/bench.sh

clean:
	rm -rf bin
