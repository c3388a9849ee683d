# Porthole — build, test, demo, install.
#
#   make            build every binary into build/bin/
#   make demo       the main job, end to end
#   make test       everything CI runs (vet, staticcheck, go test as root and as an
#                   unprivileged user where tests ask for it)
#   make deps       install the Debian packages the build and the tests need
#   make bench      benchmarks, side by side with the reference tools
#   make fuzz       every fuzzer for FUZZTIME each
#   make install    PREFIX=/usr/local DESTDIR= honoured

GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR   ?= $(PREFIX)/share
FUZZTIME  ?= 15s
BUILD     := build/bin
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

# Debian packages the build and the tests use.
DEB_PACKAGES := \
	build-essential pkg-config libseccomp-dev zlib1g-dev libgtk-3-dev \
	ostree gir1.2-ostree-1.0 flatpak gnupg \
	dbus dbus-daemon libglib2.0-bin python3 python3-gi gir1.2-glib-2.0 \
	xdg-dbus-proxy bubblewrap fuse3 bindfs attr util-linux iproute2 \
	xdg-desktop-portal xdg-desktop-portal-gtk gir1.2-xdp-1.0 \
	python3-dbusmock python3-pytest xvfb xauth x11-utils xdotool desktop-file-utils \
	debootstrap hyperfine

# The unprivileged user that sandbox and FUSE tests run as (internal/testenv).
TEST_USER := porthole-test
TEST_UID  := 4242

# Binaries: every cmd/ directory. porthole-init must stay pure Go (it is the
# re-exec'd sandbox stage), and so must porthole-dbus-proxy (`porthole
# dbus-proxy` execs it before its own runtime starts, to start fast);
# services are linked dynamically (external test harnesses run ldd on them).
# porthole itself is linked statically (cgo: libseccomp, zlib): without the
# dynamic loader `porthole dbus-proxy` is ready sooner than xdg-dbus-proxy.
# Its user and host lookups still go through the system's NSS modules, as
# glibc's link warnings say (shown only if the build fails).
COMMANDS     := $(notdir $(wildcard cmd/*))
STATIC_CMDS  := porthole-init porthole-dbus-proxy
BINARIES     := $(addprefix $(BUILD)/,$(COMMANDS))

.PHONY: all build test vet staticcheck gotest demo deps deps-check bench fuzz install clean

all: build

build: $(BINARIES)

$(BUILD)/%: FORCE
	@mkdir -p $(BUILD)
	@if echo " $(STATIC_CMDS) " | grep -q " $* "; then \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*; \
	elif [ "$*" = porthole ]; then \
		out=$$(CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS) -linkmode=external -extldflags=-static' -o $@ ./cmd/$* 2>&1) || { printf '%s\n' "$$out" >&2; exit 1; }; \
	else \
		CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS) -linkmode=external' -o $@ ./cmd/$*; \
	fi

FORCE:

# deps-check installs the packages only when one of them is missing, so
# `make test` and `make demo` work on a fresh machine and cost nothing after.
deps-check:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; done; \
	if [ -n "$$(echo $$missing)" ]; then echo "missing packages:$$missing"; $(MAKE) deps; fi
	@id -u $(TEST_USER) >/dev/null 2>&1 || $(MAKE) --no-print-directory test-user

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)"; exit 1; fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)
	@$(MAKE) --no-print-directory test-user

test-user:
	@if [ "$$(id -u)" = 0 ] && ! id -u $(TEST_USER) >/dev/null 2>&1; then \
		groupadd -g $(TEST_UID) $(TEST_USER) 2>/dev/null || true; \
		useradd -u $(TEST_UID) -g $(TEST_UID) -m -d /home/$(TEST_USER) -s /bin/sh $(TEST_USER); \
	fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

gotest: build
	@PORTHOLE_BIN=$(CURDIR)/$(BUILD) ./tests/tools/gotest.sh ./...

test: deps-check vet staticcheck gotest

demo: deps-check build
	@PATH=$(CURDIR)/$(BUILD):$$PATH ./data/demo/demo.sh

bench: deps-check build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	@for s in bench/*.sh; do [ -x "$$s" ] || continue; echo "== $$s"; PORTHOLE_BIN=$(CURDIR)/$(BUILD) "$$s" || exit 1; done

fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r dir; do \
		for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$dir $$f ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$dir || exit 1; \
		done; \
	done

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BUILD)/porthole $(DESTDIR)$(BINDIR)/porthole
	@for b in $(filter-out porthole,$(COMMANDS)); do \
		install -m 0755 $(BUILD)/$$b $(DESTDIR)$(LIBEXECDIR)/$$b; \
	done
	@if [ -d data/dbus-1/services ]; then \
		install -d $(DESTDIR)$(DATADIR)/dbus-1/services; \
		for f in data/dbus-1/services/*.service; do \
			sed -e 's|@libexecdir@|$(LIBEXECDIR)|g' -e 's|@bindir@|$(BINDIR)|g' $$f > $(DESTDIR)$(DATADIR)/dbus-1/services/$$(basename $$f); \
		done; \
	fi
	@if [ -d data/dbus-interfaces ]; then \
		install -d $(DESTDIR)$(DATADIR)/dbus-1/interfaces; \
		install -m 0644 data/dbus-interfaces/*.xml $(DESTDIR)$(DATADIR)/dbus-1/interfaces/; \
	fi
	@if [ -d data/portals ]; then \
		install -d $(DESTDIR)$(DATADIR)/xdg-desktop-portal/portals; \
		install -m 0644 data/portals/*.portal $(DESTDIR)$(DATADIR)/xdg-desktop-portal/portals/ 2>/dev/null || true; \
		[ -f data/portals/porthole-portals.conf ] && install -m 0644 data/portals/porthole-portals.conf $(DESTDIR)$(DATADIR)/xdg-desktop-portal/ || true; \
	fi

clean:
	rm -rf build
