# robustify-nb: every job starts from `make env`, which creates (once) and reuses a pinned environment.
SHELL := /bin/bash
PYTHON ?= python3
ENV_ROOT ?= $(or $(ROBUSTIFY_ENV_ROOT),$(HOME)/.cache/robustify-nb/envs)
ENV_KEY := $(shell cat requirements.txt | sha256sum | cut -c1-16)
ENV_DIR := $(ENV_ROOT)/$(ENV_KEY)
BIN := .venv/bin
export PYTHONUNBUFFERED := 1

.PHONY: env browsers magick demo test check nbtest pytest lab docs readme bench bench-course pretrain clean lock help
help:
	@echo "make demo | test | lab | docs | bench | bench-course | pretrain | readme | check | browsers | magick | lock | clean"

# The environment: a virtualenv keyed on the hash of requirements.txt, outside the clone, linked as .venv.
# The stamp has no prerequisite on purpose: the directory name already encodes requirements.txt's content, and a
# fresh clone's requirements.txt is always newer than the stamp (an mtime rule would rebuild a good cached env).
$(ENV_DIR)/.complete:
	@echo "creating the environment in $(ENV_DIR) (first run only; a few minutes)"
	@rm -rf "$(ENV_DIR)"; mkdir -p "$(ENV_ROOT)"
	$(PYTHON) -m venv "$(ENV_DIR)"
	"$(ENV_DIR)/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
	touch "$@"

env: $(ENV_DIR)/.complete
	@ln -sfn "$(ENV_DIR)" .venv
	@# pip run by the environment's own python, so the `robustify` script's shebang names the shared environment, not this clone
	@"$(ENV_DIR)/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . >/dev/null
	@$(BIN)/python -c "import robustify_nb, torch, torchvision; print('environment ready:', '$(ENV_DIR)', 'torch', torch.__version__)"

demo: env
	$(BIN)/robustify demo --out demo_out $(if $(filter 1 true yes,$(FULL)),--full)

# Notebooks clean and the library in sync with them: nbdev-clean, nbdev-export and the README generator must change
# nothing (they are run, and any file they changed is reported; the fixed files are left in the tree to commit).
SNAPSHOT = find nbs robustify_nb README.md -type f \( -name '*.ipynb' -o -name '*.py' -o -name '*.md' \) -not -path '*/.ipynb_checkpoints/*' | sort | xargs md5sum
check: env
	@$(SNAPSHOT) > .check-before
	@$(BIN)/nbdev-clean
	@$(BIN)/nbdev-export
	@$(BIN)/python docs/nbdocs.py readme
	@$(SNAPSHOT) > .check-after
	@if ! diff -q .check-before .check-after >/dev/null; then \
	  echo "notebooks not clean, library out of sync with nbs/, or README.md stale; these files changed (fixed now, commit them):"; \
	  diff .check-before .check-after | grep '^>' | awk '{print "  " $$3}'; rm -f .check-before .check-after; exit 1; fi
	@rm -f .check-before .check-after
	@echo "notebooks clean, library and README in sync"

nbtest: env
	cd nbs && ../$(BIN)/nbdev-test --n-workers 1 --do-print

pytest: env browsers magick
	$(BIN)/python -m pytest -q tests

# The browser tests drive Debian's chromium with playwright (playwright's own browser download does not work offline).
# Installed here when missing; needs root (CI runs as root), otherwise it says what to install.
browsers:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

# The fidelity tests of the `cifar` preset run Hendrycks' original CIFAR-10-C generator, whose motion blur and snow call
# ImageMagick through Wand (pinned in requirements.txt): Debian's libmagickwand, installed here when missing (as root).
magick:
	@ldconfig -p | grep -q libMagickWand || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's libmagickwand for the CIFAR-10-C fidelity tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmagickwand-dev >/dev/null; \
	  else echo "the CIFAR-10-C fidelity tests need ImageMagick's MagickWand: sudo apt-get install libmagickwand-dev"; exit 1; fi; }

test: check nbtest pytest

lab: env
	$(if $(filter 1 true yes,$(FULL)),ROBUSTIFY_FULL=1) $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) nbs

readme: env
	$(BIN)/python docs/nbdocs.py readme

docs: env
	$(BIN)/python docs/nbdocs.py site

bench: env browsers
	$(BIN)/python -m pytest -q -m slow tests -p no:cacheprovider -s

# The course in the browser, as a student meets it (chromium needed): bench_out/course/course_browser.{json,md}; ONLY="10 11" for some chapters.
bench-course: env browsers
	$(BIN)/python tests/bench_course_browser.py --out bench_out/course $(if $(ONLY),--only $(ONLY))

pretrain: env
	$(BIN)/robustify pretrain student

# Regenerate requirements.txt from the current environment (after changing a pin in pyproject.toml).
lock: env
	@{ head -2 requirements.txt; $(BIN)/python -m pip freeze --exclude-editable --all | grep -v '^pip==' | sort -f; } > requirements.txt.new && mv requirements.txt.new requirements.txt

clean:
	rm -rf demo_out docs/_build docs/_src _proc _docs
