# A thin layer over CMake. The two commands a newcomer needs:
#   make run    install what is missing, build, create the demo campus, start yktd
#   make test   install what is missing, build with sanitizers, run the whole suite
# Other targets: make build, make format, make clean.

BUILD_DIR ?= build/release
TEST_DIR  ?= build/test
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test build deps test-build format clean

deps:
	@tools/scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYKT_TESTS=OFF >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@tools/scripts/run-demo.sh $(BUILD_DIR)

test-build: deps
	@tools/scripts/web-deps.sh
	cmake -S . -B $(TEST_DIR) -DCMAKE_BUILD_TYPE=Debug -DYKT_ASAN=ON -DYKT_UBSAN=ON >/dev/null
	cmake --build $(TEST_DIR) -j $(JOBS)

test: test-build
	cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
