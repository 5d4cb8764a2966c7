# faxbridge — the README's two commands.
#   make run    install dependencies, build Release into build/, serve on the embedded default config
#   make test   install dependencies, build, run every test (Release + sanitizer/fuzz build)
JOBS ?= $(shell nproc)
# The Release suite's end-to-end tests mostly wait for faxes sent in real time: twice as many run
# at once as there are cores.
TEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run test test-release test-asan bench soak format clean deb

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build -j $(JOBS)

build-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFB_SANITIZE=ON \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)

run: build
	./build/bin/faxbridge serve

# The Debian package (docs/install.md): build/deb/faxbridge_<version>_<arch>.deb
deb: build
	scripts/make-deb build build/deb

test-asan: build-asan
	ctest --test-dir build-asan --output-on-failure -j $(JOBS)

test-release: build
	ctest --test-dir build --output-on-failure -j $(TEST_JOBS)

# The sanitizer suite first, so the last lines printed are the Release suite's CTest summary.
test: build build-asan
	ctest --test-dir build-asan --output-on-failure -j $(JOBS)
	ctest --test-dir build --output-on-failure -j $(TEST_JOBS)

# The soak of issue 6 at full size: 1000 fax mails with mixed outcomes (make test runs 100).
soak: build
	cd tests/app && SOAK_MESSAGES=1000 FAXBRIDGE=$(CURDIR)/build/bin/faxbridge python3 -m unittest -v soak_test

bench: build
	build/bin/g711_loss
	bench/convert/run
	bench/smtp/run
	bench/cluster/run
	bench/ocr/run
	bench/calls/run --media t38 --n 50,200,500,1000
	bench/calls/run --media g711 --n 50,200,500
	bench/calls/run --media t38 --busy --n 500,1000
	bench/calls/run --media g711 --busy --n 200,500

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build build-asan
