# dmstack: two commands for a new user (see README.md):
#   make demo   install what is missing, build, and run dmstack on the bundled examples
#   make test   install what is missing, build, and run the whole test suite
SWIFT ?= swift
BIN = .build/debug/dmstack
STATIC = .build-static/release/dmstack

.PHONY: all build setup setup-test demo test test-vm static bench docs examples clean \
        install uninstall deb test-package

all: build

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

build: setup
	@$(SWIFT) build -q

demo: build
	@scripts/demo.sh $(BIN)

# The host suite (pure model, CLI, and root-only tests on loop devices) and, side by side with
# it, the static build and the VM lanes (scripts/test.sh; DMSTACK_TEST_SERIAL=1: one after the
# other). One host test at a time: live suites create loop devices another suite's capture sees.
test: setup-test
	@$(SWIFT) build -q --build-tests
	@SWIFT=$(SWIFT) MAKE=$(MAKE) scripts/test.sh

# Real device-mapper and pmem (Tests/VM/lanes.sh): two lanes side by side take the live suites
# from one queue (Debian's 6.1); lane A ends with the 6.1 kernel-behaviour pass, lane B begins
# with the 6.12 one.
test-vm: setup-test
	@$(SWIFT) build -q --build-tests
	@$(MAKE) -s static
	@DMSTACK_VM_BIN=$(CURDIR)/$(STATIC) Tests/VM/lanes.sh

# The monitor soak, longer (Tests/LiveTests/VMSoakTests.swift; make test runs it at scale 10):
# SOAK_SCALE (default 30) times its 1,000 uevents, 180 bad blocks and 2 registered leaves
# removed, in one VM boot; it prints its `soak:` figures (uevents/s, VmRSS, heap, descriptors,
# events).
SOAK_SCALE ?= 30
.PHONY: soak
soak: setup-test
	@$(SWIFT) build -q --build-tests
	@$(MAKE) -s static
	@DMSTACK_SOAK_SCALE=$(SOAK_SCALE) DMSTACK_VM_BIN=$(CURDIR)/$(STATIC) Tests/VM/run.sh VMSoakTests

# The CLI as it would ship: release, Swift runtime linked in (the VM suite and `make bench`
# run it: in the guest it starts 5x faster than the debug build).
static:
	@mkdir -p .build-static
	@$(SWIFT) build -q -c release --static-swift-stdlib --product dmstack --scratch-path .build-static \
	    2> .build-static/build.log || { cat .build-static/build.log >&2; exit 1; }

# BENCHMARKS.md: ratios against a baseline or peer measured in the same run (boots the VM).
bench:
	@scripts/setup.sh bench
	@scripts/bench.sh

# Regenerate the man page and the shell completions from the CLI (committed; a test checks them).
docs: build
	@scripts/gen-docs.sh $(BIN)

clean:
	@rm -rf .build
# Rebuild the example snapshots (boots the test VM; as root).
examples: setup-test
	@$(SWIFT) build -q
	@examples/capture.sh

# Install the static release build with its man page, completions, systemd unit (not enabled)
# and configuration (kept if one exists) under PREFIX; DESTDIR stages it. The directories
# (BINDIR, MANDIR, BASHCOMPDIR, ZSHCOMPDIR, FISHCOMPDIR, UNITDIR, SYSCONFDIR, DOCDIR) can be
# set one by one: scripts/install.sh lists them.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_ENV = PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) $(foreach v,BINDIR MANDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR UNITDIR SYSCONFDIR DOCDIR,$(if $($(v)),$(v)=$($(v))))
# Under sudo, root may have no Swift on its PATH: then the binary `make static` built is used.
install:
	@if command -v $(SWIFT) >/dev/null 2>&1; then $(MAKE) -s static; fi
	@$(INSTALL_ENV) scripts/install.sh install $(STATIC)

# Everything install put there but /etc/dmstack/config.yaml.
uninstall:
	@$(INSTALL_ENV) scripts/install.sh uninstall

# The Debian package, .build-deb/dmstack_VERSION_ARCH.deb, from a staged `make install`
# (dpkg-deb; packaging/debian/README.md says why), checked by lintian.
DEB_DIR = .build-deb
deb:
	@if command -v $(SWIFT) >/dev/null 2>&1; then $(MAKE) -s static; fi
	@scripts/setup.sh package
	@scripts/make-deb.sh $(STATIC) $(DEB_DIR)

# make install into a DESTDIR, then the package into a clean Debian bookworm root
# (debootstrap; as root, network to the mirror). Not part of `make test`: README.md says why.
test-package: deb
	@scripts/test-package.sh $(STATIC) $$(ls -t $(DEB_DIR)/dmstack_*.deb | head -n 1)

# libFuzzer harnesses for every input dmstack reads (scripts/fuzz.sh; not part of `make test`):
# each runs FUZZ_SECONDS (default 60) from its seed corpus under Tests/Fuzz/<target>/ and
# prints its executions and coverage; a crash is kept under .build-fuzz/crashes/ and fails.
# FUZZ_TARGETS picks some (scripts/fuzz.sh list names them all).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz: setup
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh run $(FUZZ_TARGETS)
