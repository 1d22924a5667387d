# dmstack: two commands for a new user (see README.md):
#   make demo   install what is missing, build, and run dmstack on the bundled examples
#   make test   install what is missing, build, and run the whole test suite
SWIFT ?= swift
BIN = .build/debug/dmstack

.PHONY: all build setup setup-test demo test test-unit bench docs check-docs clean

all: build

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

build: setup
	@$(SWIFT) build -q

demo: build
	@scripts/demo.sh $(BIN)

test: setup-test
	@$(SWIFT) build -q
	@$(SWIFT) test

bench: setup-test
	@$(SWIFT) build -q -c release --product dmstack-bench
	@.build/release/dmstack-bench | tee BENCHMARKS.md.new && mv BENCHMARKS.md.new BENCHMARKS.md

# Regenerate the man page and the shell completions from the CLI (committed; a test checks them).
docs: build
	@scripts/gen-docs.sh $(BIN)

clean:
	@rm -rf .build
