# The two commands of the README.  Each installs the Debian packages it needs first.
#   make demo   - build, start the demo service, send it SIGUSR2, print its report, stop it
#   make demo-coro - the same with a coroutine scheduler: its Green Threads section
#   make check  - build and run every test
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps check-deps build demo demo-coro check install clean

all: build

deps:
	@./scripts/install-deps.sh build

check-deps:
	@./scripts/install-deps.sh check

$(BUILD)/build.ninja:
	@./scripts/install-deps.sh build
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	./scripts/demo.sh $(BUILD) demo-service 'handled$$' --config-file examples/demo-service.conf

demo-coro: build
	./scripts/demo.sh $(BUILD) coro-scheduler 'Green Thread #5'

check: check-deps build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD)
